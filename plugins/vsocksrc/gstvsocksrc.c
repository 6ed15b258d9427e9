/* vsocksrc: host-side live source of the frames a vsocksink sends.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vsocksrc
 * @title: vsocksrc
 *
 * Receives the frames a #vsocksink sends out of a virtual machine and pushes
 * them as a live source. It listens on vsock (Linux hosts), a Unix socket
 * (macOS hybrid vsock, QEMU serial chardevs) or TCP.
 *
 * The source announces exactly the caps the sender announced, reads every
 * frame into a buffer from a pool sized for it, and attaches a
 * #GstVideoMeta with the sender's plane layout to raw video. When the sender
 * disconnects the pipeline keeps running: the source waits for the next
 * sender, renegotiates if its caps differ, and marks the first buffer
 * DISCONT.
 *
 * Only the session's own guest may send: with #GstVsockSrc:secret or
 * #GstVsockSrc:secret-file set, a sender must prove the secret in its
 * handshake (HMAC-SHA256 over a fresh nonce); on unix:// the connecting
 * process must also run as #GstVsockSrc:allowed-uid (default: our own
 * uid), on vsock:// come from #GstVsockSrc:allowed-cid when set. Every
 * newcomer's handshake runs in a thread of its own with
 * #GstVsockSrc:handshake-timeout, so the current sender's frames keep
 * flowing; only a newcomer that completed it replaces the current sender
 * (a rebooted guest's old connection may linger half-open). A peer that
 * fails, sends bytes which are not the vmstream protocol, or says nothing
 * never disturbs the stream; failures are warned about on the bus.
 *
 * A newcomer's bytes before its HELLO are skipped: a source that restarted
 * behind virtio-serial first sees the middle of the old stream. At most
 * #GstVsockSrc:max-frame-size plus one message header and one HELLO are
 * skipped, within #GstVsockSrc:handshake-timeout; counted in
 * #GstVsockSrc:stats as resyncs and bytes-skipped.
 *
 * Buffers are timestamped with the pipeline's running time at arrival (when
 * is-live) and carry the sender's capture time (CLOCK_REALTIME) as a
 * #GstReferenceTimestampMeta with caps `timestamp/x-unix`.
 *
 * With #GstVsockSrc:repeat-interval set, a live source pushes the last
 * frame again whenever nothing new came for that long, also while no sender
 * is connected: a sender that sends only when its screen changed (the
 * desktop guest's pipewiresrc) still gives the encoder and viewers a steady
 * stream, and a still screen costs the guest nothing. A repeat shares the
 * frame's memory, keeps its capture time and is stamped with the running
 * time at which it is pushed; a frame that is ready always goes first, and
 * new caps drop the frame kept.
 *
 * Upstream force-key-unit and navigation events are forwarded to the
 * authenticated sender, and only to it, over the connection's back-channel.
 *
 * To change the sender's picture size, send the source (from downstream,
 * or with gst_element_send_event()) a custom upstream event named
 * `vmstream-resize` with int fields `width` and `height` (1..16384): it
 * becomes a RESIZE message to the current sender, and the event returns
 * TRUE, when that sender's HELLO offered RESIZE (vsocksink resize-program);
 * FALSE, with nothing sent, when no sender is connected or it did not
 * (#GstVsockSrc:stats says which: sender, sender-resizable). The new size
 * comes back as the sender's new caps, as a caps event downstream.
 * |[
 * gst_element_send_event (src, gst_event_new_custom (
 *     GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new ("vmstream-resize",
 *         "width", G_TYPE_INT, 1600, "height", G_TYPE_INT, 900, NULL)));
 * ]|
 *
 * ## Example (on a Linux host)
 * |[
 * gst-launch-1.0 vsocksrc uri=vsock://any:5000 ! videoconvert ! \
 *     x264enc tune=zerolatency ! h264parse ! fakesink
 * ]|
 * A desktop guest that sends BGRx on damage, at least 10 pictures a second
 * into the encoder:
 * |[
 * gst-launch-1.0 vsocksrc uri=unix:///tmp/vms/stream.sock repeat-interval=100 ! \
 *     vmstreamenc ! fakesink
 * ]|
 */
#include "gstvsocksrc.h"

#include "vmsio.h"
#include "vmsresize.h"

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <glib-unix.h>
#include <sys/socket.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_vsock_src_debug);
#define GST_CAT_DEFAULT gst_vsock_src_debug

#define DEFAULT_URI "vsock://any:5000"
#define DEFAULT_IS_LIVE TRUE
#define DEFAULT_TIMEOUT 0
#define DEFAULT_HANDSHAKE_TIMEOUT 5000
#define DEFAULT_MAX_FRAME_SIZE VMS_DEFAULT_MAX_FRAME
#define DEFAULT_BUFFER_SIZE (4 * 1024 * 1024)
#define DEFAULT_FORWARD_EOS FALSE
#define DEFAULT_REPEAT_INTERVAL 0

enum {
  PROP_0,
  PROP_URI,
  PROP_IS_LIVE,
  PROP_TIMEOUT,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_MAX_FRAME_SIZE,
  PROP_BUFFER_SIZE,
  PROP_FORWARD_EOS,
  PROP_REPEAT_INTERVAL,
  PROP_BOUND_PORT,
  PROP_STATS,
  PROP_SECRET,
  PROP_SECRET_FILE,
  PROP_ALLOWED_UID,
  PROP_ALLOWED_CID,
};

typedef enum {
  READ_OK,
  READ_FLUSHING,
  READ_CLOSED,   /* peer closed or I/O error (err set) */
  READ_NEW_PEER, /* an authenticated newcomer is ready: switch */
  READ_TIMEOUT,  /* the deadline passed with nothing to read */
} ReadResult;

typedef enum {
  HS_OK,
  HS_FAILED, /* refused or broken: warned, counted, WELCOME sent if useful */
  HS_QUIET,  /* the peer never spoke (or left without a byte) */
  HS_FLUSHING,
} HsResult;

struct _GstVsockSrcLink {
  gint fd;
  gchar *peer;
  GstCaps *caps;
  guint16 flags;
};

/* One newcomer's handshake, in its own thread. */
typedef struct {
  GstVsockSrc *self;
  GstPoll *poll; /* own; stop() and eviction flush it under link_lock */
  GstPollFD pfd;
  gchar *peer;
  gboolean evicted; /* link_lock */
} Handshake;

/* Handshakes in flight at once. When a new connection arrives and all are
 * taken, the oldest is abandoned: the real guest completes its handshake
 * in milliseconds, so a flood of silent connections cannot keep it out. */
#define MAX_HANDSHAKES 16

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_vsock_src_parent_class parent_class
G_DEFINE_TYPE (GstVsockSrc, gst_vsock_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (vsocksrc, "vsocksrc", GST_RANK_NONE,
                             GST_TYPE_VSOCK_SRC);

static void
link_free (GstVsockSrcLink *link)
{
  if (link == NULL)
    return;
  if (link->fd >= 0)
    close (link->fd);
  g_free (link->peer);
  gst_clear_caps (&link->caps);
  g_free (link);
}

static void
gst_vsock_src_close_conn (GstVsockSrc *self)
{
  if (self->conn_pfd.fd < 0)
    return;
  gst_poll_remove_fd (self->poll, &self->conn_pfd);
  g_mutex_lock (&self->conn_lock);
  close (self->conn_pfd.fd);
  gst_poll_fd_init (&self->conn_pfd);
  self->peer_back_channel = FALSE;
  self->peer_resize = FALSE;
  g_mutex_unlock (&self->conn_lock);
  g_clear_pointer (&self->peer, g_free);
  self->discont = TRUE;
  GST_OBJECT_LOCK (self);
  self->disconnects++;
  GST_OBJECT_UNLOCK (self);
}

/* Posts why a connection is being dropped and counts it. Any thread. */
static void
gst_vsock_src_warn_rejected (GstVsockSrc *self, const gchar *peer,
                             const gchar *what, GError *err)
{
  GST_ELEMENT_WARNING (
      self, STREAM, DECODE,
      ("Dropped the sender connection (%s): %s. The current sender, if "
       "any, goes on; waiting for the next sender.",
       peer ? peer : "unknown peer", what),
      ("%s", err ? err->message : what));
  GST_OBJECT_LOCK (self);
  self->rejected++;
  GST_OBJECT_UNLOCK (self);
}

/* Drops the current connection because the peer broke the protocol. */
static void
gst_vsock_src_reject (GstVsockSrc *self, const gchar *what, GError *err)
{
  gst_vsock_src_warn_rejected (self, self->peer, what, err);
  gst_vsock_src_close_conn (self);
}

/* Posts the no-frame warning once per silence. Returns the poll timeout
 * to use until it is due. */
static GstClockTime
gst_vsock_src_check_silence (GstVsockSrc *self)
{
  gint64 due_us, now_us;

  if (self->timeout_ms == 0 || self->warned_timeout)
    return GST_CLOCK_TIME_NONE;
  now_us = g_get_monotonic_time ();
  due_us = self->last_frame_us + (gint64)self->timeout_ms * 1000;
  if (now_us >= due_us) {
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
                         ("No frame received for %u ms (%s).", self->timeout_ms,
                          self->conn_pfd.fd < 0
                              ? "no sender connected"
                              : "the sender is connected but silent"),
                         (NULL));
    self->warned_timeout = TRUE;
    return GST_CLOCK_TIME_NONE;
  }
  return (due_us - now_us) * GST_USECOND;
}

/* Waits for the current connection (if any) to be readable, or for an
 * authenticated newcomer, or for flushing, or (READ_TIMEOUT) until the
 * monotonic time @deadline_us when it is not -1. */
