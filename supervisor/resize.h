/* vmstream-session: change the desktop's size
 * (POST /api/v1/sessions/{id}/resize, docs/operations.md). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Sets the X screen of @display (may be NULL: none) to @width x @height
 * with RandR, then every capsfilter of @pipeline that fixes a raw video
 * size to the new one, so the capture renegotiates and the encoder starts
 * a new stream at that size. FALSE with a sentence and an HTTP status
 * (409: this session or X server cannot) when nothing could change. */
gboolean vms_resize (GstElement *pipeline, const gchar *display, gint width,
                     gint height, guint *status, GError **error);

G_END_DECLS
