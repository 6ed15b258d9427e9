/* common/vmssession: the session process <-> supervisor protocol, written
 * by one side and read by the other with the same module.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
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

static void
test_answer (void)
{
  g_autofree gchar *ok
      = vms_status_line_answer (7, 200, "image/png", 12345, NULL);
  g_autofree gchar *no
      = vms_status_line_answer (8, 503, NULL, 0, "no frame \"yet\"");
  g_auto (VmsStatus) st = { 0 };
  static const gchar *bad[] = {
    "{\"event\":\"answer\",\"status\":200,\"bytes\":0}", /* no id */
    "{\"event\":\"answer\",\"id\":0,\"status\":200,\"bytes\":0}",
    "{\"event\":\"answer\",\"id\":1,\"status\":99,\"bytes\":0}",
    "{\"event\":\"answer\",\"id\":1,\"status\":200,\"bytes\":-1}",
    /* more than VMS_ANSWER_MAX_BYTES: never allocated by the supervisor */
    "{\"event\":\"answer\",\"id\":1,\"status\":200,\"bytes\":268435457}",
    "{\"event\":\"answer\",\"id\":1,\"status\":200,\"bytes\":0,"
    "\"type\":5}",
  };

  g_assert_null (strchr (ok, '\n'));
  g_assert_true (vms_status_parse (ok, -1, &st, NULL));
  g_assert_cmpint (st.kind, ==, VMS_STATUS_ANSWER);
  g_assert_cmpuint (st.id, ==, 7);
  g_assert_cmpuint (st.status, ==, 200);
  g_assert_cmpstr (st.type, ==, "image/png");
  g_assert_cmpuint (st.bytes, ==, 12345);
  g_assert_null (st.text);
  vms_status_clear (&st);
  g_assert_true (vms_status_parse (no, -1, &st, NULL));
  g_assert_cmpuint (st.status, ==, 503);
  g_assert_cmpstr (st.text, ==, "no frame \"yet\"");
  g_assert_null (st.type);
  g_assert_cmpuint (st.bytes, ==, 0);
  vms_status_clear (&st);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (vms_status_parse (bad[i], -1, &st, &error));
    g_assert_nonnull (error);
  }
}

static void
test_request (void)
{
  VmsRequest shot = { VMS_REQUEST_SCREENSHOT, 3, VMS_IMAGE_JPEG, 640, 0 };
  VmsRequest size = { VMS_REQUEST_RESIZE, 4, 0, 1280, 720 };
  g_autofree gchar *l1 = vms_request_line (&shot);
  g_autofree gchar *l2 = vms_request_line (&size);
  g_autofree gchar *input = NULL;
  VmsRequest r;
  static const struct {
    gint w, h;
  } bad_sizes[] = { { 318, 200 }, { 320, 198 }, { 4098, 720 }, { 1280, 2162 },
                    { 641, 480 }, { 640, 481 }, { -640, 480 } };

  g_assert_true (vms_line_is_request (l1, strlen (l1)));
  g_assert_true (vms_request_parse (l1, -1, &r, NULL));
  g_assert_cmpint (r.kind, ==, VMS_REQUEST_SCREENSHOT);
  g_assert_cmpuint (r.id, ==, 3);
  g_assert_cmpint (r.format, ==, VMS_IMAGE_JPEG);
  g_assert_cmpint (r.width, ==, 640);
  g_assert_true (vms_request_parse (l2, -1, &r, NULL));
  g_assert_cmpint (r.kind, ==, VMS_REQUEST_RESIZE);
  g_assert_cmpint (r.width, ==, 1280);
  g_assert_cmpint (r.height, ==, 720);
  /* input lines are never requests */
  g_assert_false (vms_line_is_request ("[{\"type\":\"key\"}]", 17));
  g_assert_false (vms_line_is_request ("{\"type\":\"request\"}", 18));
  /* the limits apply on the session's side too */
  for (guint i = 0; i < G_N_ELEMENTS (bad_sizes); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *line = g_strdup_printf (
        "{\"request\":\"resize\",\"id\":1,\"width\":%d,\"height\":%d}",
        bad_sizes[i].w, bad_sizes[i].h);
    size.width = bad_sizes[i].w;
    size.height = bad_sizes[i].h;
    g_assert_false (vms_request_check (&size, NULL));
    g_assert_false (vms_request_parse (line, -1, &r, &error));
    g_assert_nonnull (error);
  }
  g_assert_false (vms_request_parse (
      "{\"request\":\"screenshot\",\"id\":1,\"width\":8193}", -1, &r, NULL));
  g_assert_false (vms_request_parse (
      "{\"request\":\"screenshot\",\"id\":1,\"format\":\"gif\"}", -1, &r,
      NULL));
  g_assert_false (
      vms_request_parse ("{\"request\":\"reboot\",\"id\":1}", -1, &r, NULL));
  g_assert_false (vms_request_parse (
      "{\"request\":\"resize\",\"id\":{\"a\":{}}}", -1, &r, NULL));
}

