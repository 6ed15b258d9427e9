/* vsocksink: guest-side sink that sends frames out of a VM.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>

#include "vmsprotocol.h"
#include "vmstransport.h"

G_BEGIN_DECLS

#define GST_TYPE_VSOCK_SINK (gst_vsock_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstVsockSink, gst_vsock_sink, GST, VSOCK_SINK,
                      GstBaseSink)

struct _GstVsockSink {
  GstBaseSink parent;

  /* properties (object lock) */
  gchar *uri;
  guint reconnect_interval_ms;
  guint max_reconnect_interval_ms;
  guint timeout_ms;
  gint64 max_send_wait_ms;
  gint buffer_size;
  gchar *secret;
  gchar *secret_file;
  guint keepalive_ms;
  gchar *resize_program;

  /* streaming state */
  gchar *resize_argv0; /* resize-program at start(), NULL: RESIZE not offered */
  gchar *key;          /* link secret, NULL: none */
  gsize key_len;
  gboolean warned_auth;
  gboolean host_pongs; /* the host speaks v2: it answers PING */
  gint64 last_ping_us; /* when the last PING went out */
  gint64 ping_due_us;  /* PONG expected by then; 0: none outstanding */
  VmsAddress *addr;
  GstPoll *poll;
  GstPollFD pfd;
  gboolean is_socket;
  gboolean connected;
  guint32 peer_max_frame;
  gboolean caps_pending;
  gboolean discont_pending;
  gchar *caps_str;
  gboolean is_video;
  GstVideoInfo vinfo;
  guint64 seq;
  GstClockTime next_attempt;
  guint backoff_ms;
  gboolean warned_oversize;
  gboolean warned_unreachable;
  guint8 *back_buf; /* VMS_BACK_HEADER_SIZE + VMS_MAX_BACK_LEN */
  gsize back_len;

  /* stats (object lock) */
  guint64 frames_sent;
  guint64 frames_dropped;
  guint64 bytes_sent;
  guint64 connects;
  guint64 disconnects;
};

GST_ELEMENT_REGISTER_DECLARE (vsocksink);

G_END_DECLS