static ReadResult
gst_vsock_src_wait_until (GstVsockSrc *self, gint64 deadline_us)
{
  gboolean have_conn = self->conn_pfd.fd >= 0;

  for (;;) {
    GstClockTime timeout = gst_vsock_src_check_silence (self);
    gboolean new_peer, conn_ready;
    gint rc;

    /* past the deadline: one look without waiting, what is ready wins */
    if (deadline_us >= 0) {
      gint64 left_us = MAX (0, deadline_us - g_get_monotonic_time ());

      if (timeout == GST_CLOCK_TIME_NONE
          || timeout > (GstClockTime)left_us * GST_USECOND)
        timeout = left_us * GST_USECOND;
    }

    if (have_conn)
      gst_poll_fd_ctl_read (self->poll, &self->conn_pfd, TRUE);
    gst_poll_fd_ctl_read (self->poll, &self->wake_pfd, TRUE);
    rc = gst_poll_wait (self->poll, timeout);
    new_peer = rc > 0 && gst_poll_fd_can_read (self->poll, &self->wake_pfd);
    conn_ready = rc > 0 && have_conn
                 && (gst_poll_fd_can_read (self->poll, &self->conn_pfd)
                     || gst_poll_fd_has_error (self->poll, &self->conn_pfd)
                     || gst_poll_fd_has_closed (self->poll, &self->conn_pfd));
    /* vms_io_* waits on this poll too (re-HELLO): leave nothing armed */
    if (have_conn)
      gst_poll_fd_ctl_read (self->poll, &self->conn_pfd, FALSE);
    gst_poll_fd_ctl_read (self->poll, &self->wake_pfd, FALSE);
    if (rc < 0) {
      if (errno == EBUSY)
        return READ_FLUSHING;
      if (errno == EINTR || errno == EAGAIN)
        continue;
      GST_WARNING_OBJECT (self, "poll: %s", g_strerror (errno));
      return READ_FLUSHING;
    }
    if (new_peer)
      return READ_NEW_PEER;
    if (conn_ready)
      return READ_OK;
    if (rc == 0 && deadline_us >= 0 && g_get_monotonic_time () >= deadline_us)
      return READ_TIMEOUT;
    /* rc == 0: the silence warning and the deadline are re-evaluated */
  }
}

static ReadResult
gst_vsock_src_wait (GstVsockSrc *self)
{
  return gst_vsock_src_wait_until (self, -1);
}

static gboolean gst_vsock_src_switch_sender (GstVsockSrc *self);

/* Reads @len bytes of the current sender. READ_NEW_PEER: an authenticated
 * newcomer has replaced it meanwhile (the caller drops what it had of the
 * message); a newcomer refused at that point leaves the read going on. */
static ReadResult
gst_vsock_src_read (GstVsockSrc *self, guint8 *dst, gsize len, GError **error)
{
  gsize done = 0;

  while (done < len) {
    ssize_t n = read (self->conn_pfd.fd, dst + done, len - done);

    if (n > 0) {
      done += n;
      continue;
    }
    if (n == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "the sender closed the connection");
      return READ_CLOSED;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) {
      ReadResult r = gst_vsock_src_wait (self);
      if (r == READ_NEW_PEER && !gst_vsock_src_switch_sender (self))
        continue;
      if (r != READ_OK)
        return r;
      continue;
    }
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "read failed: %s", g_strerror (errno));
    return READ_CLOSED;
  }
  return READ_OK;
}

/* A small handshake message on a fresh connection: it fits the socket
 * buffer, so a non-blocking write either takes it whole or the peer is
 * gone. */
static gboolean
send_small (gint fd, const guint8 *buf, gsize len)
{
  ssize_t n;

  do {
    n = send (fd, buf, len, VMS_MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK)
      n = write (fd, buf, len);
  } while (n < 0 && errno == EINTR);
  return n == (ssize_t)len;
}

static gboolean
gst_vsock_src_send_welcome (GstVsockSrc *self, gint fd, guint16 status)
{
  guint8 buf[VMS_WELCOME_SIZE];
  VmsWelcome w = { VMS_PROTOCOL_VERSION, status, 0 };

  GST_OBJECT_LOCK (self);
  w.max_frame = self->max_frame_size;
  GST_OBJECT_UNLOCK (self);
  vms_welcome_write (buf, &w);
  return send_small (fd, buf, sizeof (buf));
}

static gboolean
gst_vsock_src_apply_caps (GstVsockSrc *self, GstCaps *caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  GstVideoInfo vinfo;
  gboolean is_video = FALSE;
  GstCaps *old;

  /* the streaming thread is the only writer of self->caps */
  if (self->caps && gst_caps_is_equal (self->caps, caps)) {
    gst_caps_unref (caps);
    return TRUE;
  }
  if (gst_structure_has_name (s, "video/x-raw")) {
    if (!gst_video_info_from_caps (&vinfo, caps)) {
      gst_caps_unref (caps);
      return FALSE;
    }
    is_video = TRUE;
  }
  GST_INFO_OBJECT (self, "sender caps %" GST_PTR_FORMAT, caps);
  /* get_caps() answers with the new caps while downstream negotiates them;
   * the old ones come back if downstream refuses. */
  GST_OBJECT_LOCK (self);
  old = self->caps;
  self->caps = gst_caps_ref (caps);
  GST_OBJECT_UNLOCK (self);
  /* A sticky caps event is stored even when downstream cannot take it:
   * ask first, so the sender hears "caps refused" at once. */
  if (!gst_pad_peer_query_accept_caps (GST_BASE_SRC_PAD (self), caps)
      || !gst_base_src_set_caps (GST_BASE_SRC (self), caps)) {
    GST_ELEMENT_WARNING (
        self, CORE, NEGOTIATION,
        ("Downstream does not accept the sender's caps %" GST_PTR_FORMAT ".",
         caps),
        (NULL));
    GST_OBJECT_LOCK (self);
    self->caps = old;
    GST_OBJECT_UNLOCK (self);
    gst_caps_unref (caps); /* the reference self->caps held */
    gst_caps_unref (caps); /* the caller's */
    return FALSE;
  }
  gst_clear_caps (&old);
  gst_caps_unref (caps);
  /* the last frame has the old caps: never repeat it into the new ones */
  gst_clear_buffer (&self->last_buf);
  self->is_video = is_video;
  if (is_video)
    self->vinfo = vinfo;
  GST_OBJECT_LOCK (self);
  self->caps_changes++;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

typedef enum {
  SCAN_OK,
  SCAN_QUIET, /* the peer left without a byte */
  SCAN_NONE,  /* no HELLO within the byte bound or in time (err set) */
  SCAN_IO,    /* closed, timed out, flushing (err set) */
} ScanResult;

/* The HELLO (and its caps) at the start of @buf, @need bytes, is the
 * newcomer's: copied out, and the bytes skipped before it counted. */
static void
scan_take_hello (GstVsockSrc *self, const gchar *peer, const guint8 *buf,
                 gsize need, gsize skipped, guint8 hello_out[VMS_HELLO_SIZE],
                 guint8 **caps_out)
{
  memcpy (hello_out, buf, VMS_HELLO_SIZE);
  *caps_out = g_memdup2 (buf + VMS_HELLO_SIZE, need - VMS_HELLO_SIZE);
  if (skipped == 0)
    return;
  GST_INFO_OBJECT (self, "%s: HELLO after %" G_GSIZE_FORMAT " skipped bytes",
                   peer, skipped);
  GST_OBJECT_LOCK (self);
  self->resyncs++;
  self->bytes_skipped += skipped;
  GST_OBJECT_UNLOCK (self);
}

/* What the peer sent, at most @len bytes into @buf, waiting at most @left
 * us for it: the bytes read (0: none yet, try again), or -1 when the scan
 * ends with *result (and @error). @got_total: the bytes read before. */
static gssize
scan_read (GstPoll *poll, GstPollFD *pfd, guint8 *buf, gsize len, gint64 left,
           gsize got_total, ScanResult *result, GError **error)
{
  ssize_t n = read (pfd->fd, buf, len);

  if (n > 0)
    return n;
  if (n == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                 "the peer closed the connection after %" G_GSIZE_FORMAT
                 " bytes without a HELLO",
                 got_total);
    *result = got_total == 0 ? SCAN_QUIET : SCAN_IO;
    return -1;
  }
  if (errno == EINTR)
    return 0;
  if (errno == EAGAIN) {
    if (!vms_io_wait (poll, pfd, TRUE, left * GST_USECOND, error)) {
      if (!g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
        *result = SCAN_IO;
        return -1;
      }
      g_clear_error (error); /* the deadline check tells */
    }
    return 0;
  }
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               "read failed: %s", g_strerror (errno));
  *result = SCAN_IO;
  return -1;
}

/* A newcomer's HELLO and caps, at the first plausible HELLO of its byte
 * stream: a receiver that restarted behind virtio-serial sees the middle of
 * the old stream first. At most max-frame-size plus one message header and
 * one HELLO are skipped (the rest of one old message), within @deadline.
 * A candidate followed at once by more bytes (a real sender waits for our
 * answer), or whose caps bytes are not caps text, was part of the old
 * stream: the scan goes on after its magic. No size read from skipped bytes
 * is trusted beyond the 64 KiB caps bound, and the thread sleeps in poll
 * while no bytes come. */
static ScanResult
gst_vsock_src_scan_hello (GstVsockSrc *self, GstPoll *poll, GstPollFD *pfd,
                          const gchar *peer, gint64 deadline,
                          guint8 hello_out[VMS_HELLO_SIZE], guint8 **caps_out,
                          GError **error)
{
  const gsize cap = VMS_HELLO_SIZE + VMS_MAX_CAPS_LEN;
  g_autofree guint8 *buf = g_malloc (cap);
  gsize have = 0, skipped = 0, got_total = 0, limit;
  ScanResult result;

  GST_OBJECT_LOCK (self);
  limit = (gsize)self->max_frame_size + VMS_MSG_HEADER_SIZE + cap;
  GST_OBJECT_UNLOCK (self);

  for (;;) {
    gsize pos = vms_hello_find (buf, have);
    gint64 left;
    ssize_t n;

    if (have >= VMS_HELLO_SIZE && pos == 0) {
      gsize need = VMS_HELLO_SIZE + GST_READ_UINT32_LE (buf + 8);
      if (have == need
          && vms_hello_caps_plausible (buf + VMS_HELLO_SIZE,
                                       need - VMS_HELLO_SIZE)) {
        scan_take_hello (self, peer, buf, need, skipped, hello_out, caps_out);
        return SCAN_OK;
      }
      if (have >= need) /* not a HELLO; "VMS1" cannot overlap itself */
        pos = VMS_MAGIC_LEN;
    }
    if (pos > 0) {
      skipped += pos;
      have -= pos;
      memmove (buf, buf + pos, have);
      continue;
    }
    if (skipped > limit) {
      g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC,
                   "no HELLO magic (\"VMS1\") in the first %" G_GSIZE_FORMAT
                   " bytes: the peer does not speak the vmstream protocol",
                   skipped);
      return SCAN_NONE;
    }
    left = deadline - g_get_monotonic_time ();
    if (left <= 0 && skipped == 0 && have > 0) {
      /* the start of a HELLO, and then nothing */
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "the peer sent %" G_GSIZE_FORMAT " bytes of its HELLO in time", have);
      return SCAN_IO;
    }
    if (left <= 0) {
      g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC,
                   "no HELLO magic (\"VMS1\") in the %" G_GSIZE_FORMAT
                   " bytes received in time: the peer does not speak the "
                   "vmstream protocol",
                   got_total);
      return SCAN_NONE;
    }
    n = scan_read (poll, pfd, buf + have, cap - have, left, got_total, &result,
                   error);
    if (n < 0)
      return result;
    have += n;
    got_total += n;
  }
}

