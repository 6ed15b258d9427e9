/* rtsph264sink: serves the H.264 access units it is fed over RTSP.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_RTSP_H264_SINK (gst_rtsp_h264_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstRtspH264Sink, gst_rtsp_h264_sink, GST, RTSP_H264_SINK,
                      GstBaseSink)
GST_ELEMENT_REGISTER_DECLARE (rtsph264sink);

G_END_DECLS
