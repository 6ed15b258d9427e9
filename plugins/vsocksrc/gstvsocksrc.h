/* vsocksrc: host-side live source of the frames a vsocksink sends.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "vmsprotocol.h"
#include "vmstransport.h"

G_BEGIN_DECLS

#define GST_TYPE_VSOCK_SRC (gst_vsock_src_get_type ())
G_DECLARE_FINAL_TYPE (GstVsockSrc, gst_vsock_src, GST, VSOCK_SRC, GstPushSrc)

/* An authenticated newcomer, handed from a handshake thread to the
 * streaming thread (gstvsocksrc.c). */
typedef struct _GstVsockSrcLink GstVsockSrcLink;

/* Threads: the streaming thread (create()) reads the current sender; an
 * accept thread takes new connections, checks the peer and starts one
 * handshake thread per newcomer; start()/stop() run on the application's
 * thread; send_back() runs on whichever thread sends an event upstream.
 * Lock order: link_lock, then conn_lock, then the object lock. */
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
  guint repeat_interval_ms;
  guint bound_port;
  gchar *secret;
  gchar *secret_file;
  gint64 allowed_uid;
  gint64 allowed_cid;

  /* set in start(), constant until stop(), read by every thread */
  VmsAddress *addr;
  gchar *key; /* the link secret; NULL: no secret required */
  gsize key_len;
  gint64 check_uid; /* -1: any */
  gint64 check_cid; /* -1: any */
  gint wake_fds[2]; /* pipe: a newcomer is ready (read end polled) */

  /* accept and handshake threads (link_lock) */
  GMutex link_lock;
  GCond link_cond;
  GThread *accept_thread; /* start()/stop() only */
  GstPoll *accept_poll;   /* the listening socket; stop() flushes it */
  GstPollFD listen_pfd;   /* accept thread only */
  GQueue handshakes;      /* link_lock: handshakes in flight, oldest first */
  gboolean stopping;      /* link_lock */
  GstVsockSrcLink *ready; /* link_lock: waits for the streaming thread */

  /* streaming thread */
  GstPoll *poll; /* conn_pfd and wake_pfd; unlock() flushes it */
  GstPollFD wake_pfd;
  /* Only ever an authenticated sender. The streaming thread changes fd
   * and peer_back_channel under conn_lock; send_back() reads them under
   * it. */
  GstPollFD conn_pfd;
  GMutex conn_lock;
  gboolean peer_back_channel; /* conn_lock */
  gboolean peer_resize;       /* conn_lock: its HELLO offered RESIZE */
  GstPoll *back_poll;         /* send_back()'s own, used under conn_lock;
                                 created and freed by start()/stop() */
  GstCaps *caps;              /* written by the streaming thread under the
                                 object lock, read by get_caps() */
  gboolean is_video;
  GstVideoInfo vinfo;
  GstBufferPool *pool;
  guint pool_size;
  gboolean discont;
  gint64 last_frame_us;
  gboolean warned_timeout;
  GstBuffer *last_buf; /* the last frame pushed: repeat-interval repeats it */
  gint64 last_push_us; /* when a frame (new or repeated) was last pushed */
  guint repeat_ms;     /* repeat-interval, read at start() */
  gchar *peer;

  /* stats (object lock) */
  guint64 frames;
  guint64 bytes;
  guint64 connections;
  guint64 disconnects;
  guint64 rejected;
  guint64 resyncs;       /* HELLOs found after skipped bytes */
  guint64 bytes_skipped; /* bytes skipped before them */
  guint64 disconts;
  guint64 caps_changes;
  guint64 repeats; /* frames pushed again by repeat-interval */
  gint64 last_transit_ns;
};

GST_ELEMENT_REGISTER_DECLARE (vsocksrc);

G_END_DECLS