/* How one step of the handshake ended (gst_vsock_src_run_handshake) */
typedef enum {
  HS_STEP_OK,       /* go on */
  HS_STEP_REFUSED,  /* *what and the error say why */
  HS_STEP_IO,       /* closed, timed out or flushing (error set) */
  HS_STEP_QUIET,    /* the peer never spoke */
  HS_STEP_FLUSHING, /* stopped while waiting for the first byte */
} HsStep;

/* The HELLO and its caps bytes into @buf, @hello and *caps_buf: after the
 * first byte, scanned (gst_vsock_src_scan_hello); or, for a re-HELLO on the
 * current connection, the @hello_buf given and its caps read. */
static HsStep
gst_vsock_src_read_hello (GstVsockSrc *self, GstPoll *poll, GstPollFD *pfd,
                          const gchar *peer, const guint8 *hello_buf,
                          guint timeout_ms, gint64 deadline,
                          guint8 buf[VMS_HELLO_SIZE], VmsHello *hello,
                          guint8 **caps_buf, const gchar **what, GError **err)
{
  if (hello_buf != NULL) {
    memcpy (buf, hello_buf, VMS_HELLO_SIZE);
    if (!vms_hello_parse (buf, VMS_HELLO_SIZE, hello, err)) {
      *what = "bad HELLO";
      return HS_STEP_REFUSED;
    }
    *caps_buf = g_malloc (hello->caps_len);
    if (!vms_io_read_deadline (poll, pfd, *caps_buf, hello->caps_len, deadline,
                               NULL, err))
      return HS_STEP_IO;
    return HS_STEP_OK;
  }
  /* A peer that has said nothing at all is closed quietly: QEMU's socket
   * chardev connects as soon as QEMU starts, long before the guest
   * speaks, and reconnects by itself. */
  if (!vms_io_wait (poll, pfd, TRUE, (GstClockTime)timeout_ms * GST_MSECOND,
                    err)) {
    if (g_error_matches (*err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_clear_error (err);
      return HS_STEP_FLUSHING;
    }
    GST_INFO_OBJECT (self, "%s sent nothing within %u ms, closing", peer,
                     timeout_ms);
    g_clear_error (err);
    return HS_STEP_QUIET;
  }
  switch (gst_vsock_src_scan_hello (self, poll, pfd, peer, deadline, buf,
                                    caps_buf, err)) {
    case SCAN_OK:
      break;
    case SCAN_QUIET:
      GST_INFO_OBJECT (self, "%s left without a word", peer);
      g_clear_error (err);
      return HS_STEP_QUIET;
    case SCAN_NONE:
      *what = "no HELLO";
      return HS_STEP_REFUSED;
    default:
      return HS_STEP_IO;
  }
  if (!vms_hello_parse (buf, VMS_HELLO_SIZE, hello, err)) {
    *what = "bad HELLO";
    return HS_STEP_REFUSED;
  }
  return HS_STEP_OK;
}

/* A version this receiver speaks (with a secret: one that authenticates);
 * the sender gets BAD_VERSION otherwise. */
static HsStep
gst_vsock_src_check_version (GstVsockSrc *self, GstPollFD *pfd,
                             const VmsHello *hello, const gchar **what,
                             GError **err)
{
  if (hello->version < VMS_PROTOCOL_VERSION_MIN
      || hello->version > VMS_PROTOCOL_VERSION) {
    gst_vsock_src_send_welcome (self, pfd->fd, VMS_STATUS_BAD_VERSION);
    g_set_error (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_VERSION,
                 "sender speaks protocol version %u, this receiver versions "
                 "%u..%u",
                 hello->version, VMS_PROTOCOL_VERSION_MIN,
                 VMS_PROTOCOL_VERSION);
    *what = "unsupported protocol version";
    return HS_STEP_REFUSED;
  }
  if (hello->version == 1 && self->key != NULL) {
    gst_vsock_src_send_welcome (self, pfd->fd, VMS_STATUS_BAD_VERSION);
    g_set_error (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_VERSION,
                 "sender speaks protocol version 1, which cannot "
                 "authenticate; this receiver requires the link secret "
                 "(version %u)",
                 VMS_PROTOCOL_VERSION);
    *what = "protocol version 1 has no authentication";
    return HS_STEP_REFUSED;
  }
  return HS_STEP_OK;
}

/* Version 2: CHALLENGE with a fresh nonce, the sender's AUTH read and, with
 * a secret, verified (AUTH_FAILED otherwise). */
static HsStep
gst_vsock_src_authenticate (GstVsockSrc *self, GstPoll *poll, GstPollFD *pfd,
                            gint64 deadline, const gchar **what, GError **err)
{
  guint8 cbuf[VMS_CHALLENGE_SIZE], abuf[VMS_AUTH_SIZE];
  VmsChallenge challenge = { VMS_PROTOCOL_VERSION, 0, { 0 } };
  VmsAuth auth;

  if (self->key != NULL)
    challenge.flags |= VMS_CHALLENGE_FLAG_SECRET_REQUIRED;
  if (!vms_random_bytes (challenge.nonce, VMS_NONCE_LEN, err)) {
    *what = "no random nonce";
    return HS_STEP_REFUSED;
  }
  vms_challenge_write (cbuf, &challenge);
  if (!send_small (pfd->fd, cbuf, sizeof (cbuf))) {
    g_set_error_literal (err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                         "cannot send the CHALLENGE");
    return HS_STEP_IO;
  }
  if (!vms_io_read_deadline (poll, pfd, abuf, sizeof (abuf), deadline, NULL,
                             err))
    return HS_STEP_IO;
  if (!vms_auth_parse (abuf, sizeof (abuf), &auth, err)) {
    *what = "bad AUTH";
    return HS_STEP_REFUSED;
  }
  if (self->key != NULL
      && !vms_auth_verify (&auth, (const guint8 *)self->key, self->key_len,
                           challenge.nonce)) {
    gst_vsock_src_send_welcome (self, pfd->fd, VMS_STATUS_AUTH_FAILED);
    g_set_error_literal (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_AUTH,
                         (auth.flags & VMS_AUTH_FLAG_MAC)
                             ? "the sender's AUTH does not prove the link "
                               "secret (wrong secret)"
                             : "the sender has no link secret");
    *what = "authentication failed";
    return HS_STEP_REFUSED;
  }
  return HS_STEP_OK;
}

/* HELLO, and with version 2 CHALLENGE and AUTH, on @pfd within
 * handshake-timeout. On HS_OK *caps and *flags are the sender's; the caller
 * negotiates the caps and answers WELCOME. On failure the peer got the
 * WELCOME status that explains it (where there is one) and the bus a
 * warning; the caller closes the connection. Touches no streaming state,
 * so it runs on handshake threads as well as on the streaming thread (a
 * re-HELLO on the current connection, then @hello_buf holds its first
 * VMS_HELLO_SIZE bytes). */
static HsResult
gst_vsock_src_run_handshake (GstVsockSrc *self, GstPoll *poll, GstPollFD *pfd,
                             const gchar *peer, const guint8 *hello_buf,
                             GstCaps **caps_out, guint16 *flags_out)
{
  guint8 buf[VMS_HELLO_SIZE];
  g_autofree guint8 *caps_buf = NULL;
  VmsHello hello;
  GError *err = NULL;
  GstCaps *caps = NULL;
  guint timeout_ms;
  gint64 deadline;
  const gchar *what = NULL;
  HsStep step;

  GST_OBJECT_LOCK (self);
  timeout_ms = self->handshake_timeout_ms;
  GST_OBJECT_UNLOCK (self);
  deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;

  step = gst_vsock_src_read_hello (self, poll, pfd, peer, hello_buf, timeout_ms,
                                   deadline, buf, &hello, &caps_buf, &what,
                                   &err);
  if (step == HS_STEP_OK)
    step = gst_vsock_src_check_version (self, pfd, &hello, &what, &err);
  if (step == HS_STEP_OK && hello.version >= 2)
    step = gst_vsock_src_authenticate (self, poll, pfd, deadline, &what, &err);
  if (step == HS_STEP_OK) {
    /* Only an authenticated sender's caps reach the caps parser. */
    caps = vms_caps_parse (caps_buf, hello.caps_len, &err);
    if (caps == NULL) {
      gst_vsock_src_send_welcome (self, pfd->fd, VMS_STATUS_BAD_CAPS);
      what = "caps refused";
      step = HS_STEP_REFUSED;
    }
  }
  switch (step) {
    case HS_STEP_OK:
      *caps_out = caps;
      *flags_out = hello.flags;
      return HS_OK;
    case HS_STEP_QUIET:
      return HS_QUIET;
    case HS_STEP_FLUSHING:
      return HS_FLUSHING;
    case HS_STEP_IO:
      if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_clear_error (&err);
        return HS_FLUSHING;
      }
      what = g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
                 ? "no handshake in time"
                 : "closed during the handshake";
      break;
    case HS_STEP_REFUSED:
      break;
  }
  gst_vsock_src_warn_rejected (self, peer, what, err);
  g_clear_error (&err);
  return HS_FAILED;
}

static void
gst_vsock_src_wake (GstVsockSrc *self)
{
  const guint8 one = 1;

  /* a full pipe is fine: the streaming thread has a wake-up pending */
  if (write (self->wake_fds[1], &one, 1) != 1 && errno != EAGAIN)
    GST_DEBUG_OBJECT (self, "wake: %s", g_strerror (errno));
}

