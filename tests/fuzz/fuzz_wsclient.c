/* libFuzzer target: one WebSocket text message from a browser, as
 * wsh264sink's on_ws_message() hands it to the input parser (messages of
 * 1..4096 bytes, not NUL-terminated). A parsed event is checked against
 * the input contract (docs/websocket.md) and released. */
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <math.h>
#include <string.h>

#include "wsh264proto.h"

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
check_event (GstEvent *ev)
{
  const gchar *key = NULL;
  gint button = 0;
  gdouble x = 0, y = 0, dx = 0, dy = 0;

  g_assert (GST_EVENT_TYPE (ev) == GST_EVENT_NAVIGATION);
  switch (gst_navigation_event_get_type (ev)) {
    case GST_NAVIGATION_EVENT_KEY_PRESS:
    case GST_NAVIGATION_EVENT_KEY_RELEASE:
      g_assert (gst_navigation_event_parse_key_event (ev, &key));
      g_assert (key != NULL && *key != '\0' && strlen (key) <= 64);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_MOVE:
      g_assert (gst_navigation_event_parse_mouse_move_event (ev, &x, &y));
      g_assert (isfinite (x) && isfinite (y));
      break;
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS:
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE:
      g_assert (
          gst_navigation_event_parse_mouse_button_event (ev, &button, &x, &y));
      /* DOM buttons 0..31 become GStreamer buttons 1..32 */
      g_assert (button >= 1 && button <= 32);
      g_assert (isfinite (x) && isfinite (y));
      break;
    case GST_NAVIGATION_EVENT_MOUSE_SCROLL:
      g_assert (
          gst_navigation_event_parse_mouse_scroll_event (ev, &x, &y, &dx, &dy));
      g_assert (isfinite (x) && isfinite (y) && isfinite (dx) && isfinite (dy));
      break;
    default:
      g_assert_not_reached ();
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *err = NULL;
  GstEvent *ev;
  gchar *copy;

  if (size == 0 || size > WSH264_MAX_INPUT_MESSAGE)
    return 0;
  /* An exact-size heap copy, so ASan sees any read past the message. */
  copy = g_memdup2 (data, size);
  ev = wsh264_navigation_event_from_json (copy, size, &err);
  if (ev) {
    g_assert (err == NULL);
    check_event (ev);
    gst_event_unref (ev);
  } else {
    g_assert (err != NULL);
    g_error_free (err);
  }
  g_free (copy);
  return 0;
}
