/* rtsph264sink: serves the H.264 access units it is fed over RTSP.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef GST_RTSP_H264_SINK_H
#define GST_RTSP_H264_SINK_H

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_RTSP_H264_SINK (gst_rtsp_h264_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstRtspH264Sink, gst_rtsp_h264_sink, GST, RTSP_H264_SINK,
                      GstBaseSink)

G_END_DECLS

#endif /* GST_RTSP_H264_SINK_H */
