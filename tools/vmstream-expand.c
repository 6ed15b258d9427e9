/* vmstream-expand: turns a pipelines/NAME.txt template into one gst-launch
 * description, with the same code as the supervisor (common/vmstemplate.c).
 *
 *   vmstream-expand pipelines/demo-local.txt SESSION_ID=demo
 *       prints the description on one line, for gst_parse_launch() and for
 *   gst-launch-1.0 $(vmstream-expand pipelines/demo-local.txt)
 *       (unquoted: the shell splits words but keeps the quote characters,
 *       which gst-launch-1.0 needs, e.g. token="")
 *   vmstream-expand --shell FILE   shell-quoted words to paste after
 *                                  "gst-launch-1.0 " by hand
 *   vmstream-expand --run FILE     execs gst-launch-1.0 -e with the words
 *   vmstream-expand --list FILE    the variables and their values
 *
 * Values come from, first wins: NAME=value arguments, the environment
 * (unless --no-env), the file's "#:NAME=value" defaults. A variable without
 * a value is an error. Exit status: 0 ok, 2 usage error or a template that
 * cannot be expanded (message on stderr, prefixed "vmstream-expand: "). */
#include "vmstemplate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef enum { MODE_RAW, MODE_SHELL, MODE_RUN, MODE_LIST } Mode;

static G_GNUC_NORETURN void
fail (const gchar *msg)
{
  g_printerr ("vmstream-expand: %s\n", msg);
  exit (2);
}

static G_GNUC_NORETURN void
usage (const gchar *msg)
{
  if (msg)
    g_printerr ("vmstream-expand: %s\n", msg);
  g_printerr ("usage: vmstream-expand [--raw|--shell|--run|--list] [--no-env] "
              "FILE [NAME=VALUE ...]\n");
  exit (2);
}

/* A word the shell reads as itself: no quoting needed. */
static gboolean
is_safe_word (const gchar *w)
{
  if (*w == '\0')
    return FALSE;
  for (; *w; w++) {
    if (!g_ascii_isalnum (*w) && !strchr ("_@%+=:,./-", *w))
      return FALSE;
  }
  return TRUE;
}

static GHashTable *
environment_table (void)
{
  GHashTable *t
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) env = g_get_environ ();

  for (gchar **e = env; *e; e++) {
    const gchar *eq = strchr (*e, '=');
    if (eq)
      g_hash_table_replace (t, g_strndup (*e, eq - *e), g_strdup (eq + 1));
  }
  return t;
}

static gchar *
expand_or_fail (const gchar *text, GHashTable **layers, const gchar *path)
{
  g_autoptr (GError) err = NULL;
  gchar *out = vms_template_expand (text, layers, &err);

  if (out == NULL) {
    g_autofree gchar *msg = g_strdup_printf ("%s: %s", path, err->message);
    fail (msg);
  }
  return out;
}

static gboolean
has_value (GHashTable **layers, const gchar *name)
{
  for (GHashTable **l = layers; *l; l++) {
    if (g_hash_table_contains (*l, name))
      return TRUE;
  }
  return FALSE;
}

static void
print_list (VmsTemplate *t, GHashTable **layers, const gchar *path)
{
  g_autoptr (GPtrArray) names = vms_template_variables (t);

  for (guint i = 0; i < names->len; i++) {
    const gchar *n = g_ptr_array_index (names, i);
    g_autofree gchar *ref = g_strdup_printf ("${%s}", n);
    g_autofree gchar *v = has_value (layers, n)
                              ? expand_or_fail (ref, layers, path)
                              : g_strdup ("<required>");
    g_print ("%s=%s\n", n, v);
  }
}

static void
print_shell (gchar **words)
{
  GString *out = g_string_new (NULL);

  for (gchar **w = words; *w; w++) {
    if (out->len)
      g_string_append_c (out, ' ');
    if (g_str_equal (*w, "!") || is_safe_word (*w)) {
      g_string_append (out, *w);
    } else {
      g_autofree gchar *q = g_shell_quote (*w);
      g_string_append (out, q);
    }
  }
  g_print ("%s\n", out->str);
  g_string_free (out, TRUE);
}

static G_GNUC_NORETURN void
run (gchar **words)
{
  guint n = g_strv_length (words);
  gchar **argv = g_new0 (gchar *, n + 3);

  argv[0] = (gchar *)"gst-launch-1.0";
  argv[1] = (gchar *)"-e";
  memcpy (argv + 2, words, n * sizeof (gchar *));
  fflush (stdout);
  execvp (argv[0], argv);
  {
    g_autofree gchar *msg
        = g_strdup_printf ("cannot run gst-launch-1.0: %s", g_strerror (errno));
    fail (msg);
  }
}

int
main (int argc, char **argv)
{
  Mode mode = MODE_RAW;
  gboolean use_env = TRUE;
  const gchar *path = NULL;
  g_autoptr (GHashTable) overrides = NULL;
  g_autoptr (GHashTable) env = NULL;
  g_autoptr (GError) err = NULL;
  VmsTemplate *t;
  GHashTable *layers[4];
  guint nl = 0;

  overrides = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int i = 1; i < argc; i++) {
    const gchar *a = argv[i];
    if (g_str_equal (a, "--run"))
      mode = MODE_RUN;
    else if (g_str_equal (a, "--raw"))
      mode = MODE_RAW;
    else if (g_str_equal (a, "--shell"))
      mode = MODE_SHELL;
    else if (g_str_equal (a, "--list"))
      mode = MODE_LIST;
    else if (g_str_equal (a, "--no-env"))
      use_env = FALSE;
    else if (g_str_equal (a, "-h") || g_str_equal (a, "--help"))
      usage (NULL);
    else if (path == NULL)
      path = a;
    else {
      const gchar *eq = strchr (a, '=');
      if (eq == NULL) {
        g_autofree gchar *msg
            = g_strdup_printf ("argument \"%s\" is not NAME=value", a);
        usage (msg);
      }
      g_hash_table_replace (overrides, g_strndup (a, eq - a),
                            g_strdup (eq + 1));
    }
  }
  if (path == NULL)
    usage ("no template file given");
  t = vms_template_load_file (path, &err);
  if (t == NULL)
    fail (err->message);

  layers[nl++] = overrides;
  if (use_env)
    layers[nl++] = env = environment_table ();
  layers[nl++] = t->defaults;
  layers[nl] = NULL;

  if (mode == MODE_LIST) {
    print_list (t, layers, path);
  } else {
    g_autofree gchar *line = expand_or_fail (t->body, layers, path);
    g_auto (GStrv) words = NULL;
    if (mode == MODE_RAW) {
      g_print ("%s\n", line);
    } else {
      words = vms_template_split_words (line);
      if (mode == MODE_RUN)
        run (words);
      print_shell (words);
    }
  }
  vms_template_free (t);
  return 0;
}