static void
test_screenshot_query (void)
{
  VmsRequest r;
  static const gchar *bad_widths[]
      = { "0", "-1", "8193", "abc", "1.5", "", " 5", "0x10", "99999999999" };

  g_assert_true (vms_screenshot_query_parse (NULL, NULL, &r, NULL));
  g_assert_cmpint (r.kind, ==, VMS_REQUEST_SCREENSHOT);
  g_assert_cmpint (r.format, ==, VMS_IMAGE_PNG);
  g_assert_cmpint (r.width, ==, 0); /* the frame's own */
  g_assert_true (vms_screenshot_query_parse ("jpeg", "8192", &r, NULL));
  g_assert_cmpint (r.format, ==, VMS_IMAGE_JPEG);
  g_assert_cmpint (r.width, ==, 8192);
  g_assert_cmpstr (vms_image_format_type (r.format), ==, "image/jpeg");
  g_assert_false (vms_screenshot_query_parse ("gif", NULL, &r, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad_widths); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (
        vms_screenshot_query_parse (NULL, bad_widths[i], &r, &error));
    g_assert_nonnull (strstr (error->message, "width"));
  }
}

static void
test_resize_message (void)
{
  VmsRequest r;
  g_autofree gchar *size = vms_status_line_size (722, 480);
  g_auto (VmsStatus) st = { 0 };
  static const gchar *not_resize[]
      = { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}",
          "{\"type\":\"pointer\",\"action\":\"move\",\"x\":1,\"y\":2}",
          "[\"resize\"]", "{\"type\":\"resized\",\"width\":640}" };
  static const gchar *bad[] = {
    "{\"type\":\"resize\",\"width\":100,\"height\":100}",  /* too small */
    "{\"type\":\"resize\",\"width\":8000,\"height\":600}", /* too large */
    "{\"type\":\"resize\",\"width\":641,\"height\":480}",  /* odd */
    "{\"type\":\"resize\",\"width\":640.5,\"height\":480}",
    "{\"type\":\"resize\",\"width\":\"640\",\"height\":480}",
    "{\"type\":\"resize\",\"width\":640}",
    "{\"type\":\"resize\",\"width\":640,\"height\":480,\"x\":1}",
    "{\"type\":\"resize\",\"width\":[[[[[[640]]]]]],\"height\":480}",
    "{\"type\":\"resize\" // comment\n,\"width\":640,\"height\":480}",
  };

  g_assert_true (vms_resize_message_parse (
      "{\"type\":\"resize\",\"width\":722,\"height\":480}", -1, &r, NULL));
  g_assert_cmpint (r.kind, ==, VMS_REQUEST_RESIZE);
  g_assert_cmpint (r.width, ==, 722);
  g_assert_cmpint (r.height, ==, 480);
  for (guint i = 0; i < G_N_ELEMENTS (not_resize); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (vms_resize_message_parse (not_resize[i], -1, &r, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (vms_resize_message_parse (bad[i], -1, &r, &error));
    g_assert_nonnull (error);
    g_assert_false (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  }
  /* the session tells the supervisor */
  g_assert_true (vms_status_parse (size, -1, &st, NULL));
  g_assert_cmpint (st.kind, ==, VMS_STATUS_SIZE);
  g_assert_cmpint (st.width, ==, 722);
  g_assert_cmpint (st.height, ==, 480);
  g_assert_false (vms_status_parse (
      "{\"event\":\"size\",\"width\":0,\"height\":5}", -1, &st, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/session/exit-codes", test_exit_codes);
  g_test_add_func ("/session/status-round-trip", test_round_trip);
  g_test_add_func ("/session/status-refused", test_refused);
  g_test_add_func ("/session/answer", test_answer);
  g_test_add_func ("/session/request", test_request);
  g_test_add_func ("/session/screenshot-query", test_screenshot_query);
  g_test_add_func ("/session/resize-message", test_resize_message);
  return g_test_run ();
}
