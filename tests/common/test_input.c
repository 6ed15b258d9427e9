/* common/vmsinput: the input contract, whichever entry an event comes
 * through: the browser's WebSocket message (wsh264sink's parser), the API
 * body / session stdin line, and navigation events from the pipeline.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <string.h>

#include "input_cases.h"
#include "vmsinput-gst.h"
#include "wsh264proto.h"

static gboolean
same_event (const VmsInputEvent *a, const VmsInputEvent *b)
{
  return a->type == b->type && a->action == b->action && a->key == b->key
         && a->x == b->x && a->y == b->y && a->button == b->button
         && a->dx == b->dx && a->dy == b->dy;
}

static gboolean
same_gst (GstEvent *a, GstEvent *b)
{
  return a && b
         && gst_structure_is_equal (gst_event_get_structure (a),
                                    gst_event_get_structure (b));
}

/* One text through every entry: all give @want, and accepted events are
 * the same event everywhere. */
static void
check_entries (const gchar *json, gboolean want)
{
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  g_autoptr (GError) e3 = NULL;
  g_autoptr (GstEvent) browser = NULL;
  g_autoptr (GArray) line = NULL;
  g_autoptr (GArray) array = NULL;
  g_autofree gchar *bracketed = g_strdup_printf ("[%s]", json);
  VmsInputEvent msg;
  gboolean msg_ok;

  browser = wsh264_navigation_event_from_json (json, -1, &e1);
  msg_ok = vms_input_event_parse (json, -1, &msg, NULL);
  line = vms_input_line_parse (json, -1, &e2);
  array = vms_input_line_parse (bracketed, -1, &e3);

  if ((browser != NULL) != want || msg_ok != want || (line != NULL) != want
      || (array != NULL) != want)
    g_error ("%s: want %s; browser %s (%s), message %s, line %s (%s), "
             "array %s (%s)",
             json, want ? "accepted" : "refused",
             browser ? "accepted" : "refused", e1 ? e1->message : "",
             msg_ok ? "accepted" : "refused", line ? "accepted" : "refused",
             e2 ? e2->message : "", array ? "accepted" : "refused",
             e3 ? e3->message : "");
  if (!want) {
    g_assert_nonnull (e1);
    g_assert_nonnull (e2);
    g_assert_nonnull (e3);
    return;
  }
  g_assert_cmpuint (line->len, ==, 1);
  g_assert_cmpuint (array->len, ==, 1);
  g_assert_true (same_event (&msg, &g_array_index (line, VmsInputEvent, 0)));
  g_assert_true (same_event (&msg, &g_array_index (array, VmsInputEvent, 0)));
  {
    /* the browser's GstEvent is the session's, and it comes back the same
     * event through the pipeline's entry */
    g_autoptr (GstEvent) from_line
        = vms_input_event_to_gst (&g_array_index (line, VmsInputEvent, 0));
    VmsInputEvent back;
    g_assert_true (same_gst (browser, from_line));
    g_assert_true (vms_input_event_from_gst (browser, &back, NULL));
    g_assert_true (same_event (&msg, &back));
  }
  {
    /* the canonical line the supervisor writes reads back the same */
    g_autofree gchar *canon = vms_input_line_build (&msg, 1);
    g_autoptr (GArray) again = vms_input_line_parse (canon, -1, NULL);
    g_assert_nonnull (again);
    g_assert_true (same_event (&msg, &g_array_index (again, VmsInputEvent, 0)));
  }
}

static void
test_same_verdict (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (vms_input_cases); i++)
    check_entries (vms_input_cases[i].json, vms_input_cases[i].ok);
}