static gpointer
gst_vsock_src_handshake_thread (gpointer data)
{
  Handshake *hs = data;
  GstVsockSrc *self = hs->self;
  GstVsockSrcLink *link = NULL, *old = NULL;
  GstCaps *caps = NULL;
  guint16 flags = 0;
  HsResult r;

  r = gst_vsock_src_run_handshake (self, hs->poll, &hs->pfd, hs->peer, NULL,
                                   &caps, &flags);
  if (r == HS_OK) {
    link = g_new0 (GstVsockSrcLink, 1);
    link->fd = hs->pfd.fd;
    link->peer = g_steal_pointer (&hs->peer);
    link->caps = caps;
    link->flags = flags;
    gst_poll_remove_fd (hs->poll, &hs->pfd);
    gst_poll_fd_init (&hs->pfd);
    GST_INFO_OBJECT (self, "%s authenticated", link->peer);
  }

  g_mutex_lock (&self->link_lock);
  if (link != NULL && !self->stopping) {
    old = self->ready;
    self->ready = g_steal_pointer (&link);
    gst_vsock_src_wake (self);
  }
  g_mutex_unlock (&self->link_lock);
  if (old != NULL) {
    /* two newcomers authenticated before the streaming thread took the
     * first: the later one wins */
    gst_vsock_src_send_welcome (self, old->fd, VMS_STATUS_BUSY);
    link_free (old);
  }

  /* last use of self: stop() may return as soon as the queue is empty */
  g_mutex_lock (&self->link_lock);
  if (r == HS_FLUSHING && hs->evicted)
    GST_INFO_OBJECT (self, "%s abandoned: too many handshakes", hs->peer);
  g_queue_remove (&self->handshakes, hs);
  g_cond_broadcast (&self->link_cond);
  g_mutex_unlock (&self->link_lock);

  link_free (link);
  if (hs->pfd.fd >= 0)
    close (hs->pfd.fd);
  gst_poll_free (hs->poll);
  g_free (hs->peer);
  g_free (hs);
  return NULL;
}

/* The checks the transport allows before a byte is read: the peer's uid
 * on unix://, its CID on vsock://. */
static gboolean
gst_vsock_src_peer_allowed (GstVsockSrc *self, gint fd, GError **error)
{
  guint32 id;

  if (self->addr->kind == VMS_TRANSPORT_UNIX && self->check_uid >= 0) {
    if (!vms_transport_get_peer_uid (fd, &id)) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "cannot tell the peer's uid (SO_PEERCRED)");
      return FALSE;
    }
    if ((gint64)id != self->check_uid) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "the peer runs as uid %u, only uid %" G_GINT64_FORMAT
                   " may send (allowed-uid)",
                   id, self->check_uid);
      return FALSE;
    }
  }
  if (self->addr->kind == VMS_TRANSPORT_VSOCK && self->check_cid >= 0) {
    if (!vms_transport_get_peer_cid (fd, &id)) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                           "cannot tell the peer's vsock CID");
      return FALSE;
    }
    if ((gint64)id != self->check_cid) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "the peer is vsock CID %u, only CID %" G_GINT64_FORMAT
                   " may send (allowed-cid)",
                   id, self->check_cid);
      return FALSE;
    }
  }
  return TRUE;
}

/* The next connection from an allowed peer, tuned; -1 when there is none
 * now (try again), or, with *stopped, when stop() was called. */
static gint
gst_vsock_src_accept_next (GstVsockSrc *self, gchar **peer, gboolean *stopped)
{
  GError *err = NULL;
  gint fd, rc, bufsize;

  *peer = NULL;
  gst_poll_fd_ctl_read (self->accept_poll, &self->listen_pfd, TRUE);
  rc = gst_poll_wait (self->accept_poll, GST_CLOCK_TIME_NONE);
  if (rc < 0) {
    if (errno == EBUSY) {
      *stopped = TRUE; /* stop() */
    } else if (errno != EINTR && errno != EAGAIN) {
      GST_WARNING_OBJECT (self, "poll: %s", g_strerror (errno));
      g_usleep (100 * 1000);
    }
    return -1;
  }
  fd = vms_transport_accept (self->listen_pfd.fd, peer, &err);
  if (fd < 0) {
    GST_DEBUG_OBJECT (self, "accept: %s", err->message);
    /* out of descriptors, say: do not spin on a readable socket */
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      g_usleep (100 * 1000);
    g_clear_error (&err);
    return -1;
  }
  if (!gst_vsock_src_peer_allowed (self, fd, &err)) {
    gst_vsock_src_warn_rejected (self, *peer, "peer not allowed", err);
    g_clear_error (&err);
    close (fd);
    g_clear_pointer (peer, g_free);
    return -1;
  }
  GST_OBJECT_LOCK (self);
  bufsize = self->buffer_size;
  GST_OBJECT_UNLOCK (self);
  vms_transport_tune (fd, bufsize);
  return fd;
}

static void
handshake_free_unstarted (Handshake *hs)
{
  close (hs->pfd.fd);
  gst_poll_free (hs->poll);
  g_free (hs->peer);
  g_free (hs);
}

/* @fd's handshake (from @peer, taken) in a thread of its own; past
 * MAX_HANDSHAKES the oldest one is evicted. FALSE when the element stops
 * (@fd closed). */
static gboolean
gst_vsock_src_handshake_start (GstVsockSrc *self, gint fd, gchar *peer)
{
  Handshake *hs, *oldest = NULL;
  GError *err = NULL;
  GThread *thread;

  hs = g_new0 (Handshake, 1);
  hs->self = self;
  hs->poll = gst_poll_new (TRUE);
  gst_poll_fd_init (&hs->pfd);
  hs->pfd.fd = fd;
  gst_poll_add_fd (hs->poll, &hs->pfd);
  hs->peer = peer;

  g_mutex_lock (&self->link_lock);
  if (self->stopping) {
    g_mutex_unlock (&self->link_lock);
    handshake_free_unstarted (hs);
    return FALSE;
  }
  if (g_queue_get_length (&self->handshakes) >= MAX_HANDSHAKES) {
    GList *l;
    for (l = self->handshakes.head; l != NULL; l = l->next) {
      Handshake *o = l->data;
      if (!o->evicted) {
        oldest = o;
        break;
      }
    }
    if (oldest != NULL) {
      oldest->evicted = TRUE;
      gst_poll_set_flushing (oldest->poll, TRUE);
    }
  }
  g_queue_push_tail (&self->handshakes, hs);
  g_mutex_unlock (&self->link_lock);

  thread = g_thread_try_new ("vsocksrc-hello", gst_vsock_src_handshake_thread,
                             hs, &err);
  if (thread == NULL) {
    GST_WARNING_OBJECT (self, "no handshake thread: %s", err->message);
    g_clear_error (&err);
    g_mutex_lock (&self->link_lock);
    g_queue_remove (&self->handshakes, hs);
    g_cond_broadcast (&self->link_cond);
    g_mutex_unlock (&self->link_lock);
    handshake_free_unstarted (hs);
    return TRUE;
  }
  g_thread_unref (thread); /* stop() waits for handshakes to empty */
  return TRUE;
}

/* Accepts connections for as long as the element is started and gives
 * each its own handshake thread; the streaming thread never waits for a
 * newcomer. */
static gpointer
gst_vsock_src_accept_thread (gpointer data)
{
  GstVsockSrc *self = data;
  gboolean stopped = FALSE;

  while (!stopped) {
    gchar *peer;
    gint fd = gst_vsock_src_accept_next (self, &peer, &stopped);

    if (fd >= 0 && !gst_vsock_src_handshake_start (self, fd, peer))
      break;
  }
  return NULL;
}

/* Streaming thread: an authenticated newcomer replaces the current sender
 * once downstream accepts its caps. A newcomer whose caps are refused is
 * told so and the current sender goes on. TRUE when it switched. */
static gboolean
gst_vsock_src_switch_sender (GstVsockSrc *self)
{
  GstVsockSrcLink *link;
  guint8 drain[64];

  while (read (self->wake_fds[0], drain, sizeof (drain)) > 0)
    ;
  g_mutex_lock (&self->link_lock);
  link = g_steal_pointer (&self->ready);
  g_mutex_unlock (&self->link_lock);
  if (link == NULL)
    return FALSE;

  if (!gst_vsock_src_apply_caps (self, g_steal_pointer (&link->caps))) {
    gst_vsock_src_send_welcome (self, link->fd, VMS_STATUS_BAD_CAPS);
    gst_vsock_src_warn_rejected (self, link->peer, "caps refused", NULL);
    link_free (link);
    return FALSE;
  }
  if (!gst_vsock_src_send_welcome (self, link->fd, VMS_STATUS_OK)) {
    gst_vsock_src_warn_rejected (self, link->peer,
                                 "cannot answer the handshake", NULL);
    link_free (link);
    return FALSE;
  }
  if (self->conn_pfd.fd >= 0) {
    GST_ELEMENT_INFO (self, RESOURCE, READ,
                      ("A new sender (%s) replaces the current one (%s).",
                       link->peer, self->peer),
                      (NULL));
    gst_vsock_src_close_conn (self);
  }
  g_mutex_lock (&self->conn_lock);
  gst_poll_fd_init (&self->conn_pfd);
  self->conn_pfd.fd = link->fd;
  self->peer_back_channel = (link->flags & VMS_HELLO_FLAG_BACK_CHANNEL) != 0;
  self->peer_resize
      = self->peer_back_channel && (link->flags & VMS_HELLO_FLAG_RESIZE) != 0;
  g_mutex_unlock (&self->conn_lock);
  link->fd = -1;
  gst_poll_add_fd (self->poll, &self->conn_pfd);
  self->peer = g_steal_pointer (&link->peer);
  self->discont = TRUE;
  GST_OBJECT_LOCK (self);
  self->connections++;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "sender %s connected", self->peer);
  link_free (link);
  return TRUE;
}

/* Streaming thread: the current sender started again on the same byte
 * stream (virtio-serial). It proves the secret again before it goes on;
 * meanwhile it gets no back-channel messages. */
