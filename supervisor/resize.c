/* vmstream-session: change the desktop's size (see resize.h). */
#include "resize.h"

#include "vmsresize.h"

#include <gio/gio.h>
#include <gst/video/video.h>
#include <string.h>

#ifdef HAVE_XRANDR
#include <X11/Xlib.h>
#include <X11/extensions/Xrandr.h>
#endif

GST_DEBUG_CATEGORY_EXTERN (vmstream_session_debug);
#define GST_CAT_DEFAULT vmstream_session_debug

#ifdef HAVE_XRANDR
static gint resize_x_errors;

static int
resize_x_error (Display *dpy, XErrorEvent *ev)
{
  resize_x_errors++;
  return 0;
}

/* The mode named WxH of @res, or a new one added to @output. */
static RRMode
mode_for (Display *dpy, Window root, XRRScreenResources *res, RROutput output,
          gint width, gint height)
{
  g_autofree gchar *name = g_strdup_printf ("%dx%d", width, height);
  XRRModeInfo *m;
  RRMode id;

  for (gint i = 0; i < res->nmode; i++) {
    if (res->modes[i].width == (guint)width
        && res->modes[i].height == (guint)height)
      return res->modes[i].id;
  }
  m = XRRAllocModeInfo (name, (int)strlen (name));
  m->width = width;
  m->height = height;
  m->hTotal = width;
  m->vTotal = height;
  m->dotClock = (unsigned long)width * height * 60; /* 60 Hz, nominal */
  id = XRRCreateMode (dpy, root, m);
  XRRFreeModeInfo (m);
  XRRAddOutputMode (dpy, output, id);
  return id;
}

/* Xvfb (21.x) serves RandR 1.5 with one output and one CRTC, and screen
 * sizes up to the one it was started with (-screen 0 WxHxD). */
static gboolean
x_resize (const gchar *display, gint width, gint height, guint *status,
          GError **error)
{
  Display *dpy = XOpenDisplay (display);
  XErrorHandler old;
  XRRScreenResources *res = NULL;
  Window root;
  gint ev, err, minw, minh, maxw, maxh;
  gboolean ok = FALSE;

  *status = 409;
  if (dpy == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot open the X display \"%s\" to resize it", display);
    return FALSE;
  }
  old = XSetErrorHandler (resize_x_error);
  resize_x_errors = 0;
  root = DefaultRootWindow (dpy);
  if (!XRRQueryExtension (dpy, &ev, &err)
      || !XRRGetScreenSizeRange (dpy, root, &minw, &minh, &maxw, &maxh)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the X display \"%s\" has no RandR: it cannot be resized",
                 display);
    goto done;
  }
  if (width > maxw || height > maxh || width < minw || height < minh) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the X screen can be from %dx%d to %dx%d, not %dx%d (start "
                 "Xvfb with -screen 0 %dx%dx24 for larger sizes)",
                 minw, minh, maxw, maxh, width, height, 4096, 2160);
    goto done;
  }
  res = XRRGetScreenResources (dpy, root);
  if (res == NULL || res->ncrtc < 1 || res->noutput < 1) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the X display \"%s\" has no RandR output to resize", display);
    goto done;
  } else {
    RRMode mode = mode_for (dpy, root, res, res->outputs[0], width, height);
    XGrabServer (dpy);
    /* off, new screen size, on with the new mode (a CRTC may never be
     * larger than the screen) */
    XRRSetCrtcConfig (dpy, res, res->crtcs[0], CurrentTime, 0, 0, None,
                      RR_Rotate_0, NULL, 0);
    /* millimetres at 96 dpi */
    XRRSetScreenSize (dpy, root, width, height, width * 254 / 960,
                      height * 254 / 960);
    XRRSetCrtcConfig (dpy, res, res->crtcs[0], CurrentTime, 0, 0, mode,
                      RR_Rotate_0, &res->outputs[0], 1);
    XUngrabServer (dpy);
    XSync (dpy, False);
  }
  if (resize_x_errors) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "the X server refused the size %dx%d", width, height);
    goto done;
  }
  GST_INFO ("X screen %s is now %dx%d", display, width, height);
  ok = TRUE;
