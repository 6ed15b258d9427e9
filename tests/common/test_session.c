/* common/vmssession: the session process <-> supervisor protocol, written
 * by one side and read by the other with the same module.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <string.h>

#include "vmssession.h"

static void
test_exit_codes (void)
{
  g_assert_cmpint (VMS_SESSION_EXIT_OK, ==, 0);
  g_assert_cmpint (VMS_SESSION_EXIT_USAGE, ==, 2);
  g_assert_cmpint (VMS_SESSION_EXIT_PARSE, ==, 3);
  g_assert_cmpint (VMS_SESSION_EXIT_STATE, ==, 4);
  g_assert_cmpint (VMS_SESSION_EXIT_RUNTIME, ==, 5);
  /* only a pipeline that can never run is not restarted */
  g_assert_true (vms_session_exit_is_permanent (VMS_SESSION_EXIT_USAGE));
  g_assert_true (vms_session_exit_is_permanent (VMS_SESSION_EXIT_PARSE));
  g_assert_false (vms_session_exit_is_permanent (VMS_SESSION_EXIT_OK));
  g_assert_false (vms_session_exit_is_permanent (VMS_SESSION_EXIT_STATE));
  g_assert_false (vms_session_exit_is_permanent (VMS_SESSION_EXIT_RUNTIME));
  g_assert_false (vms_session_exit_is_permanent (-9));
}

static void
test_round_trip (void)
{
  const gchar *message = "src: \"quoted\"\nnew line, \\ and \xc3\xa9";
  g_autofree gchar *state = vms_status_line_state ("playing");
  g_autofree gchar *err = vms_status_line_message (VMS_STATUS_ERROR, message);
  g_autofree gchar *warn = vms_status_line_message (VMS_STATUS_WARNING, "w");
  g_autofree gchar *stats = vms_status_line_stats (
      G_GUINT64_CONSTANT (12345678901), 42, 29.971, -1, 7);
  g_auto (VmsStatus) st = { 0 };

  g_assert_cmpstr (state, ==, "{\"event\":\"state\",\"state\":\"playing\"}");
  g_assert_null (strchr (err, '\n')); /* one line */
  g_assert_true (vms_status_parse (state, -1, &st, NULL));
  g_assert_cmpint (st.kind, ==, VMS_STATUS_STATE);
  g_assert_cmpstr (st.text, ==, "playing");
  vms_status_clear (&st);
  g_assert_true (vms_status_parse (err, -1, &st, NULL));
  g_assert_cmpint (st.kind, ==, VMS_STATUS_ERROR);
  g_assert_cmpstr (st.text, ==, message);
  vms_status_clear (&st);
  g_assert_true (vms_status_parse (warn, -1, &st, NULL));
  g_assert_cmpint (st.kind, ==, VMS_STATUS_WARNING);
  vms_status_clear (&st);
  g_assert_cmpstr (stats, ==,
                   "{\"event\":\"stats\",\"frames\":12345678901,\"bytes\":42,"
                   "\"fps\":29.97,\"clients\":-1,\"input_events\":7}");
  g_assert_true (vms_status_parse (stats, -1, &st, NULL));
  g_assert_cmpint (st.kind, ==, VMS_STATUS_STATS);
  g_assert_cmpuint (st.frames, ==, G_GUINT64_CONSTANT (12345678901));
  g_assert_cmpuint (st.bytes, ==, 42);
  g_assert_cmpfloat_with_epsilon (st.fps, 29.97, 1e-9);
  g_assert_cmpint (st.clients, ==, -1);
  g_assert_cmpuint (st.input_events, ==, 7);
}

static void
test_refused (void)
{
  const gchar *bad[] = {
    "",
    "not json",
    "[]",
    "{\"state\":\"playing\"}",
    "{\"event\":\"teleport\"}",
    "{\"event\":\"state\"}",
    "{\"event\":\"state\",\"state\":1}",
    "{\"event\":\"stats\",\"frames\":\"many\"}",
    "{\"event\":\"stats\",\"frames\":-1}",
    "{\"event\":\"stats\",\"fps\":1e999}",
    "{'event':'state','state':'playing'}",
    "{\"event\":\"state\",\"state\":\"playing\",\"x\":[[[]]]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_auto (VmsStatus) st = { 0 };
    g_autoptr (GError) err = NULL;
    if (vms_status_parse (bad[i], -1, &st, &err))
      g_error ("accepted %s", bad[i]);
    g_assert_nonnull (err);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session/exit-codes", test_exit_codes);
  g_test_add_func ("/session/status-round-trip", test_round_trip);
  g_test_add_func ("/session/status-refused", test_refused);
  return g_test_run ();
}