static ReadResult
gst_vsock_src_rehello (GstVsockSrc *self, const guint8 *hello_buf)
{
  GstCaps *caps = NULL;
  guint16 flags = 0;
  HsResult r;

  g_mutex_lock (&self->conn_lock);
  self->peer_back_channel = FALSE;
  self->peer_resize = FALSE;
  g_mutex_unlock (&self->conn_lock);
  r = gst_vsock_src_run_handshake (self, self->poll, &self->conn_pfd,
                                   self->peer, hello_buf, &caps, &flags);
  if (r == HS_FLUSHING)
    return READ_FLUSHING;
  if (r != HS_OK) {
    gst_vsock_src_close_conn (self);
    return READ_CLOSED;
  }
  if (!gst_vsock_src_apply_caps (self, caps)) {
    gst_vsock_src_send_welcome (self, self->conn_pfd.fd, VMS_STATUS_BAD_CAPS);
    gst_vsock_src_reject (self, "caps refused", NULL);
    return READ_CLOSED;
  }
  if (!gst_vsock_src_send_welcome (self, self->conn_pfd.fd, VMS_STATUS_OK)) {
    gst_vsock_src_reject (self, "cannot answer the handshake", NULL);
    return READ_CLOSED;
  }
  g_mutex_lock (&self->conn_lock);
  self->peer_back_channel = (flags & VMS_HELLO_FLAG_BACK_CHANNEL) != 0;
  self->peer_resize
      = self->peer_back_channel && (flags & VMS_HELLO_FLAG_RESIZE) != 0;
  g_mutex_unlock (&self->conn_lock);
  self->discont = TRUE;
  GST_OBJECT_LOCK (self);
  self->connections++;
  GST_OBJECT_UNLOCK (self);
  return READ_OK;
}

static GstBufferPool *
gst_vsock_src_get_pool (GstVsockSrc *self, guint size)
{
  GstStructure *config;

  if (self->pool && self->pool_size == size)
    return self->pool;
  if (self->pool) {
    gst_buffer_pool_set_active (self->pool, FALSE);
    gst_object_unref (self->pool);
  }
  self->pool = gst_buffer_pool_new ();
  self->pool_size = size;
  config = gst_buffer_pool_get_config (self->pool);
  gst_buffer_pool_config_set_params (config, NULL, size, 2, 0);
  if (!gst_buffer_pool_set_config (self->pool, config)
      || !gst_buffer_pool_set_active (self->pool, TRUE)) {
    gst_clear_object (&self->pool);
    return NULL;
  }
  return self->pool;
}

/* The sender's layout must describe planes that lie inside the frame. */
static gboolean
gst_vsock_src_check_layout (GstVsockSrc *self, const VmsMsgHeader *hdr,
                            GError **error)
{
  const GstVideoFormatInfo *finfo = self->vinfo.finfo;
  guint i, width = GST_VIDEO_INFO_WIDTH (&self->vinfo);
  guint height = GST_VIDEO_INFO_HEIGHT (&self->vinfo);

  if (hdr->n_planes != GST_VIDEO_INFO_N_PLANES (&self->vinfo)) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_LAYOUT,
                 "frame has %u planes, %s has %u", hdr->n_planes,
                 GST_VIDEO_INFO_NAME (&self->vinfo),
                 GST_VIDEO_INFO_N_PLANES (&self->vinfo));
    return FALSE;
  }
  for (i = 0; i < hdr->n_planes; i++) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    guint64 rows, row_bytes, end;

    gst_video_format_info_component (finfo, i, comp);
    if (comp[0] < 0 || GST_VIDEO_FORMAT_INFO_IS_TILED (finfo)
        || GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comp[0]) == 0) {
      /* Complex formats: accept only the default layout. */
      if (hdr->offset[i] != GST_VIDEO_INFO_PLANE_OFFSET (&self->vinfo, i)
          || hdr->stride[i] != GST_VIDEO_INFO_PLANE_STRIDE (&self->vinfo, i)
          || hdr->size < GST_VIDEO_INFO_SIZE (&self->vinfo))
        goto bad;
      continue;
    }
    rows = GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (finfo, comp[0], height);
    row_bytes
        = (guint64)GST_VIDEO_FORMAT_INFO_SCALE_WIDTH (finfo, comp[0], width)
          * GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comp[0]);
    if ((guint64)hdr->stride[i] < row_bytes || rows == 0)
      goto bad;
    end = hdr->offset[i] + (guint64)hdr->stride[i] * (rows - 1) + row_bytes;
    if (end > hdr->size)
      goto bad;
    continue;
  bad:
    g_set_error (
        error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_LAYOUT,
        "plane %u (offset %u, stride %d) does not fit a %ux%u %s frame of "
        "%u bytes",
        i, hdr->offset[i], hdr->stride[i], width, height,
        GST_VIDEO_INFO_NAME (&self->vinfo), hdr->size);
    return FALSE;
  }
  return TRUE;
}

static gboolean gst_vsock_src_send_back (GstVsockSrc *self, VmsBackType type,
                                         gconstpointer payload, gsize len);

/* What one step of create() ended with. */
typedef enum {
  STEP_NEXT,     /* done: go on with this message (or frame) */
  STEP_AGAIN,    /* nothing for downstream: read the next message */
  STEP_FLUSHING, /* unlocked: return FLUSHING */
  STEP_EOS,      /* the sender's end-of-stream, forwarded */
  STEP_ERROR,    /* an error was posted: return ERROR */
  STEP_REPEAT,   /* repeat-interval passed in silence: push the last frame */
} Step;

/* The next message header of the current sender into @hdr, or why not: no
 * sender yet (waits for one), a new HELLO (a sender restarting on a
 * transport that hides disconnects), a sender gone or a bad header. */
/* With repeat-interval: the monotonic time at which the last frame is due
 * again; -1 when nothing is to be repeated (off, not live, no frame yet). */
static gint64
gst_vsock_src_repeat_due (GstVsockSrc *self)
{
  if (self->repeat_ms == 0 || self->last_buf == NULL || !self->is_live)
    return -1;
  return self->last_push_us + (gint64)self->repeat_ms * 1000;
}

static Step
gst_vsock_src_next_header (GstVsockSrc *self, VmsMsgHeader *hdr)
{
  guint8 hdr_buf[VMS_MSG_HEADER_SIZE];
  GError *err = NULL;
  gint64 repeat_due = gst_vsock_src_repeat_due (self);
  ReadResult r;

  /* Only between messages: a frame that has started arriving is awaited. */
  if (self->conn_pfd.fd < 0 || repeat_due >= 0) {
    r = gst_vsock_src_wait_until (self, repeat_due);
    if (r == READ_TIMEOUT)
      return STEP_REPEAT;
    if (r == READ_FLUSHING)
      return STEP_FLUSHING;
    if (r == READ_NEW_PEER) {
      gst_vsock_src_switch_sender (self);
      return STEP_AGAIN;
    }
    if (self->conn_pfd.fd < 0)
      return STEP_AGAIN;
  }
  /* The first bytes tell a message header from a new HELLO; a HELLO may be
   * shorter than a message header. */
  r = gst_vsock_src_read (self, hdr_buf, VMS_HELLO_SIZE, &err);
  if (r == READ_OK && vms_is_hello_magic (hdr_buf, VMS_HELLO_SIZE)) {
    GST_INFO_OBJECT (self, "sender restarted the stream");
    return gst_vsock_src_rehello (self, hdr_buf) == READ_FLUSHING
               ? STEP_FLUSHING
               : STEP_AGAIN;
  }
  if (r == READ_OK)
    r = gst_vsock_src_read (self, hdr_buf + VMS_HELLO_SIZE,
                            sizeof (hdr_buf) - VMS_HELLO_SIZE, &err);
  if (r == READ_FLUSHING)
    return STEP_FLUSHING;
  /* an authenticated newcomer took over, also mid-message: the old
   * connection was one the guest left behind */
  if (r == READ_NEW_PEER)
    return STEP_AGAIN;
  if (r == READ_CLOSED) {
    GST_INFO_OBJECT (self, "sender gone: %s", err->message);
    GST_ELEMENT_INFO (self, RESOURCE, READ,
                      ("The sender (%s) disconnected; waiting for the next "
                       "one.",
                       self->peer),
                      ("%s", err->message));
    g_clear_error (&err);
    gst_vsock_src_close_conn (self);
    return STEP_AGAIN;
  }
  if (!vms_msg_header_parse (hdr_buf, sizeof (hdr_buf), self->max_frame_size,
                             hdr, &err)) {
    gst_vsock_src_reject (self, "bad message header", err);
    g_clear_error (&err);
    return STEP_AGAIN;
  }
  return STEP_NEXT;
}

/* CAPS, PING and EOS messages; STEP_NEXT for a FRAME. */
static Step
gst_vsock_src_control (GstVsockSrc *self, const VmsMsgHeader *hdr)
{
  if (hdr->type == VMS_MSG_CAPS) {
    g_autofree guint8 *caps_buf = g_malloc (hdr->size);
    GError *err = NULL;
    GstCaps *caps;
    ReadResult r = gst_vsock_src_read (self, caps_buf, hdr->size, &err);

    if (r == READ_FLUSHING)
      return STEP_FLUSHING;
    if (r == READ_NEW_PEER)
      return STEP_AGAIN;
    if (r != READ_OK) {
      gst_vsock_src_reject (self, "truncated CAPS message", err);
      g_clear_error (&err);
      return STEP_AGAIN;
    }
    caps = vms_caps_parse (caps_buf, hdr->size, &err);
    if (caps == NULL || !gst_vsock_src_apply_caps (self, caps)) {
      gst_vsock_src_reject (self, "caps refused", err);
      g_clear_error (&err);
    }
    return STEP_AGAIN;
  }
  if (hdr->type == VMS_MSG_PING) {
    /* keepalive: the sender learns that this link still reaches us */
    gst_vsock_src_send_back (self, VMS_BACK_PONG, NULL, 0);
    return STEP_AGAIN;
  }
  if (hdr->type == VMS_MSG_EOS) {
    GST_INFO_OBJECT (self, "sender sent end-of-stream");
    return self->forward_eos ? STEP_EOS : STEP_AGAIN;
  }
  return STEP_NEXT;
}

