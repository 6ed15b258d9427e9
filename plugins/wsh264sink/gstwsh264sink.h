/* wsh264sink: serves H.264 access units to browsers over WebSocket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_WS_H264_SINK (gst_ws_h264_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstWsH264Sink, gst_ws_h264_sink, GST, WS_H264_SINK,
                      GstBaseSink)

/**
 * GstWsH264SinkRecoverPolicy:
 * @GST_WS_H264_SINK_RECOVER_KEYFRAME: drop the client's queue and resume at
 *   the next keyframe (like multisocketsink recover-policy=keyframe)
 * @GST_WS_H264_SINK_RECOVER_DISCONNECT: close the client's connection
 */
typedef enum {
  GST_WS_H264_SINK_RECOVER_KEYFRAME = 0,
  GST_WS_H264_SINK_RECOVER_DISCONNECT = 1,
} GstWsH264SinkRecoverPolicy;

GST_ELEMENT_REGISTER_DECLARE (wsh264sink);

G_END_DECLS
