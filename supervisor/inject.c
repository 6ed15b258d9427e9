/* vmstream: input injection for vmstream-session. */
#include "inject.h"

#include "keymap.h"
#include "qmp.h"

#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <gst/video/navigation.h>
#include <math.h>
#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (vmstream_session_debug);
#define GST_CAT_DEFAULT vmstream_session_debug

#define QMP_ABS_MAX 32767
#define QMP_RETRY_MS 200
#define QMP_MAX_PENDING 512
#define QMP_GIVE_UP_US (30 * G_USEC_PER_SEC)

struct _VmsInjector {
  gchar *display_name;
  Display *dpy;
  gboolean x_failed;
  gchar *qmp_path;
  VmsQmp *qmp;
  /* Events that arrived before QEMU's QMP socket accepted (QEMU starting)
   * wait here, in order, and are sent on connection. */
  GQueue pending;
  gint64 pending_since;
  guint retry_id;
  gboolean warned;
};

VmsInjector *
vms_injector_new (const gchar *display, const gchar *qmp_path)
{
  VmsInjector *inj = g_new0 (VmsInjector, 1);
  inj->display_name = g_strdup (display);
  inj->qmp_path = g_strdup (qmp_path);
  return inj;
}

void
vms_injector_free (VmsInjector *inj)
{
  if (inj == NULL)
    return;
  if (inj->dpy)
    XCloseDisplay (inj->dpy);
  vms_qmp_free (inj->qmp);
  if (inj->retry_id)
    g_source_remove (inj->retry_id);
  g_queue_clear_full (&inj->pending, g_free);
  g_free (inj->display_name);
  g_free (inj->qmp_path);
  g_free (inj);
}

static gint
scroll_steps (gdouble d)
{
  gdouble a = fabs (d);
  gint n;
  if (a < 1e-6)
    return 0;
  /* DOM wheel deltas are ~100 per notch in pixel mode, 1-3 in line mode. */
  n = a >= 50 ? (gint)lround (a / 100.0) : 1;
  return CLAMP (n, 1, 10);
}

/* --- X11 / XTest ------------------------------------------------------ */

static gboolean
x_open (VmsInjector *inj)
{
  gint ev, err, major, minor;

  if (inj->dpy)
    return TRUE;
  if (inj->x_failed)
    return FALSE;
  inj->dpy = XOpenDisplay (inj->display_name);
  if (inj->dpy == NULL) {
    g_printerr ("vmstream-session: cannot open X display \"%s\": input "
                "events are dropped\n",
                inj->display_name ? inj->display_name : g_getenv ("DISPLAY"));
    inj->x_failed = TRUE;
    return FALSE;
  }
  if (!XTestQueryExtension (inj->dpy, &ev, &err, &major, &minor)) {
    g_printerr ("vmstream-session: the X display has no XTEST extension: "
                "input events are dropped\n");
    XCloseDisplay (inj->dpy);
    inj->dpy = NULL;
    inj->x_failed = TRUE;
    return FALSE;
  }
  return TRUE;
}

static void
x_scale (VmsInjector *inj, gdouble x, gdouble y, gint vw, gint vh, gint *sx,
         gint *sy)
{
  gint scr = DefaultScreen (inj->dpy);
  gint w = DisplayWidth (inj->dpy, scr), h = DisplayHeight (inj->dpy, scr);

  if (vw > 0 && vh > 0) {
    x = x * w / vw;
    y = y * h / vh;
  }
  /* clamp before rounding: a client may send any double (1e300) */
  *sx = (gint)lround (CLAMP (x, 0.0, (gdouble)(w - 1)));
  *sy = (gint)lround (CLAMP (y, 0.0, (gdouble)(h - 1)));
}

static guint
x_button (gint gst_button)
{
  /* GStreamer buttons = DOM button + 1: 1 left, 2 middle, 3 right, 4 back,
   * 5 forward. X uses 4-7 for wheels, so back/forward are 8/9. */
  return gst_button >= 4 ? (guint)gst_button + 4 : (guint)gst_button;
}

static gboolean
x_key (VmsInjector *inj, const gchar *key, gboolean down)
{
  const VmsKeyMapEntry *e = vms_keymap_lookup (key);
  KeySym sym = XStringToKeysym (e ? e->keysym : key);
  KeyCode kc;

  if (sym == NoSymbol) {
    GST_INFO ("no X keysym for key \"%s\"", key);
    return FALSE;
  }
  kc = XKeysymToKeycode (inj->dpy, sym);
  if (kc == 0) {
    GST_INFO ("key \"%s\" is not on the X keyboard map", key);
    return FALSE;
  }
  XTestFakeKeyEvent (inj->dpy, kc, down, CurrentTime);
  return TRUE;
}