/* A FRAME's payload into a pooled buffer *buf. */
static Step
gst_vsock_src_read_frame (GstVsockSrc *self, const VmsMsgHeader *hdr,
                          GstBuffer **buf)
{
  GstBufferPool *pool;
  GError *err = NULL;
  GstMapInfo map;
  ReadResult r;

  if (self->caps == NULL) {
    gst_vsock_src_reject (self, "frame before caps", NULL);
    return STEP_AGAIN;
  }
  if ((hdr->flags & VMS_FRAME_FLAG_VIDEO_META) && self->is_video
      && !gst_vsock_src_check_layout (self, hdr, &err)) {
    gst_vsock_src_reject (self, "bad frame layout", err);
    g_clear_error (&err);
    return STEP_AGAIN;
  }
  if (hdr->size == 0) {
    *buf = gst_buffer_new ();
    return STEP_NEXT;
  }
  pool = gst_vsock_src_get_pool (self, hdr->size);
  if (pool == NULL
      || gst_buffer_pool_acquire_buffer (pool, buf, NULL) != GST_FLOW_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
                       ("Cannot allocate a %u-byte frame buffer.", hdr->size),
                       (NULL));
    return STEP_ERROR;
  }
  gst_buffer_map (*buf, &map, GST_MAP_WRITE);
  r = gst_vsock_src_read (self, map.data, hdr->size, &err);
  gst_buffer_unmap (*buf, &map);
  if (r == READ_OK)
    return STEP_NEXT;
  gst_clear_buffer (buf);
  if (r == READ_FLUSHING)
    return STEP_FLUSHING;
  if (r != READ_NEW_PEER)
    gst_vsock_src_reject (self, "truncated frame", err);
  g_clear_error (&err);
  return STEP_AGAIN;
}

/* The pipeline's running time now; GST_CLOCK_TIME_NONE without a clock. */
static GstClockTime
gst_vsock_src_running_time (GstVsockSrc *self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime now, base;

  if (clock == NULL)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (GST_ELEMENT (self));
  gst_object_unref (clock);
  return now > base ? now - base : 0;
}

/* Layout, flags, timestamps (host running time at arrival when live, the
 * guest's capture time as a reference meta) and the stats of a frame. */
static void
gst_vsock_src_stamp_frame (GstVsockSrc *self, GstBuffer *buf,
                           const VmsMsgHeader *hdr)
{
  if (hdr->flags & VMS_FRAME_FLAG_VIDEO_META && self->is_video) {
    gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
    gint stride[GST_VIDEO_MAX_PLANES] = { 0 };

    for (guint i = 0; i < hdr->n_planes; i++) {
      offset[i] = hdr->offset[i];
      stride[i] = hdr->stride[i];
    }
    gst_buffer_add_video_meta_full (
        buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT (&self->vinfo),
        GST_VIDEO_INFO_WIDTH (&self->vinfo),
        GST_VIDEO_INFO_HEIGHT (&self->vinfo), hdr->n_planes, offset, stride);
  }
  if (hdr->flags & VMS_FRAME_FLAG_DELTA_UNIT)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (hdr->flags & VMS_FRAME_FLAG_HEADER)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_HEADER);
  if ((hdr->flags & VMS_FRAME_FLAG_DISCONT) || self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    GST_OBJECT_LOCK (self);
    self->disconts++;
    GST_OBJECT_UNLOCK (self);
    self->discont = FALSE;
  }

  if (self->is_live) {
    GST_BUFFER_PTS (buf) = gst_vsock_src_running_time (self);
    GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  } else {
    GST_BUFFER_PTS (buf) = hdr->pts;
    GST_BUFFER_DTS (buf) = hdr->dts;
  }
  GST_BUFFER_DURATION (buf) = hdr->duration;
  GST_BUFFER_OFFSET (buf) = hdr->seq;
  if (hdr->capture_time != 0 && hdr->capture_time != GST_CLOCK_TIME_NONE)
    gst_buffer_add_reference_timestamp_meta (
        buf, vms_capture_time_caps (), hdr->capture_time, GST_CLOCK_TIME_NONE);

  self->last_frame_us = g_get_monotonic_time ();
  self->warned_timeout = FALSE;
  GST_OBJECT_LOCK (self);
  self->frames++;
  self->bytes += hdr->size + VMS_MSG_HEADER_SIZE;
  if (hdr->capture_time != 0)
    self->last_transit_ns
        = g_get_real_time () * 1000 - (gint64)hdr->capture_time;
  GST_OBJECT_UNLOCK (self);
}

/* The last frame again (repeat-interval): the same memory and capture
 * time, stamped now, so downstream sees a steady stream while the sender
 * sends only what changed. */
static GstBuffer *
gst_vsock_src_repeat (GstVsockSrc *self)
{
  GstBuffer *buf = gst_buffer_copy (self->last_buf);

  GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_DISCONT);
  GST_BUFFER_PTS (buf) = gst_vsock_src_running_time (self);
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = self->repeat_ms * GST_MSECOND;
  self->last_push_us = g_get_monotonic_time ();
  GST_OBJECT_LOCK (self);
  self->repeats++;
  GST_OBJECT_UNLOCK (self);
  return buf;
}

static GstFlowReturn
gst_vsock_src_create (GstPushSrc *psrc, GstBuffer **outbuf)
{
  GstVsockSrc *self = GST_VSOCK_SRC (psrc);

  for (;;) {
    VmsMsgHeader hdr;
    GstBuffer *buf = NULL;
    Step step = gst_vsock_src_next_header (self, &hdr);

    if (step == STEP_NEXT)
      step = gst_vsock_src_control (self, &hdr);
    if (step == STEP_NEXT)
      step = gst_vsock_src_read_frame (self, &hdr, &buf);
    switch (step) {
      case STEP_NEXT:
        gst_vsock_src_stamp_frame (self, buf, &hdr);
        if (self->repeat_ms > 0)
          gst_buffer_replace (&self->last_buf, buf);
        self->last_push_us = g_get_monotonic_time ();
        *outbuf = buf;
        return GST_FLOW_OK;
      case STEP_REPEAT:
        *outbuf = gst_vsock_src_repeat (self);
        return GST_FLOW_OK;
      case STEP_AGAIN:
        continue;
      case STEP_FLUSHING:
        return GST_FLOW_FLUSHING;
      case STEP_EOS:
        return GST_FLOW_EOS;
      case STEP_ERROR:
        return GST_FLOW_ERROR;
    }
  }
}

/* Back-channel: small messages to the sender, from any thread. A sender
 * that takes no byte for this long loses the message (it is not reading
 * its link); one that took part of it loses the connection. */
#define BACK_CHANNEL_TIMEOUT (100 * GST_MSECOND)

static gboolean
gst_vsock_src_send_back (GstVsockSrc *self, VmsBackType type,
                         gconstpointer payload, gsize len)
{
  guint8 hdr_buf[VMS_BACK_HEADER_SIZE];
  VmsBackHeader hdr = { type, len };
  struct iovec iov[2];
  gboolean ok = FALSE;

  if (len > VMS_MAX_BACK_LEN)
    return FALSE;
  vms_back_header_write (hdr_buf, &hdr);

  iov[0].iov_base = hdr_buf;
  iov[0].iov_len = sizeof (hdr_buf);
  iov[1].iov_base = (gpointer)payload;
  iov[1].iov_len = hdr.len;

  g_mutex_lock (&self->conn_lock);
  if (self->conn_pfd.fd >= 0 && self->peer_back_channel
      && (type != VMS_BACK_RESIZE || self->peer_resize)
      && self->back_poll != NULL) {
    GstPollFD pfd = GST_POLL_FD_INIT;
    GError *err = NULL;
    gsize written = 0;

    /* its own GstPoll: the streaming thread may be waiting on self->poll */
    pfd.fd = self->conn_pfd.fd;
    gst_poll_add_fd (self->back_poll, &pfd);
    ok = vms_io_writev_all (self->back_poll, &pfd, TRUE, iov, 2,
                            BACK_CHANNEL_TIMEOUT, &written, &err);
    gst_poll_remove_fd (self->back_poll, &pfd);
    if (!ok) {
      GST_DEBUG_OBJECT (self, "back-channel message not sent: %s",
                        err->message);
      /* A half-sent message would corrupt the back-channel. */
      if (written > 0)
        shutdown (self->conn_pfd.fd, SHUT_RDWR);
      g_clear_error (&err);
    }
  }
  g_mutex_unlock (&self->conn_lock);
  return ok;
}

/* A "vmstream-resize" upstream event: RESIZE to the current sender when
 * its HELLO offered it; FALSE (nothing sent) otherwise. */
static gboolean
gst_vsock_src_resize (GstVsockSrc *self, const GstStructure *s)
{
  guint8 payload[VMS_BACK_RESIZE_SIZE];
  gint width = 0, height = 0;
  gboolean connected, resizable;

  if (!gst_structure_get_int (s, "width", &width)
      || !gst_structure_get_int (s, "height", &height) || width < 1
      || height < 1 || width > VMS_MAX_RESIZE_DIM
      || height > VMS_MAX_RESIZE_DIM) {
    GST_WARNING_OBJECT (
        self, "ignoring a malformed resize event %" GST_PTR_FORMAT, s);
    return FALSE;
  }
  g_mutex_lock (&self->conn_lock);
  connected = self->conn_pfd.fd >= 0;
  resizable = self->peer_resize;
  g_mutex_unlock (&self->conn_lock);
  if (!resizable) {
    GST_INFO_OBJECT (self, "cannot resize to %dx%d: %s", width, height,
                     connected ? "the sender did not offer RESIZE in its HELLO"
                               : "no sender is connected");
    return FALSE;
  }
  vms_back_resize_write (payload, width, height);
  GST_INFO_OBJECT (self, "asking the sender for %dx%d", width, height);
  return gst_vsock_src_send_back (self, VMS_BACK_RESIZE, payload,
                                  sizeof (payload));
}

static gboolean
gst_vsock_src_event (GstBaseSrc *bsrc, GstEvent *event)
{
  GstVsockSrc *self = GST_VSOCK_SRC (bsrc);

  if (gst_video_event_is_force_key_unit (event)) {
    GST_DEBUG_OBJECT (self, "forwarding key unit request to the sender");
    return gst_vsock_src_send_back (self, VMS_BACK_KEYFRAME_REQUEST, NULL, 0);
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_NAVIGATION) {
    const GstStructure *s = gst_event_get_structure (event);
    g_autofree gchar *str = gst_structure_to_string (s);
    return gst_vsock_src_send_back (self, VMS_BACK_NAVIGATION, str,
                                    strlen (str));
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM
      && gst_event_has_name (event, VMS_RESIZE_EVENT))
    return gst_vsock_src_resize (self, gst_event_get_structure (event));
  return GST_BASE_SRC_CLASS (parent_class)->event (bsrc, event);
}

/* gst_element_send_event() on the element: GstBaseSrc drops custom
 * upstream events there ("override send_event if you want this"), so the
 * resize event is taken here too, as from downstream. */
