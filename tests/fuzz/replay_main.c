/* Without libFuzzer (gcc builds): run a fuzz target over every file given on
 * the command line or found in the given directories, so the corpus is a
 * regression test in every sanitizer build. */
#include <glib.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

static guint
run_path (const gchar *path)
{
  guint n = 0;

  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    GDir *d = g_dir_open (path, 0, NULL);
    const gchar *name;
    while (d && (name = g_dir_read_name (d)) != NULL) {
      gchar *p = g_build_filename (path, name, NULL);
      n += run_path (p);
      g_free (p);
    }
    if (d)
      g_dir_close (d);
  } else {
    gchar *data;
    gsize len;
    if (g_file_get_contents (path, &data, &len, NULL)) {
      LLVMFuzzerTestOneInput ((const guint8 *)data, len);
      g_free (data);
      n = 1;
    }
  }
  return n;
}

int
main (int argc, char **argv)
{
  guint n = 0;
  int i;

  LLVMFuzzerInitialize (&argc, &argv);
  for (i = 1; i < argc; i++)
    n += run_path (argv[i]);
  printf ("replayed %u inputs\n", n);
  return n > 0 ? 0 : 1;
}
