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

/* The first vsocksrc of @pipeline (a new reference), or NULL: a guest
 * sends this session's picture, and the guest changes its size. */
GstElement *vms_resize_guest_source (GstElement *pipeline);
/* Asks the guest behind @src (a vsocksrc) for @width x @height: the
 * vmstream-resize event, a RESIZE on the guest link (docs/protocol.md);
 * then every capsfilter of @pipeline that fixes a raw video size follows.
 * The guest's new size comes later, as new caps on @src's pad. FALSE with
 * a sentence and status 409 when its sender cannot change its size (none
 * connected, or its HELLO did not offer RESIZE). */
gboolean vms_resize_guest (GstElement *pipeline, GstElement *src, gint width,
                           gint height, guint *status, GError **error);

G_END_DECLS
