/* common/vmstemplate: the pipeline template format, as the supervisor and
 * the vmstream-expand command both read it.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <string.h>

#include "vmstemplate.h"

static gchar *
expand_with (const gchar *text, const gchar *const *kv, GError **error)
{
  g_autoptr (GHashTable) t = NULL;
  VmsTemplate *tpl = vms_template_parse (text, "test.txt", error);
  GHashTable *layers[3];
  gchar *out;

  if (tpl == NULL)
    return NULL;
  t = g_hash_table_new (g_str_hash, g_str_equal);
  for (; kv && kv[0]; kv += 2)
    g_hash_table_insert (t, (gpointer)kv[0], (gpointer)kv[1]);
  layers[0] = t;
  layers[1] = tpl->defaults;
  layers[2] = NULL;
  out = vms_template_expand (tpl->body, layers, error);
  vms_template_free (tpl);
  return out;
}

static void
test_defaults_comments_and_joining (void)
{
  g_autoptr (GError) err = NULL;
  const gchar *text = "# comment\n"
                      "#:A=1\n"
                      "#:B = ${A}2 \n"
                      "  videotestsrc num-buffers=${B}\n"
                      "\n"
                      "  ! fakesink   name=${C}\n";
  const gchar *kv[] = { "C", "sink", NULL };
  g_autofree gchar *out = expand_with (text, kv, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (out, ==,
                   "videotestsrc num-buffers=12 ! fakesink   name=sink");
}

static void
test_first_layer_wins (void)
{
  g_autoptr (GError) err = NULL;
  const gchar *kv[] = { "A", "given", NULL };
  g_autofree gchar *out = expand_with ("#:A=default\nx=${A}\n", kv, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (out, ==, "x=given");
}

static void
test_missing_variable_is_named (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *out = expand_with ("x=${NOPE}\n", NULL, &err);

  g_assert_null (out);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "${NOPE}"));
  g_assert_nonnull (strstr (err->message, "has no value"));
}

static void
test_loop_is_an_error (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *out
      = expand_with ("#:A=${B}\n#:B=${A}\nx=${A}\n", NULL, &err);

  g_assert_null (out);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err->message, "loop"));
}

static void
test_not_a_variable_is_kept (void)
{
  g_autoptr (GError) err = NULL;
  g_autofree gchar *out = expand_with ("a=${1x} b=${ c=$X d=${\n", NULL, &err);

  g_assert_no_error (err);
  g_assert_cmpstr (out, ==, "a=${1x} b=${ c=$X d=${");
}

static void
test_bad_default_line (void)
{
  g_autoptr (GError) err = NULL;
  VmsTemplate *t = vms_template_parse ("#:1BAD=x\nfakesrc\n", "t.txt", &err);

  g_assert_null (t);
  g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_nonnull (strstr (err->message, "t.txt"));
}

static void
test_variables_in_order (void)
{
  VmsTemplate *t = vms_template_parse (
      "#:B=1\n#:A=${Z}\nx=${C} y=${A} z=${C}\n", "t", NULL);
  g_autoptr (GPtrArray) names = vms_template_variables (t);

  g_assert_cmpuint (names->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "B");
  g_assert_cmpstr (g_ptr_array_index (names, 1), ==, "A");
  g_assert_cmpstr (g_ptr_array_index (names, 2), ==, "C");
  vms_template_free (t);
}

static void
test_split_words (void)
{
  g_auto (GStrv) w = vms_template_split_words (
      "  src  token=\"\" name=\"a b\" caps=\"x, s=(string)\\\"q r\\\"\" ! "
      "sink\t\"x y\"z ");
  const gchar *want[] = {
    "src", "token=\"\"", "name=\"a b\"", "caps=\"x, s=(string)\\\"q r\\\"\"",
    "!",   "sink",       "\"x y\"z",     NULL
  };

  g_assert_cmpstrv (w, want);
}

static void
test_names (void)
{
  g_assert_true (vms_template_name_is_valid ("host-native"));
  g_assert_true (vms_template_name_is_valid ("a_b.c"));
  g_assert_false (vms_template_name_is_valid (""));
  g_assert_false (vms_template_name_is_valid (".hidden"));
  g_assert_false (vms_template_name_is_valid ("a..b"));
  g_assert_false (vms_template_name_is_valid ("a/b"));
  g_assert_false (vms_template_name_is_valid (NULL));
}

/* An operator's value inside the template's quotes cannot end them and add
 * pipeline syntax (an element writing files, say): refused, named. The same
 * value outside quotes is a fragment by design (PIPEWIRE_SOURCE_ARGS). */
static void
test_value_cannot_leave_quotes (void)
{
  const gchar *text = "src ! sink location=\"${A}\" name=${B}\n";
  /* each value of A, and the variable the error must name */
  const gchar *attacks[][2] = {
    { "a\" ! filesink location=/tmp/pwn name=\"b", "${A}" }, /* ends them */
    { "a\\", "${A}" },  /* escapes the closing quote */
    { "${C}", "${C}" }, /* through another value */
  };

  for (guint i = 0; i < G_N_ELEMENTS (attacks); i++) {
    g_autoptr (GError) err = NULL;
    const gchar *kv[] = { "A", attacks[i][0], "B", "s", "C", "x\" ! y", NULL };
    g_autofree gchar *out = expand_with (text, kv, &err);
    g_assert_null (out);
    g_assert_error (err, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (err->message, attacks[i][1]));
  }
  {
    /* outside quotes, a value may carry quoted words; an escaped quote in
     * the template is not an opening one; a quoted value is fine */
    g_autoptr (GError) err = NULL;
    const gchar *kv[] = { "A", "/tmp/a b", "B", "s caps=\"x, y\"", NULL };
    g_autofree gchar *out = expand_with (
        "src ! sink location=\"${A}\" name=${B} x=\\\"${B}\n", kv, &err);
    g_assert_no_error (err);
    g_assert_cmpstr (out, ==,
                     "src ! sink location=\"/tmp/a b\" name=s caps=\"x, "
                     "y\" x=\\\"s caps=\"x, y\"");
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/template/defaults-comments-joining",
                   test_defaults_comments_and_joining);
  g_test_add_func ("/template/first-layer-wins", test_first_layer_wins);
  g_test_add_func ("/template/missing-variable",
                   test_missing_variable_is_named);
  g_test_add_func ("/template/loop", test_loop_is_an_error);
  g_test_add_func ("/template/not-a-variable", test_not_a_variable_is_kept);
  g_test_add_func ("/template/bad-default-line", test_bad_default_line);
  g_test_add_func ("/template/variables-in-order", test_variables_in_order);
  g_test_add_func ("/template/split-words", test_split_words);
  g_test_add_func ("/template/names", test_names);
  g_test_add_func ("/template/value-cannot-leave-quotes",
                   test_value_cannot_leave_quotes);
  return g_test_run ();
}