static gboolean
x_handle (VmsInjector *inj, GstEvent *event, gint vw, gint vh)
{
  const gchar *key;
  gint button, sx, sy;
  gdouble x, y, dx, dy;
  gboolean ok = TRUE;

  if (!x_open (inj))
    return FALSE;

  switch (gst_navigation_event_get_type (event)) {
    case GST_NAVIGATION_EVENT_KEY_PRESS:
    case GST_NAVIGATION_EVENT_KEY_RELEASE:
      if (!gst_navigation_event_parse_key_event (event, &key))
        return FALSE;
      ok = x_key (inj, key,
                  gst_navigation_event_get_type (event)
                      == GST_NAVIGATION_EVENT_KEY_PRESS);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_MOVE:
      if (!gst_navigation_event_parse_mouse_move_event (event, &x, &y))
        return FALSE;
      x_scale (inj, x, y, vw, vh, &sx, &sy);
      XTestFakeMotionEvent (inj->dpy, -1, sx, sy, CurrentTime);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS:
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE:
      if (!gst_navigation_event_parse_mouse_button_event (event, &button, &x,
                                                          &y))
        return FALSE;
      x_scale (inj, x, y, vw, vh, &sx, &sy);
      XTestFakeMotionEvent (inj->dpy, -1, sx, sy, CurrentTime);
      XTestFakeButtonEvent (inj->dpy, x_button (button),
                            gst_navigation_event_get_type (event)
                                == GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS,
                            CurrentTime);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_SCROLL: {
      gint n;
      if (!gst_navigation_event_parse_mouse_scroll_event (event, &x, &y, &dx,
                                                          &dy))
        return FALSE;
      x_scale (inj, x, y, vw, vh, &sx, &sy);
      XTestFakeMotionEvent (inj->dpy, -1, sx, sy, CurrentTime);
      /* DOM convention: dy > 0 scrolls down (X button 5), dx > 0 right (7). */
      n = scroll_steps (dy);
      for (gint i = 0; i < n; i++) {
        XTestFakeButtonEvent (inj->dpy, dy > 0 ? 5 : 4, True, CurrentTime);
        XTestFakeButtonEvent (inj->dpy, dy > 0 ? 5 : 4, False, CurrentTime);
      }
      n = scroll_steps (dx);
      for (gint i = 0; i < n; i++) {
        XTestFakeButtonEvent (inj->dpy, dx > 0 ? 7 : 6, True, CurrentTime);
        XTestFakeButtonEvent (inj->dpy, dx > 0 ? 7 : 6, False, CurrentTime);
      }
      break;
    }
    default:
      return FALSE;
  }
  XFlush (inj->dpy);
  return ok;
}

/* --- QEMU / QMP ------------------------------------------------------- */

static gboolean
qmp_open (VmsInjector *inj)
{
  g_autoptr (GError) error = NULL;

  if (vms_qmp_is_connected (inj->qmp))
    return TRUE;
  g_clear_pointer (&inj->qmp, vms_qmp_free);
  inj->qmp = vms_qmp_connect (inj->qmp_path, 2, &error);
  if (inj->qmp == NULL) {
    if (!inj->warned)
      g_printerr ("vmstream-session: cannot reach QEMU's QMP socket %s yet: "
                  "%s; input events wait\n",
                  inj->qmp_path, error->message);
    inj->warned = TRUE;
    return FALSE;
  }
  inj->warned = FALSE;
  return TRUE;
}

static gboolean
qmp_flush (VmsInjector *inj)
{
  g_autoptr (GError) error = NULL;

  while (!g_queue_is_empty (&inj->pending)) {
    gchar *args = g_queue_peek_head (&inj->pending);
    if (!qmp_open (inj))
      return FALSE;
    if (!vms_qmp_execute (inj->qmp, "input-send-event", args, &error)) {
      g_printerr ("vmstream-session: QMP input-send-event failed: %s\n",
                  error->message);
      g_clear_error (&error);
      return FALSE;
    }
    g_free (g_queue_pop_head (&inj->pending));
  }
  return TRUE;
}