static void
test_buttons (void)
{
  /* DOM buttons 0..4 (GStreamer 1..5) at every entry, 5..31 nowhere */
  for (gint b = -2; b <= 40; b++) {
    g_autofree gchar *json = g_strdup_printf (
        "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,"
        "\"button\":%d}",
        b);
    g_autoptr (GstEvent) nav
        = gst_navigation_event_new_mouse_button_press (b, 1, 2, 0);
    VmsInputEvent ev = { .type = VMS_INPUT_POINTER,
                         .action = VMS_INPUT_ACTION_DOWN,
                         .x = 1,
                         .y = 2,
                         .button = (guint)b };

    check_entries (json, b >= 0 && b <= 4);
    /* a navigation event posted by any element: GStreamer buttons */
    g_assert_true (vms_input_event_from_gst (nav, &ev, NULL)
                   == (b >= 1 && b <= 5));
    /* the injector's entry: a struct made by hand */
    ev.button = (guint)b;
    g_assert_true (vms_input_event_is_valid (&ev) == (b >= 0 && b <= 4));
  }
  {
    VmsInputEvent ev;
    g_autoptr (GstEvent) nav = NULL;
    gint button = 0;
    gdouble x, y;

    g_assert_true (vms_input_event_parse ("{\"type\":\"pointer\",\"action\":"
                                          "\"up\",\"x\":1,\"y\":2,"
                                          "\"button\":4}",
                                          -1, &ev, NULL));
    nav = vms_input_event_to_gst (&ev);
    g_assert_true (
        gst_navigation_event_parse_mouse_button_event (nav, &button, &x, &y));
    g_assert_cmpint (button, ==, 5);
    g_assert_null (vms_input_event_to_gst (
        &(VmsInputEvent){ .type = VMS_INPUT_POINTER,
                          .action = VMS_INPUT_ACTION_DOWN,
                          .button = 31 }));
  }
}

static void
test_clamp (void)
{
  VmsInputEvent ev;

  g_assert_true (vms_input_event_parse ("{\"type\":\"pointer\",\"action\":"
                                        "\"move\",\"x\":-5,\"y\":1e300}",
                                        -1, &ev, NULL));
  g_assert_cmpfloat (ev.x, ==, 0);
  g_assert_cmpfloat (ev.y, ==, VMS_INPUT_MAX_COORD);
  g_assert_true (vms_input_event_parse ("{\"type\":\"wheel\",\"x\":3,\"y\":4,"
                                        "\"dx\":-1e300,\"dy\":1e12}",
                                        -1, &ev, NULL));
  g_assert_cmpfloat (ev.dx, ==, -VMS_INPUT_MAX_SCROLL);
  g_assert_cmpfloat (ev.dy, ==, VMS_INPUT_MAX_SCROLL);
  /* the pipeline's entry clamps the same way */
  {
    g_autoptr (GstEvent) nav
        = gst_navigation_event_new_mouse_scroll (-1, 1e9, 0, -1e9, 0);
    g_assert_true (vms_input_event_from_gst (nav, &ev, NULL));
    g_assert_cmpfloat (ev.x, ==, 0);
    g_assert_cmpfloat (ev.y, ==, VMS_INPUT_MAX_COORD);
    g_assert_cmpfloat (ev.dy, ==, -VMS_INPUT_MAX_SCROLL);
  }
}

static void
test_limits (void)
{
  g_autoptr (GString) big = g_string_new (
      "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\",\"pad\":\"");
  g_autoptr (GString) many = g_string_new ("[");
  g_autoptr (GError) err = NULL;
  g_autoptr (GArray) line = NULL;
  VmsInputEvent ev;

  while (big->len < VMS_INPUT_MAX_MESSAGE)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}");
  /* one event is at most 4 KiB as a message */
  g_assert_false (vms_input_event_parse (big->str, big->len, &ev, NULL));
  g_assert_null (wsh264_navigation_event_from_json (big->str, big->len, NULL));

  for (guint i = 0; i <= VMS_INPUT_MAX_EVENTS; i++)
    g_string_append (many, i ? ",{\"type\":\"wheel\",\"x\":0,\"y\":0,\"dx\":0,"
                               "\"dy\":1}"
                             : "{\"type\":\"wheel\",\"x\":0,\"y\":0,\"dx\":0,"
                               "\"dy\":1}");
  g_string_append (many, "]");
  line = vms_input_line_parse (many->str, many->len, &err);
  g_assert_null (line);
  g_assert_nonnull (strstr (err->message, "1 to 1024"));
  g_clear_error (&err);
  g_assert_null (vms_input_line_parse ("[]", -1, &err));
  g_clear_error (&err);
  g_assert_null (vms_input_line_parse ("", 0, &err));
  g_clear_error (&err);
  /* an array is a line, never a browser message */
  g_assert_null (wsh264_navigation_event_from_json (
      "[{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}]", -1, NULL));
  /* the bad event of a line is named */
  g_assert_null (vms_input_line_parse (
      "[{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"},"
      "{\"type\":\"key\"}]",
      -1, &err));
  g_assert_true (g_str_has_prefix (err->message, "event 1: "));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/input/same-verdict-every-entry", test_same_verdict);
  g_test_add_func ("/input/buttons-0-4", test_buttons);
  g_test_add_func ("/input/clamp", test_clamp);
  g_test_add_func ("/input/limits", test_limits);
  return g_test_run ();
}
