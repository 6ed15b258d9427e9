/* libFuzzer target: one WebSocket text message from a browser, as
 * wsh264sink's on_ws_message() hands it to the input contract
 * (common/vmsinput.h: messages of 1..4096 bytes, not NUL-terminated).
 *
 * The parse runs on a thread with a 128 KiB stack, as small as a server
 * thread's may be, so input that makes json-glib recurse deeply overflows
 * it here and not only in production. Every input also goes through the
 * other entries of the contract, which must agree with the browser entry:
 * - the API / session line entry: the same verdict and the same event;
 * - the canonical JSON of the event, back through both entries: the same
 *   event;
 * - the GstNavigation event made of it, back through
 *   vms_input_event_from_gst(): the same event.
 * Dictionary: wsclient.dict (run-fuzz.sh passes it with -dict=). */
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <math.h>
#include <string.h>

#include "smallstack.h"
#include "vmsinput-gst.h"
#include "vmssession.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_setenv ("GST_REGISTRY_DISABLE", "yes", TRUE);
  gst_init (NULL, NULL);
  return 0;
}

static void
assert_same (const VmsInputEvent *a, const VmsInputEvent *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpint (a->action, ==, b->action);
  g_assert_true (a->key == b->key);
  g_assert_true (a->x == b->x && a->y == b->y);
  g_assert_cmpuint (a->button, ==, b->button);
  g_assert_true (a->dx == b->dx && a->dy == b->dy);
}

static void
check_gst (const VmsInputEvent *ev)
{
  GstEvent *gev = vms_input_event_to_gst (ev);
  VmsInputEvent back;
  const gchar *key = NULL;
  gint button = 0;
  gdouble x = 0, y = 0, dx = 0, dy = 0;

  g_assert_nonnull (gev);
  g_assert (GST_EVENT_TYPE (gev) == GST_EVENT_NAVIGATION);
  switch (gst_navigation_event_get_type (gev)) {
    case GST_NAVIGATION_EVENT_KEY_PRESS:
    case GST_NAVIGATION_EVENT_KEY_RELEASE:
      g_assert (gst_navigation_event_parse_key_event (gev, &key));
      g_assert (vms_keymap_is_known (key));
      break;
    case GST_NAVIGATION_EVENT_MOUSE_MOVE:
      g_assert (gst_navigation_event_parse_mouse_move_event (gev, &x, &y));
      break;
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS:
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE:
      g_assert (
          gst_navigation_event_parse_mouse_button_event (gev, &button, &x, &y));
      /* DOM buttons 0..4 become GStreamer buttons 1..5 */
      g_assert (button >= 1 && button <= VMS_INPUT_MAX_BUTTON + 1);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_SCROLL:
      g_assert (gst_navigation_event_parse_mouse_scroll_event (gev, &x, &y, &dx,
                                                               &dy));
      g_assert (fabs (dx) <= VMS_INPUT_MAX_SCROLL
                && fabs (dy) <= VMS_INPUT_MAX_SCROLL);
      break;
    default:
      g_assert_not_reached ();
  }
  g_assert (x >= 0 && x <= VMS_INPUT_MAX_COORD);
  g_assert (y >= 0 && y <= VMS_INPUT_MAX_COORD);
  g_assert_true (vms_input_event_from_gst (gev, &back, NULL));
  assert_same (ev, &back);
  gst_event_unref (gev);
}

static void
check_event (const VmsInputEvent *ev)
{
  g_autoptr (GString) json = g_string_new (NULL);
  g_autoptr (GArray) line = NULL;
  VmsInputEvent back;

  g_assert_true (vms_input_event_is_valid (ev));
  vms_input_event_append_json (ev, json);
  g_assert_true (vms_input_event_parse (json->str, json->len, &back, NULL));
  assert_same (ev, &back);
  line = vms_input_line_parse (json->str, json->len, NULL);
  g_assert_nonnull (line);
  g_assert_cmpuint (line->len, ==, 1);
  assert_same (ev, &g_array_index (line, VmsInputEvent, 0));
  check_gst (ev);
}

typedef struct {
  const gchar *text;
  gsize len;
} Input;

static void
parse_thread (gpointer data)
{
  const Input *in = data;
  GError *err = NULL;
  GArray *line;
  VmsInputEvent ev;
  gboolean ok;
  gsize i = 0;

  ok = vms_input_event_parse (in->text, (gssize)in->len, &ev, &err);
  g_assert (ok == (err == NULL));
  g_clear_error (&err);
  line = vms_input_line_parse (in->text, (gssize)in->len, &err);
  g_assert ((line != NULL) == (err == NULL));
  g_clear_error (&err);
  if (ok) {
    g_assert_nonnull (line);
    g_assert_cmpuint (line->len, ==, 1);
    assert_same (&ev, &g_array_index (line, VmsInputEvent, 0));
    check_event (&ev);
  } else if (line) {
    /* only an array is a line and not a message */
    while (i < in->len && strchr (" \t\r\n", in->text[i]) && in->text[i])
      i++;
    g_assert (i < in->len && in->text[i] == '[');
    for (guint k = 0; k < line->len; k++)
      check_event (&g_array_index (line, VmsInputEvent, k));
  }
  if (line)
    g_array_unref (line);
  /* the player's resize message: within the limits, never also input */
  {
    VmsRequest r;
    if (vms_resize_message_parse (in->text, (gssize)in->len, &r, &err)) {
      g_assert (!ok);
      g_assert_cmpint (r.kind, ==, VMS_REQUEST_RESIZE);
      g_assert (r.width >= VMS_RESIZE_MIN_WIDTH
                && r.width <= VMS_RESIZE_MAX_WIDTH && r.width % 2 == 0);
      g_assert (r.height >= VMS_RESIZE_MIN_HEIGHT
                && r.height <= VMS_RESIZE_MAX_HEIGHT && r.height % 2 == 0);
      g_assert_true (vms_request_check (&r, NULL));
    } else {
      g_assert_nonnull (err);
      g_clear_error (&err);
    }
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  Input in;

  if (size == 0 || size > VMS_INPUT_MAX_MESSAGE)
    return 0;
  /* An exact-size heap copy, so ASan sees any read past the message. */
  in.text = g_memdup2 (data, size);
  in.len = size;
  vms_fuzz_on_small_stack (parse_thread, &in);
  g_free ((gpointer)in.text);
  return 0;
}