static gboolean
gst_vsock_src_send_event (GstElement *element, GstEvent *event)
{
  GstVsockSrc *self = GST_VSOCK_SRC (element);
  gboolean ok;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_UPSTREAM
      || !gst_event_has_name (event, VMS_RESIZE_EVENT))
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  ok = gst_vsock_src_resize (self, gst_event_get_structure (event));
  gst_event_unref (event);
  return ok;
}

static GstCaps *
gst_vsock_src_get_caps (GstBaseSrc *bsrc, GstCaps *filter)
{
  GstVsockSrc *self = GST_VSOCK_SRC (bsrc);
  GstCaps *caps = NULL;

  GST_OBJECT_LOCK (self);
  if (self->caps)
    caps = gst_caps_ref (self->caps);
  GST_OBJECT_UNLOCK (self);
  if (caps == NULL)
    caps = gst_caps_new_any ();
  if (filter) {
    GstCaps *tmp
        = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

/* The link secret from secret-file (preferred: it stays out of the
 * process list) or secret. FALSE with @error when one is set but unusable.
 */
static gboolean
gst_vsock_src_load_secret (GstVsockSrc *self, GError **error)
{
  g_autofree gchar *secret = NULL, *secret_file = NULL;

  GST_OBJECT_LOCK (self);
  secret = g_strdup (self->secret);
  secret_file = g_strdup (self->secret_file);
  GST_OBJECT_UNLOCK (self);

  if (secret_file != NULL && *secret_file != '\0') {
    self->key = vms_secret_load_file (secret_file, &self->key_len, error);
    if (self->key == NULL)
      return FALSE;
  } else if (secret != NULL && *secret != '\0') {
    if (!vms_secret_check (secret, strlen (secret), error))
      return FALSE;
    self->key_len = strlen (secret);
    self->key = g_steal_pointer (&secret);
  }
  if (secret != NULL)
    memset (secret, 0, strlen (secret));
  return TRUE;
}

/* wake_fds, non-blocking; FALSE after an error message */
static gboolean
gst_vsock_src_open_wake_pipe (GstVsockSrc *self, GError **err)
{
  /* a pipe, not an eventfd: the same on Linux and macOS */
  if (g_unix_open_pipe (self->wake_fds, FD_CLOEXEC, err)
      && g_unix_set_fd_nonblocking (self->wake_fds[0], TRUE, err)
      && g_unix_set_fd_nonblocking (self->wake_fds[1], TRUE, err))
    return TRUE;
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
                     ("Cannot create the source's wake-up pipe: %s",
                      *err ? (*err)->message : g_strerror (errno)),
                     (NULL));
  for (guint i = 0; i < 2; i++)
    if (self->wake_fds[i] >= 0)
      close (self->wake_fds[i]);
  self->wake_fds[0] = self->wake_fds[1] = -1;
  return FALSE;
}

static gboolean
gst_vsock_src_start (GstBaseSrc *bsrc)
{
  GstVsockSrc *self = GST_VSOCK_SRC (bsrc);
  GError *err = NULL;
  gchar *uri;
  gint fd;

  GST_OBJECT_LOCK (self);
  uri = g_strdup (self->uri);
  self->frames = self->bytes = self->connections = self->disconnects = 0;
  self->rejected = self->disconts = self->caps_changes = 0;
  self->resyncs = self->bytes_skipped = self->repeats = 0;
  self->last_transit_ns = 0;
  self->repeat_ms = self->repeat_interval_ms;
  self->check_uid = self->allowed_uid;
  self->check_cid = self->allowed_cid;
  GST_OBJECT_UNLOCK (self);

  self->addr = vms_address_parse (uri, &err);
  if (self->addr == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", err->message),
                       ("uri=%s", GST_STR_NULL (uri)));
    goto failed;
  }
  if (!gst_vsock_src_load_secret (self, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
                       ("Cannot use the link secret: %s.", err->message),
                       (NULL));
    goto failed;
  }
  if (self->key == NULL)
    GST_WARNING_OBJECT (self,
                        "no secret or secret-file set: anyone who can "
                        "connect to %s may become the sender and receives "
                        "the viewers' input",
                        uri);
  fd = vms_transport_listen (self->addr, &err);
  if (fd < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("%s", err->message),
                       ("uri=%s", uri));
    goto failed;
  }

  if (!gst_vsock_src_open_wake_pipe (self, &err)) {
    close (fd);
    goto failed;
  }
  self->poll = gst_poll_new (TRUE);
  self->back_poll = gst_poll_new (TRUE);
  gst_poll_fd_init (&self->wake_pfd);
  self->wake_pfd.fd = self->wake_fds[0];
  gst_poll_add_fd (self->poll, &self->wake_pfd);
  gst_poll_fd_init (&self->conn_pfd);
  self->discont = TRUE;
  self->last_frame_us = g_get_monotonic_time ();
  self->warned_timeout = FALSE;

  self->accept_poll = gst_poll_new (TRUE);
  gst_poll_fd_init (&self->listen_pfd);
  self->listen_pfd.fd = fd;
  gst_poll_add_fd (self->accept_poll, &self->listen_pfd);
  self->stopping = FALSE;
  GST_OBJECT_LOCK (self);
  self->bound_port = vms_transport_get_local_port (fd);
  GST_OBJECT_UNLOCK (self);
  self->accept_thread
      = g_thread_new ("vsocksrc-accept", gst_vsock_src_accept_thread, self);
  g_object_notify (G_OBJECT (self), "bound-port");
  GST_INFO_OBJECT (self, "listening on %s (port %u)%s", uri, self->bound_port,
                   self->key ? ", secret required" : "");
  g_free (uri);
  return TRUE;

failed:
  g_clear_error (&err);
  g_clear_pointer (&self->addr, vms_address_free);
  g_clear_pointer (&self->key, vms_secret_free);
  g_free (uri);
  return FALSE;
}

static gboolean
gst_vsock_src_stop (GstBaseSrc *bsrc)
{
  GstVsockSrc *self = GST_VSOCK_SRC (bsrc);
  GList *l;

  if (self->accept_thread != NULL) {
    /* no new handshakes; the ones in flight end at once */
    g_mutex_lock (&self->link_lock);
    self->stopping = TRUE;
    for (l = self->handshakes.head; l != NULL; l = l->next)
      gst_poll_set_flushing (((Handshake *)l->data)->poll, TRUE);
    g_mutex_unlock (&self->link_lock);
    gst_poll_set_flushing (self->accept_poll, TRUE);
    g_thread_join (g_steal_pointer (&self->accept_thread));
    g_mutex_lock (&self->link_lock);
    while (self->handshakes.length > 0)
      g_cond_wait (&self->link_cond, &self->link_lock);
    g_clear_pointer (&self->ready, link_free);
    g_mutex_unlock (&self->link_lock);

    gst_poll_remove_fd (self->accept_poll, &self->listen_pfd);
    close (self->listen_pfd.fd);
    gst_poll_fd_init (&self->listen_pfd);
    g_clear_pointer (&self->accept_poll, gst_poll_free);
    if (self->addr->kind == VMS_TRANSPORT_UNIX && !self->addr->abstract)
      unlink (self->addr->path);
  }
  if (self->poll) {
    gst_vsock_src_close_conn (self);
    gst_poll_remove_fd (self->poll, &self->wake_pfd);
    gst_poll_fd_init (&self->wake_pfd);
    close (self->wake_fds[0]);
    close (self->wake_fds[1]);
    self->wake_fds[0] = self->wake_fds[1] = -1;
  }
  g_clear_pointer (&self->poll, gst_poll_free);
  g_mutex_lock (&self->conn_lock);
  g_clear_pointer (&self->back_poll, gst_poll_free);
  g_mutex_unlock (&self->conn_lock);
  g_clear_pointer (&self->addr, vms_address_free);
  g_clear_pointer (&self->key, vms_secret_free);
  self->key_len = 0;
  if (self->pool) {
    gst_buffer_pool_set_active (self->pool, FALSE);
    gst_clear_object (&self->pool);
  }
  GST_OBJECT_LOCK (self);
  gst_clear_caps (&self->caps);
  GST_OBJECT_UNLOCK (self);
  gst_clear_buffer (&self->last_buf);
  return TRUE;
}

/* unlock (@flushing) and unlock_stop: the streaming thread's poll and the
 * back-channel's */
static void
gst_vsock_src_set_flushing (GstVsockSrc *self, gboolean flushing)
{
  if (self->poll)
    gst_poll_set_flushing (self->poll, flushing);
  g_mutex_lock (&self->conn_lock);
  if (self->back_poll)
    gst_poll_set_flushing (self->back_poll, flushing);
  g_mutex_unlock (&self->conn_lock);
}

static gboolean
gst_vsock_src_unlock (GstBaseSrc *bsrc)
{
  gst_vsock_src_set_flushing (GST_VSOCK_SRC (bsrc), TRUE);
  return TRUE;
}

static gboolean
gst_vsock_src_unlock_stop (GstBaseSrc *bsrc)
{
  gst_vsock_src_set_flushing (GST_VSOCK_SRC (bsrc), FALSE);
  return TRUE;
}

