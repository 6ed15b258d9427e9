/* vmstream: input injection for vmstream-session: input contract events
 * (common/vmsinput.h) into XTest or QMP. */
#include "inject.h"

#include "qmp.h"

#ifdef HAVE_X11
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#endif
#include <gst/gst.h>
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
#ifdef HAVE_X11
  Display *dpy;
#endif
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
  if (qmp_path == NULL && (display == NULL || *display == '\0')) {
    /* never XOpenDisplay (NULL): $DISPLAY of whoever started us may be the
     * operator's own desktop */
    g_printerr ("vmstream-session: no X display configured (--display, the "
                "supervisor's HELIX_DISPLAY) and no VM (--qmp): input events "
                "are refused ($DISPLAY is never used)\n");
    inj->x_failed = TRUE;
  }
#ifndef HAVE_X11
  if (qmp_path == NULL && display && *display) {
    g_printerr ("vmstream-session: this build has no X11/XTest support (it "
                "was built without libx11/libxtst, as on macOS): input for "
                "the X display %s is refused; a VM takes input through QMP\n",
                display);
    inj->x_failed = TRUE;
  }
#endif
  return inj;
}

void
vms_injector_free (VmsInjector *inj)
{
  if (inj == NULL)
    return;
#ifdef HAVE_X11
  if (inj->dpy)
    XCloseDisplay (inj->dpy);
#endif
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

#ifdef HAVE_X11
/* --- X11 / XTest ------------------------------------------------------ */

/* XTest reports a refused request (BadValue for a button or keycode the
 * server does not have) asynchronously, as an X error, and Xlib's default
 * handler ends the process on any. An error caused by one input event must
 * not end a session: count it, say it (the first few), go on. The handler
 * is process-wide; only Xlib calls it, from the thread that reads the
 * connection. */
static guint x_errors; /* atomic */

static int
x_error_handler (Display *dpy, XErrorEvent *e)
{
  guint n = __atomic_add_fetch (&x_errors, 1, __ATOMIC_RELAXED);
  gchar text[128] = "";

  if (n <= 10 || n % 1000 == 0) {
    XGetErrorText (dpy, e->error_code, text, sizeof text);
    g_printerr ("vmstream-session: X error %s (request %u.%u), %u so far: "
                "the input event is lost, the session goes on\n",
                text, e->request_code, e->minor_code, n);
  }
  return 0;
}

guint
vms_injector_x_errors (VmsInjector *inj)
{
  return __atomic_load_n (&x_errors, __ATOMIC_RELAXED);
}

static gboolean
x_open (VmsInjector *inj)
{
  gint ev, err, major, minor;

  if (inj->dpy)
    return TRUE;
  if (inj->x_failed)
    return FALSE;
  if (inj->display_name == NULL || *inj->display_name == '\0')
    return FALSE; /* refused, see vms_injector_new() */
  XSetErrorHandler (x_error_handler);
  inj->dpy = XOpenDisplay (inj->display_name);
  if (inj->dpy == NULL) {
    g_printerr ("vmstream-session: cannot open X display \"%s\": input "
                "events are dropped\n",
                inj->display_name);
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
  Window root;
  gint rx, ry;
  guint rw, rh, border, depth;

  /* the screen's size now: Xlib's DisplayWidth() keeps the size at
   * connection time, and a resize (RandR) changes it */
  if (XGetGeometry (inj->dpy, RootWindow (inj->dpy, scr), &root, &rx, &ry, &rw,
                    &rh, &border, &depth)
      && rw > 0 && rh > 0) {
    w = (gint)rw;
    h = (gint)rh;
  }

  if (vw > 0 && vh > 0) {
    x = x * w / vw;
    y = y * h / vh;
  }
  /* clamp before rounding */
  *sx = (gint)lround (CLAMP (x, 0.0, (gdouble)(w - 1)));
  *sy = (gint)lround (CLAMP (y, 0.0, (gdouble)(h - 1)));
}

static guint
x_button (guint dom_button)
{
  /* DOM 0 left, 1 middle, 2 right -> X 1, 2, 3; X uses 4-7 for wheels, so
   * 3 back and 4 forward are X 8 and 9. The contract allows 0..4 only. */
  return dom_button <= 2 ? dom_button + 1 : dom_button + 5;
}

static gboolean
x_key (VmsInjector *inj, const VmsKeyMapEntry *key, gboolean down)
{
  KeySym sym = XStringToKeysym (key->keysym);
  KeyCode kc;

  if (sym == NoSymbol) {
    GST_INFO ("no X keysym for key \"%s\"", key->code);
    return FALSE;
  }
  kc = XKeysymToKeycode (inj->dpy, sym);
  if (kc == 0) {
    GST_INFO ("key \"%s\" is not on the X keyboard map", key->code);
    return FALSE;
  }
  XTestFakeKeyEvent (inj->dpy, kc, down, CurrentTime);
  return TRUE;
}

static gboolean
x_handle (VmsInjector *inj, const VmsInputEvent *ev, gint vw, gint vh)
{
  gint sx, sy, n;
  gboolean ok = TRUE;
  guint errors_before;

  if (!x_open (inj))
    return FALSE;
  errors_before = vms_injector_x_errors (inj);

  switch (ev->type) {
    case VMS_INPUT_KEY:
      ok = x_key (inj, ev->key, ev->action == VMS_INPUT_ACTION_DOWN);
      break;
    case VMS_INPUT_POINTER:
      x_scale (inj, ev->x, ev->y, vw, vh, &sx, &sy);
      XTestFakeMotionEvent (inj->dpy, -1, sx, sy, CurrentTime);
      if (ev->action != VMS_INPUT_ACTION_MOVE)
        XTestFakeButtonEvent (inj->dpy, x_button (ev->button),
                              ev->action == VMS_INPUT_ACTION_DOWN, CurrentTime);
      break;
    case VMS_INPUT_WHEEL:
      x_scale (inj, ev->x, ev->y, vw, vh, &sx, &sy);
      XTestFakeMotionEvent (inj->dpy, -1, sx, sy, CurrentTime);
      /* DOM convention: dy > 0 scrolls down (X button 5), dx > 0 right (7). */
      n = scroll_steps (ev->dy);
      for (gint i = 0; i < n; i++) {
        XTestFakeButtonEvent (inj->dpy, ev->dy > 0 ? 5 : 4, True, CurrentTime);
        XTestFakeButtonEvent (inj->dpy, ev->dy > 0 ? 5 : 4, False, CurrentTime);
      }
      n = scroll_steps (ev->dx);
      for (gint i = 0; i < n; i++) {
        XTestFakeButtonEvent (inj->dpy, ev->dx > 0 ? 7 : 6, True, CurrentTime);
        XTestFakeButtonEvent (inj->dpy, ev->dx > 0 ? 7 : 6, False, CurrentTime);
      }
      break;
    default:
      return FALSE;
  }
  /* a round trip: an error this event caused is reported (and counted)
   * now, against this event, not later against another */
  XSync (inj->dpy, False);
  return ok && vms_injector_x_errors (inj) == errors_before;
}

#else /* !HAVE_X11: no X input at all (vms_injector_new said so) */

guint
vms_injector_x_errors (VmsInjector *inj)
{
  return 0;
}

static gboolean
x_handle (VmsInjector *inj, const VmsInputEvent *ev, gint vw, gint vh)
{
  return FALSE;
}
#endif

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
qmp_button (guint dom_button)
{
  static const gchar *const names[VMS_INPUT_MAX_BUTTON + 1]
      = { "left", "middle", "right", "side", "extra" };
  return names[MIN (dom_button, VMS_INPUT_MAX_BUTTON)];
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
qmp_handle (VmsInjector *inj, const VmsInputEvent *ev, gint vw, gint vh)
{
  g_autoptr (GString) s = g_string_new ("{\"events\":[");
  gint n;

  switch (ev->type) {
    case VMS_INPUT_KEY:
      g_string_append_printf (s,
                              "{\"type\":\"key\",\"data\":{\"down\":%s,"
                              "\"key\":{\"type\":\"qcode\",\"data\":\"%s\"}}}",
                              ev->action == VMS_INPUT_ACTION_DOWN ? "true"
                                                                  : "false",
                              ev->key->qcode);
      break;
    case VMS_INPUT_POINTER:
      qmp_abs (s, ev->x, ev->y, vw, vh);
      if (ev->action != VMS_INPUT_ACTION_MOVE)
        qmp_btn (s, qmp_button (ev->button),
                 ev->action == VMS_INPUT_ACTION_DOWN);
      break;
    case VMS_INPUT_WHEEL:
      qmp_abs (s, ev->x, ev->y, vw, vh);
      n = scroll_steps (ev->dy);
      for (gint i = 0; i < n; i++) {
        qmp_btn (s, ev->dy > 0 ? "wheel-down" : "wheel-up", TRUE);
        qmp_btn (s, ev->dy > 0 ? "wheel-down" : "wheel-up", FALSE);
      }
      n = scroll_steps (ev->dx);
      for (gint i = 0; i < n; i++) {
        qmp_btn (s, ev->dx > 0 ? "wheel-right" : "wheel-left", TRUE);
        qmp_btn (s, ev->dx > 0 ? "wheel-right" : "wheel-left", FALSE);
      }
      break;
    default:
      return FALSE;
  }
  g_string_append (s, "]}");
  return qmp_send (inj, g_string_free (g_steal_pointer (&s), FALSE));
}

gboolean
vms_injector_handle (VmsInjector *inj, const VmsInputEvent *event,
                     gint video_width, gint video_height)
{
  /* the contract at this entry too: whatever the caller, buttons 0..4,
   * keys of the keymap, coordinates in range */
  if (!vms_input_event_is_valid (event)) {
    GST_INFO ("input event refused: outside the input contract");
    return FALSE;
  }
  if (inj->qmp_path)
    return qmp_handle (inj, event, video_width, video_height);
  return x_handle (inj, event, video_width, video_height);
}
