/* libFuzzer target: a pipeline template (pipelines/NAME.txt), as the
 * supervisor and vmstream-expand read it (common/vmstemplate.c): parsed,
 * expanded with its own defaults (which may refer to each other, loop or
 * be missing), its variables listed, and the result split into gst-launch
 * words. Checks that splitting the words joined by spaces again gives the
 * same words (the split is stable), on a 128 KiB stack like the rest.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "smallstack.h"
#include "vmstemplate.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

static void
check_words (const gchar *line)
{
  g_auto (GStrv) words = vms_template_split_words (line);
  g_autofree gchar *joined = g_strjoinv (" ", words);
  g_auto (GStrv) again = vms_template_split_words (joined);

  for (gchar **w = words; *w; w++)
    g_assert (**w != '\0');
  g_assert (g_strv_equal ((const gchar *const *)words,
                          (const gchar *const *)again));
}

static void
run (gpointer user_data)
{
  const gchar *text = user_data;
  GError *err = NULL;
  VmsTemplate *t = vms_template_parse (text, "fuzz.txt", &err);
  GHashTable *layers[2];
  gchar *out;
  GPtrArray *names;

  if (t == NULL) {
    g_assert (err != NULL);
    g_error_free (err);
    return;
  }
  names = vms_template_variables (t);
  g_ptr_array_unref (names);
  layers[0] = t->defaults;
  layers[1] = NULL;
  out = vms_template_expand (t->body, layers, &err);
  if (out == NULL) {
    g_assert (err != NULL);
    g_error_free (err);
  } else {
    check_words (out);
    g_free (out);
  }
  check_words (t->body);
  vms_template_free (t);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  /* a template is text: up to the first NUL, at most 64 KiB */
  gchar *text = g_strndup ((const gchar *)data, MIN (size, 65536));

  vms_fuzz_on_small_stack (run, text);
  g_free (text);
  return 0;
}
