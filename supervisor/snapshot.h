/* vmstream-session: the latest raw frame before the encoder, as an image
 * (GET /api/v1/sessions/{id}/screenshot, docs/operations.md). */
#pragma once

#include <gst/gst.h>

#include "vmssession.h"

G_BEGIN_DECLS

typedef struct _VmsShot VmsShot;

/* Watches the raw frames entering the pipeline's encoder (an element named
 * "shot", else the first vmstreamenc, else the first element whose factory
 * is an encoder) with a pad probe that keeps a reference to the last one:
 * no copy, nothing else changes for the stream. NULL when the pipeline has
 * no such element. */
VmsShot *vms_shot_new (GstElement *pipeline);
void vms_shot_free (VmsShot *shot);

/* The last raw frame and its caps, or NULL before the first. */
GstSample *vms_shot_latest (VmsShot *shot);

/* Converts @sample to RGB (PNG) or I420 (JPEG) @width pixels wide (0: its own
 * width, and never wider than that: only scaled down; the height keeps the
 * aspect ratio) and encodes it as PNG or JPEG.
 * Blocking (run it in a thread); NULL with a sentence in @error. */
GBytes *vms_shot_encode (GstSample *sample, VmsImageFormat format, gint width,
                         GError **error);

G_END_DECLS
