#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "vmsprotocol.h"
#include "vmstransport.h"

G_BEGIN_DECLS

#define GST_TYPE_VSOCK_SRC (gst_vsock_src_get_type ())
G_DECLARE_FINAL_TYPE (GstVsockSrc, gst_vsock_src, GST, VSOCK_SRC, GstPushSrc)

struct _GstVsockSrc {
  GstPushSrc parent;

  /* properties (object lock) */
  gchar *uri;
  gboolean is_live;
  guint timeout_ms;
  guint handshake_timeout_ms;
  guint max_frame_size;
  gint buffer_size;
  gboolean forward_eos;
  guint bound_port;

  /* streaming state */
  VmsAddress *addr;
  GstPoll *poll;
  GstPollFD listen_pfd;
  GstPollFD conn_pfd; /* fd changes under conn_lock */
  GMutex conn_lock;
  gboolean peer_back_channel;
  GByteArray *pending; /* bytes read ahead, consumed first */
  GstCaps *caps;
  gboolean is_video;
  GstVideoInfo vinfo;
  GstBufferPool *pool;
  guint pool_size;
  gboolean discont;
  gint64 last_frame_us;
  gboolean warned_timeout;
  gchar *peer;

  /* stats (object lock) */
  guint64 frames;
  guint64 bytes;
  guint64 connections;
  guint64 disconnects;
  guint64 rejected;
  guint64 disconts;
  guint64 caps_changes;
  gint64 last_transit_ns;
};

GST_ELEMENT_REGISTER_DECLARE (vsocksrc);

G_END_DECLS