static GstStructure *
gst_vsock_src_get_stats (GstVsockSrc *self)
{
  GstStructure *s;
  gboolean sender, resizable;

  g_mutex_lock (&self->conn_lock);
  sender = self->conn_pfd.fd >= 0;
  resizable = self->peer_resize;
  g_mutex_unlock (&self->conn_lock);
  GST_OBJECT_LOCK (self);
  s = gst_structure_new (
      "application/x-vsocksrc-stats", "sender", G_TYPE_BOOLEAN, sender,
      "sender-resizable", G_TYPE_BOOLEAN, resizable, "frames-received",
      G_TYPE_UINT64, self->frames, "bytes-received", G_TYPE_UINT64, self->bytes,
      "connections", G_TYPE_UINT64, self->connections, "disconnects",
      G_TYPE_UINT64, self->disconnects, "rejected", G_TYPE_UINT64,
      self->rejected, "disconts", G_TYPE_UINT64, self->disconts, "caps-changes",
      G_TYPE_UINT64, self->caps_changes, "last-transit-ns", G_TYPE_INT64,
      self->last_transit_ns, "resyncs", G_TYPE_UINT64, self->resyncs,
      "bytes-skipped", G_TYPE_UINT64, self->bytes_skipped, "repeats",
      G_TYPE_UINT64, self->repeats, NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_vsock_src_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  GstVsockSrc *self = GST_VSOCK_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URI:
      vms_address_warn_if_invalid ("vsocksrc", g_value_get_string (value));
      g_free (self->uri);
      self->uri = g_value_dup_string (value);
      break;
    case PROP_IS_LIVE:
      self->is_live = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      gst_base_src_set_live (GST_BASE_SRC (self), self->is_live);
      return;
    case PROP_TIMEOUT:
      self->timeout_ms = g_value_get_uint (value);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      self->handshake_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_FRAME_SIZE:
      self->max_frame_size = g_value_get_uint (value);
      break;
    case PROP_BUFFER_SIZE:
      self->buffer_size = g_value_get_int (value);
      break;
    case PROP_FORWARD_EOS:
      self->forward_eos = g_value_get_boolean (value);
      break;
    case PROP_REPEAT_INTERVAL:
      self->repeat_interval_ms = g_value_get_uint (value);
      break;
    case PROP_SECRET:
      g_clear_pointer (&self->secret, vms_secret_free);
      self->secret = g_value_dup_string (value);
      break;
    case PROP_SECRET_FILE:
      g_free (self->secret_file);
      self->secret_file = g_value_dup_string (value);
      break;
    case PROP_ALLOWED_UID:
      self->allowed_uid = g_value_get_int64 (value);
      break;
    case PROP_ALLOWED_CID:
      self->allowed_cid = g_value_get_int64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vsock_src_get_property (GObject *object, guint prop_id, GValue *value,
                            GParamSpec *pspec)
{
  GstVsockSrc *self = GST_VSOCK_SRC (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_vsock_src_get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URI:
      g_value_set_string (value, self->uri);
      break;
    case PROP_IS_LIVE:
      g_value_set_boolean (value, self->is_live);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout_ms);
      break;
    case PROP_MAX_FRAME_SIZE:
      g_value_set_uint (value, self->max_frame_size);
      break;
    case PROP_BUFFER_SIZE:
      g_value_set_int (value, self->buffer_size);
      break;
    case PROP_FORWARD_EOS:
      g_value_set_boolean (value, self->forward_eos);
      break;
    case PROP_REPEAT_INTERVAL:
      g_value_set_uint (value, self->repeat_interval_ms);
      break;
    case PROP_BOUND_PORT:
      g_value_set_uint (value, self->bound_port);
      break;
    case PROP_SECRET_FILE:
      g_value_set_string (value, self->secret_file);
      break;
    case PROP_ALLOWED_UID:
      g_value_set_int64 (value, self->allowed_uid);
      break;
    case PROP_ALLOWED_CID:
      g_value_set_int64 (value, self->allowed_cid);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vsock_src_finalize (GObject *object)
{
  GstVsockSrc *self = GST_VSOCK_SRC (object);

  g_free (self->uri);
  vms_secret_free (self->secret);
  g_free (self->secret_file);
  g_mutex_clear (&self->conn_lock);
  g_mutex_clear (&self->link_lock);
  g_cond_clear (&self->link_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vsock_src_class_init (GstVsockSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *bsrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *psrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_vsock_src_set_property;
  gobject_class->get_property = gst_vsock_src_get_property;
  gobject_class->finalize = gst_vsock_src_finalize;

  g_object_class_install_property (
      gobject_class, PROP_URI,
      g_param_spec_string (
          "uri", "URI",
          "Where to listen for the guest's vsocksink: vsock://any:PORT or "
          "vsock://CID:PORT (Linux AF_VSOCK), unix:///path or "
          "unix://@abstract-name (macOS hybrid vsock lands guest port P on "
          "the Unix socket <path>_<P>; QEMU serial chardevs), or "
          "tcp://HOST:PORT (port 0 picks a free port, see bound-port)",
          DEFAULT_URI,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean (
          "is-live", "Is live",
          "Act as a live source: buffers are timestamped with the running "
          "time at which they arrived. When false the sender's timestamps "
          "are kept",
          DEFAULT_IS_LIVE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_TIMEOUT,
      g_param_spec_uint (
          "timeout", "Timeout",
          "Post a warning on the bus when no frame arrived for this many "
          "milliseconds (0 = never); posted once per silence",
          0, G_MAXUINT, DEFAULT_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_HANDSHAKE_TIMEOUT,
      g_param_spec_uint (
          "handshake-timeout", "Handshake timeout",
          "Milliseconds a new sender has to complete its whole handshake "
          "(HELLO to AUTH) before the connection is dropped; handshakes run "
          "in threads of their own, the current sender streams on meanwhile",
          1, G_MAXUINT, DEFAULT_HANDSHAKE_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_MAX_FRAME_SIZE,
      g_param_spec_uint (
          "max-frame-size", "Max frame size",
          "Largest frame in bytes accepted from a sender (told to the sender "
          "in the handshake; larger frames are refused before any "
          "allocation)",
          1, VMS_HARD_MAX_FRAME, DEFAULT_MAX_FRAME_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_BUFFER_SIZE,
      g_param_spec_int (
          "buffer-size", "Socket buffer size",
          "Socket receive buffer size in bytes (0 keeps the system default)", 0,
          G_MAXINT, DEFAULT_BUFFER_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_FORWARD_EOS,
      g_param_spec_boolean (
          "forward-eos", "Forward EOS",
          "End the stream when the sender sends end-of-stream, instead of "
          "waiting for the next sender",
          DEFAULT_FORWARD_EOS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_REPEAT_INTERVAL,
      g_param_spec_uint (
          "repeat-interval", "Repeat interval",
          "When live: push the last frame again whenever no new one arrived "
          "for this many milliseconds (also while no sender is connected), "
          "so the encoder and viewers get a steady stream from a sender that "
          "sends only when its screen changed. Repeats carry the frame's "
          "capture time and are counted in stats as repeats. 0 = never",
          0, 60000, DEFAULT_REPEAT_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_BOUND_PORT,
      g_param_spec_uint (
          "bound-port", "Bound port",
          "The port actually listened on (tcp:// and vsock://), known once "
          "the element is in READY or above",
          0, G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics",
          "Counters: frames-received, bytes-received, connections, "
          "disconnects, rejected (connections refused or dropped: protocol "
          "errors, failed authentication or peer checks), "
          "disconts, caps-changes, last-transit-ns (arrival minus the "
          "sender's capture time), resyncs (HELLOs found after skipping "
          "bytes of an old stream, as after a restart behind virtio-serial), "
          "bytes-skipped, repeats (frames pushed again by repeat-interval); "
          "and the current state: sender (one is connected), "
          "sender-resizable (its HELLO offered RESIZE)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (
      gobject_class, PROP_SECRET,
      g_param_spec_string (
          "secret", "Link secret",
          "Secret the sender must prove in its handshake (protocol version "
          "2: HMAC-SHA256 over a fresh nonce, the secret itself never "
          "crosses the link); 1..256 bytes. Empty: no secret required, and "
          "anyone who can connect may become the sender. Prefer "
          "secret-file, which keeps the secret out of the process list. "
          "Write-only",
          NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_SECRET_FILE,
      g_param_spec_string (
          "secret-file", "Link secret file",
          "File whose first line is the link secret (read when the element "
          "starts; takes precedence over secret). Keep it mode 0600",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_ALLOWED_UID,
      g_param_spec_int64 (
          "allowed-uid", "Allowed uid",
          "unix:// only: the uid a connecting process must run as "
          "(SO_PEERCRED); other peers are refused before they say a word. "
          "-1 allows any uid. Default: the uid this process runs as",
          -1, G_MAXUINT32 - 1, (gint64)getuid (),
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_ALLOWED_CID,
      g_param_spec_int64 (
          "allowed-cid", "Allowed CID",
          "vsock:// only: the CID of the only VM that may connect (the "
          "session's guest, e.g. the guest-cid of its vhost-vsock-pci "
          "device); -1 allows any CID. tcp:// has no peer identity: use a "
          "secret",
          -1, G_MAXUINT32 - 1, -1,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (
      element_class, "VM socket source", "Source/Network/Video",
      "Receives raw or encoded video sent by vsocksink from a virtual "
      "machine over vsock, Unix sockets or TCP, as a live source that "
      "survives the sender going away",
      "vmstream developers");

  bsrc_class->start = GST_DEBUG_FUNCPTR (gst_vsock_src_start);
  bsrc_class->stop = GST_DEBUG_FUNCPTR (gst_vsock_src_stop);
  bsrc_class->unlock = GST_DEBUG_FUNCPTR (gst_vsock_src_unlock);
  bsrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_vsock_src_unlock_stop);
  bsrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_vsock_src_get_caps);
  bsrc_class->event = GST_DEBUG_FUNCPTR (gst_vsock_src_event);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_vsock_src_send_event);
  psrc_class->create = GST_DEBUG_FUNCPTR (gst_vsock_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_vsock_src_debug, "vsocksrc", 0,
                           "VM socket source");
}

static void
gst_vsock_src_init (GstVsockSrc *self)
{
  self->uri = g_strdup (DEFAULT_URI);
  self->is_live = DEFAULT_IS_LIVE;
  self->timeout_ms = DEFAULT_TIMEOUT;
  self->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT;
  self->max_frame_size = DEFAULT_MAX_FRAME_SIZE;
  self->buffer_size = DEFAULT_BUFFER_SIZE;
  self->forward_eos = DEFAULT_FORWARD_EOS;
  self->repeat_interval_ms = DEFAULT_REPEAT_INTERVAL;
  self->allowed_uid = getuid ();
  self->allowed_cid = -1;
  self->wake_fds[0] = self->wake_fds[1] = -1;
  g_mutex_init (&self->conn_lock);
  g_mutex_init (&self->link_lock);
  g_cond_init (&self->link_cond);
  g_queue_init (&self->handshakes);
  gst_poll_fd_init (&self->wake_pfd);
  gst_poll_fd_init (&self->listen_pfd);
  gst_poll_fd_init (&self->conn_pfd);
  gst_base_src_set_live (GST_BASE_SRC (self), DEFAULT_IS_LIVE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static gboolean
plugin_init (GstPlugin *plugin)
{
  return GST_ELEMENT_REGISTER (vsocksrc, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vsocksrc,
                   "Receive video from a virtual machine (vmstream)",
                   plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME,
                   GST_PACKAGE_ORIGIN)
