/* vmstream common: input contract events <-> GstNavigation events (see
 * vmsinput-gst.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsinput-gst.h"

#include <gio/gio.h>
#include <gst/video/navigation.h>
#include <math.h>

GstEvent *
vms_input_event_to_gst (const VmsInputEvent *ev)
{
  GstNavigationModifierType mods = GST_NAVIGATION_MODIFIER_NONE;
  gboolean down;

  if (!vms_input_event_is_valid (ev))
    return NULL;
  down = ev->action == VMS_INPUT_ACTION_DOWN;
  switch (ev->type) {
    case VMS_INPUT_KEY:
      return down ? gst_navigation_event_new_key_press (ev->key->code, mods)
                  : gst_navigation_event_new_key_release (ev->key->code, mods);
    case VMS_INPUT_POINTER:
      if (ev->action == VMS_INPUT_ACTION_MOVE)
        return gst_navigation_event_new_mouse_move (ev->x, ev->y, mods);
      /* DOM MouseEvent.button 0..4 -> GStreamer buttons 1..5 */
      return down ? gst_navigation_event_new_mouse_button_press (
                 (gint)ev->button + 1, ev->x, ev->y, mods)
                  : gst_navigation_event_new_mouse_button_release (
                      (gint)ev->button + 1, ev->x, ev->y, mods);
    case VMS_INPUT_WHEEL:
      return gst_navigation_event_new_mouse_scroll (ev->x, ev->y, ev->dx,
                                                    ev->dy, mods);
    default:
      return NULL;
  }
}

static gboolean
refuse (GError **error, const gchar *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "navigation event refused: %s", what);
  return FALSE;
}

static gboolean
coords (gdouble x, gdouble y, VmsInputEvent *ev, GError **error)
{
  if (!isfinite (x) || !isfinite (y))
    return refuse (error, "coordinates are not finite");
  ev->x = CLAMP (x, 0.0, (gdouble)VMS_INPUT_MAX_COORD);
  ev->y = CLAMP (y, 0.0, (gdouble)VMS_INPUT_MAX_COORD);
  return TRUE;
}

gboolean
vms_input_event_from_gst (GstEvent *event, VmsInputEvent *out, GError **error)
{
  VmsInputEvent ev = { 0 };
  GstNavigationEventType type;
  const gchar *key = NULL;
  gint button = 0;
  gdouble x = 0, y = 0, dx = 0, dy = 0;

  if (event == NULL || GST_EVENT_TYPE (event) != GST_EVENT_NAVIGATION)
    return refuse (error, "not a navigation event");
  type = gst_navigation_event_get_type (event);
  switch (type) {
    case GST_NAVIGATION_EVENT_KEY_PRESS:
    case GST_NAVIGATION_EVENT_KEY_RELEASE:
      if (!gst_navigation_event_parse_key_event (event, &key) || key == NULL)
        return refuse (error, "a key event without a key");
      ev.type = VMS_INPUT_KEY;
      ev.action = type == GST_NAVIGATION_EVENT_KEY_PRESS ? VMS_INPUT_ACTION_DOWN
                                                         : VMS_INPUT_ACTION_UP;
      ev.key = vms_keymap_lookup (key);
      if (ev.key == NULL)
        return refuse (error, "a key that is not in the keymap");
      break;
    case GST_NAVIGATION_EVENT_MOUSE_MOVE:
      if (!gst_navigation_event_parse_mouse_move_event (event, &x, &y))
        return refuse (error, "a malformed mouse move");
      ev.type = VMS_INPUT_POINTER;
      ev.action = VMS_INPUT_ACTION_MOVE;
      if (!coords (x, y, &ev, error))
        return FALSE;
      break;
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS:
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE:
      if (!gst_navigation_event_parse_mouse_button_event (event, &button, &x,
                                                          &y))
        return refuse (error, "a malformed mouse button event");
      if (button < 1 || button > VMS_INPUT_MAX_BUTTON + 1)
        return refuse (error, "a mouse button outside 1..5");
      ev.type = VMS_INPUT_POINTER;
      ev.action = type == GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS
                      ? VMS_INPUT_ACTION_DOWN
                      : VMS_INPUT_ACTION_UP;
      ev.button = (guint)button - 1;
      if (!coords (x, y, &ev, error))
        return FALSE;
      break;
    case GST_NAVIGATION_EVENT_MOUSE_SCROLL:
      if (!gst_navigation_event_parse_mouse_scroll_event (event, &x, &y, &dx,
                                                          &dy))
        return refuse (error, "a malformed scroll event");
      if (!isfinite (dx) || !isfinite (dy))
        return refuse (error, "scroll deltas are not finite");
      ev.type = VMS_INPUT_WHEEL;
      if (!coords (x, y, &ev, error))
        return FALSE;
      ev.dx = CLAMP (dx, -(gdouble)VMS_INPUT_MAX_SCROLL,
                     (gdouble)VMS_INPUT_MAX_SCROLL);
      ev.dy = CLAMP (dy, -(gdouble)VMS_INPUT_MAX_SCROLL,
                     (gdouble)VMS_INPUT_MAX_SCROLL);
      break;
    default:
      return refuse (error, "a navigation event the contract has no type for");
  }
  *out = ev;
  return TRUE;
}