static gboolean
qmp_retry_cb (gpointer user_data)
{
  VmsInjector *inj = user_data;

  if (qmp_flush (inj)) {
    inj->retry_id = 0;
    return G_SOURCE_REMOVE;
  }
  if (g_get_monotonic_time () - inj->pending_since > QMP_GIVE_UP_US) {
    g_printerr ("vmstream-session: QEMU's QMP socket did not accept for "
                "30 s: dropping %u input events\n",
                g_queue_get_length (&inj->pending));
    g_queue_clear_full (&inj->pending, g_free);
    inj->retry_id = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
qmp_send (VmsInjector *inj, gchar *args)
{
  if (g_queue_is_empty (&inj->pending))
    inj->pending_since = g_get_monotonic_time ();
  g_queue_push_tail (&inj->pending, args);
  while (g_queue_get_length (&inj->pending) > QMP_MAX_PENDING)
    g_free (g_queue_pop_head (&inj->pending));
  if (inj->retry_id == 0 && !qmp_flush (inj))
    inj->retry_id = g_timeout_add (QMP_RETRY_MS, qmp_retry_cb, inj);
  return TRUE;
}

static const gchar *
qmp_button (gint gst_button)
{
  switch (gst_button) {
    case 1:
      return "left";
    case 2:
      return "middle";
    case 3:
      return "right";
    case 4:
      return "side";
    case 5:
      return "extra";
    default:
      return NULL;
  }
}

static void
qmp_abs (GString *s, gdouble x, gdouble y, gint vw, gint vh)
{
  gint ax, ay;
  if (vw <= 1 || vh <= 1) {
    vw = 1920;
    vh = 1080;
  }
  /* clamp before rounding: a client may send any double (1e300) */
  ax = (gint)lround (CLAMP (x * QMP_ABS_MAX / (vw - 1), 0.0, QMP_ABS_MAX));
  ay = (gint)lround (CLAMP (y * QMP_ABS_MAX / (vh - 1), 0.0, QMP_ABS_MAX));
  g_string_append_printf (
      s,
      "{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":%d}},"
      "{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":%d}}",
      CLAMP (ax, 0, QMP_ABS_MAX), CLAMP (ay, 0, QMP_ABS_MAX));
}

static void
qmp_btn (GString *s, const gchar *button, gboolean down)
{
  g_string_append_printf (
      s, ",{\"type\":\"btn\",\"data\":{\"down\":%s,\"button\":\"%s\"}}",
      down ? "true" : "false", button);
}

static gboolean
qmp_handle (VmsInjector *inj, GstEvent *event, gint vw, gint vh)
{
  g_autoptr (GString) s = g_string_new ("{\"events\":[");
  const gchar *key;
  gint button;
  gdouble x, y, dx, dy;

  switch (gst_navigation_event_get_type (event)) {
    case GST_NAVIGATION_EVENT_KEY_PRESS:
    case GST_NAVIGATION_EVENT_KEY_RELEASE: {
      const VmsKeyMapEntry *e;
      if (!gst_navigation_event_parse_key_event (event, &key))
        return FALSE;
      e = vms_keymap_lookup (key);
      if (e == NULL) {
        GST_INFO ("no QEMU qcode for key \"%s\"", key);
        return FALSE;
      }
      g_string_append_printf (s,
                              "{\"type\":\"key\",\"data\":{\"down\":%s,"
                              "\"key\":{\"type\":\"qcode\",\"data\":\"%s\"}}}",
                              gst_navigation_event_get_type (event)
                                      == GST_NAVIGATION_EVENT_KEY_PRESS
                                  ? "true"
                                  : "false",
                              e->qcode);
      break;
    }
    case GST_NAVIGATION_EVENT_MOUSE_MOVE:
      if (!gst_navigation_event_parse_mouse_move_event (event, &x, &y))
        return FALSE;
      qmp_abs (s, x, y, vw, vh);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS:
    case GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE:
      if (!gst_navigation_event_parse_mouse_button_event (event, &button, &x,
                                                          &y)
          || qmp_button (button) == NULL)
        return FALSE;
      qmp_abs (s, x, y, vw, vh);
      qmp_btn (s, qmp_button (button),
               gst_navigation_event_get_type (event)
                   == GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS);
      break;
    case GST_NAVIGATION_EVENT_MOUSE_SCROLL: {
      gint n;
      if (!gst_navigation_event_parse_mouse_scroll_event (event, &x, &y, &dx,
                                                          &dy))
        return FALSE;
      qmp_abs (s, x, y, vw, vh);
      n = scroll_steps (dy);
      for (gint i = 0; i < n; i++) {
        qmp_btn (s, dy > 0 ? "wheel-down" : "wheel-up", TRUE);
        qmp_btn (s, dy > 0 ? "wheel-down" : "wheel-up", FALSE);
      }
      n = scroll_steps (dx);
      for (gint i = 0; i < n; i++) {
        qmp_btn (s, dx > 0 ? "wheel-right" : "wheel-left", TRUE);
        qmp_btn (s, dx > 0 ? "wheel-right" : "wheel-left", FALSE);
      }
      break;
    }
    default:
      return FALSE;
  }
  g_string_append (s, "]}");
  return qmp_send (inj, g_string_free (g_steal_pointer (&s), FALSE));
}

gboolean
vms_injector_handle (VmsInjector *inj, GstEvent *event, gint video_width,
                     gint video_height)
{
  if (inj->qmp_path)
    return qmp_handle (inj, event, video_width, video_height);
  return x_handle (inj, event, video_width, video_height);
}