done:
  if (res)
    XRRFreeScreenResources (res);
  XSync (dpy, False);
  XSetErrorHandler (old);
  XCloseDisplay (dpy);
  return ok;
}
#endif

/* Every capsfilter whose caps fix a raw video width and height gets the
 * new ones: the number changed. */
static guint
set_capsfilters (GstElement *pipeline, gint width, gint height)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;
  guint changed = 0;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);
    GstCaps *caps = NULL;
    if (f && strcmp (GST_OBJECT_NAME (f), "capsfilter") == 0)
      g_object_get (e, "caps", &caps, NULL);
    if (caps && gst_caps_get_size (caps) == 1
        && gst_structure_has_name (gst_caps_get_structure (caps, 0),
                                   "video/x-raw")
        && gst_structure_has_field (gst_caps_get_structure (caps, 0), "width")
        && gst_structure_has_field (gst_caps_get_structure (caps, 0),
                                    "height")) {
      GstCaps *c = gst_caps_copy (caps);
      gst_caps_set_simple (c, "width", G_TYPE_INT, width, "height", G_TYPE_INT,
                           height, NULL);
      g_object_set (e, "caps", c, NULL);
      gst_caps_unref (c);
      changed++;
    }
    if (caps)
      gst_caps_unref (caps);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return changed;
}

gboolean
vms_resize (GstElement *pipeline, const gchar *display, gint width, gint height,
            guint *status, GError **error)
{
  gboolean x_done = FALSE;

  *status = 409;
  if (display && *display) {
#ifdef HAVE_XRANDR
    if (!x_resize (display, width, height, status, error))
      return FALSE;
    x_done = TRUE;
#else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "this vmstream-session was built without RandR (libxrandr): "
                 "it cannot resize the X screen");
    return FALSE;
#endif
  }
  if (set_capsfilters (pipeline, width, height) == 0 && !x_done) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "this session cannot be resized: it has no X display and "
                 "its pipeline fixes no video size");
    return FALSE;
  }
  return TRUE;
}

GstElement *
vms_resize_guest_source (GstElement *pipeline)
{
  /* GStreamer's own search, child bins included */
  GstIterator *it = gst_bin_iterate_all_by_element_factory_name (
      GST_BIN (pipeline), "vsocksrc");
  GValue v = G_VALUE_INIT;
  GstElement *found = NULL;

  if (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    found = g_value_dup_object (&v);
    g_value_unset (&v);
  }
  gst_iterator_free (it);
  return found;
}

gboolean
vms_resize_guest (GstElement *pipeline, GstElement *src, gint width,
                  gint height, guint *status, GError **error)
{
  GstEvent *ev = gst_event_new_custom (
      GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_new (VMS_RESIZE_EVENT, "width", G_TYPE_INT, width, "height",
                         G_TYPE_INT, height, NULL));
  GstStructure *stats = NULL;
  gboolean sender = FALSE;

  *status = 409;
  if (!gst_element_send_event (src, ev)) {
    g_object_get (src, "stats", &stats, NULL);
    if (stats) {
      gst_structure_get_boolean (stats, "sender", &sender);
      gst_structure_free (stats);
    }
    if (sender)
      g_set_error_literal (
          error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "the guest cannot change its size: its sender did not offer it "
          "(an older guest image, or a guest pipeline whose vsocksink has no "
          "resize-program)");
    else
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           "the guest cannot change its size now: no guest "
                           "is connected (try again once the stream runs)");
    return FALSE;
  }
  GST_INFO ("asked the guest for %dx%d", width, height);
  set_capsfilters (pipeline, width, height);
  return TRUE;
}
