/* vsocksink: guest-side sink that sends frames out of a VM.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-vsocksink
 * @title: vsocksink
 *
 * Sends buffers (raw video frames with their plane layout, or encoded video
 * such as H.264) out of a virtual machine to a #vsocksrc on the host, over
 * virtio-vsock, a Unix socket, TCP or a virtio-serial port.
 *
 * The sink connects; the host's vsocksrc listens. When the host is away or
 * restarts, the sink keeps the pipeline running, drops frames (counted in
 * #GstVsockSink:stats) and reconnects with exponential backoff. On a
 * virtio-serial port (serial://) the guest kernel reports the host side's
 * state: while QEMU's chardev is not connected (the host receiver restarts)
 * the port hangs up, the sink drops frames without blocking and reopens it
 * every #GstVsockSink:reconnect-interval, and says HELLO again as soon as
 * the host side is back. When the host
 * is slow, a frame that cannot start to be sent within
 * #GstVsockSink:max-send-wait is dropped whole: memory never grows. Frames
 * are written with one vectored write straight from the mapped buffer
 * memory. The sink does not synchronise to the clock by default (sync=false):
 * frames leave as soon as they are captured.
 *
 * When the host requires a link secret (vsocksrc secret or secret-file), set
 * the same one with #GstVsockSink:secret-file (or #GstVsockSink:secret): the
 * sink answers the host's challenge with HMAC-SHA256 of it, so the secret
 * itself never crosses the link.
 *
 * With #GstVsockSink:resize-program set, the HELLO tells the host that this
 * sender can change its picture's size: a RESIZE from the host (the host's
 * vsocksrc got a vmstream-resize upstream event) is posted on the bus as a
 * vmstream-resize element message with width and height, and the program
 * runs as PROGRAM WIDTH HEIGHT. Whatever it changes upstream (a
 * compositor's output mode) comes back as new caps, which the host gets as
 * a CAPS message. The back-channel is read before each frame.
 *
 * ## Example (in a guest)
 * |[
 * gst-launch-1.0 ximagesrc use-damage=false ! videoconvert ! \
 *     video/x-raw,format=NV12 ! vsocksink uri=vsock://2:5000
 * ]|
 */
#include "gstvsocksink.h"

#include "vmsio.h"
#include "vmsresize.h"

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_vsock_sink_debug);
#define GST_CAT_DEFAULT gst_vsock_sink_debug

#define DEFAULT_URI NULL
#define DEFAULT_RECONNECT_INTERVAL 200
#define DEFAULT_MAX_RECONNECT_INTERVAL 5000
#define DEFAULT_TIMEOUT 3000
#define DEFAULT_MAX_SEND_WAIT 100
#define DEFAULT_BUFFER_SIZE (4 * 1024 * 1024)
#define DEFAULT_KEEPALIVE 1000

enum {
  PROP_0,
  PROP_URI,
  PROP_RECONNECT_INTERVAL,
  PROP_MAX_RECONNECT_INTERVAL,
  PROP_TIMEOUT,
  PROP_MAX_SEND_WAIT,
  PROP_BUFFER_SIZE,
  PROP_STATS,
  PROP_SECRET,
  PROP_SECRET_FILE,
  PROP_KEEPALIVE,
  PROP_RESIZE_PROGRAM,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define gst_vsock_sink_parent_class parent_class
G_DEFINE_TYPE (GstVsockSink, gst_vsock_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (vsocksink, "vsocksink", GST_RANK_NONE,
                             GST_TYPE_VSOCK_SINK);

static void
gst_vsock_sink_disconnect (GstVsockSink *self, const gchar *why)
{
  if (self->pfd.fd < 0)
    return;
  GST_INFO_OBJECT (self, "closing connection: %s", why);
  gst_poll_remove_fd (self->poll, &self->pfd);
  close (self->pfd.fd);
  gst_poll_fd_init (&self->pfd);
  if (self->connected) {
    GST_OBJECT_LOCK (self);
    self->disconnects++;
    GST_OBJECT_UNLOCK (self);
    self->connected = FALSE;
  }
  self->discont_pending = TRUE;
  self->next_attempt = g_get_monotonic_time () * GST_USECOND;
}

static void
gst_vsock_sink_schedule_retry (GstVsockSink *self, GError *err)
{
  g_autofree gchar *uri = vms_address_to_string (self->addr);
  guint interval = self->backoff_ms;
  /* The host side of a virtio-serial port is away (POLLHUP): asking again
   * costs an open and a poll, and the host is back the moment it is, so
   * the first interval repeats instead of growing. */
  gboolean host_away
      = self->addr->kind == VMS_TRANSPORT_SERIAL && err != NULL
        && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);

  GST_OBJECT_LOCK (self);
  if (host_away)
    interval = self->backoff_ms = self->reconnect_interval_ms;
  else
    self->backoff_ms = MIN (
        MAX (self->backoff_ms * 2, 1),
        MAX (self->max_reconnect_interval_ms, self->reconnect_interval_ms));
  GST_OBJECT_UNLOCK (self);
  self->next_attempt
      = g_get_monotonic_time () * GST_USECOND + interval * GST_MSECOND;

  if (!self->warned_unreachable) {
    GST_ELEMENT_WARNING (
        self, RESOURCE, OPEN_WRITE,
        ("Cannot send to the host at %s; frames are dropped until it is "
         "reachable, retrying with backoff.",
         uri),
        ("%s", err ? err->message : "unknown reason"));
    self->warned_unreachable = TRUE;
  } else {
    GST_DEBUG_OBJECT (self, "retry in %u ms: %s", interval,
                      err ? err->message : "");
  }
}

static gboolean
gst_vsock_sink_write (GstVsockSink *self, struct iovec *iov, gint n,
                      GError **error)
{
  return vms_io_writev_all (self->poll, &self->pfd, self->is_socket, iov, n,
                            self->timeout_ms * GST_MSECOND, NULL, error);
}

/* The link secret from secret-file (preferred) or secret. */
static gboolean
gst_vsock_sink_load_secret (GstVsockSink *self, gchar **key, gsize *key_len,
                            GError **error)
{
  g_autofree gchar *secret = NULL, *secret_file = NULL;

  GST_OBJECT_LOCK (self);
  secret = g_strdup (self->secret);
  secret_file = g_strdup (self->secret_file);
  GST_OBJECT_UNLOCK (self);

  *key = NULL;
  *key_len = 0;
  if (secret_file != NULL && *secret_file != '\0') {
    *key = vms_secret_load_file (secret_file, key_len, error);
    if (*key == NULL)
      return FALSE;
  } else if (secret != NULL && *secret != '\0') {
    if (!vms_secret_check (secret, strlen (secret), error))
      return FALSE;
    *key_len = strlen (secret);
    *key = g_steal_pointer (&secret);
  }
  if (secret != NULL)
    memset (secret, 0, strlen (secret));
  return TRUE;
}

/* Before each handshake: the file may have been rewritten (a new session
 * secret); an unreadable file keeps the secret read before. */
static void
gst_vsock_sink_reload_secret (GstVsockSink *self)
{
  GError *err = NULL;
  gchar *key;
  gsize len;

  if (!gst_vsock_sink_load_secret (self, &key, &len, &err)) {
    GST_DEBUG_OBJECT (self, "keeping the secret read before: %s", err->message);
    g_clear_error (&err);
    return;
  }
  vms_secret_free (self->key);
  self->key = key;
  self->key_len = len;
}

/* HELLO with our caps, on the newly connected pfd */
static gboolean
gst_vsock_sink_send_hello (GstVsockSink *self, GError **error)
{
  guint8 hello_buf[VMS_HELLO_SIZE];
  VmsHello hello = { 0 };
  struct iovec iov[2];

  hello.version = VMS_PROTOCOL_VERSION;
  hello.flags = VMS_HELLO_FLAG_BACK_CHANNEL;
  if (self->resize_argv0 != NULL)
    hello.flags |= VMS_HELLO_FLAG_RESIZE;
  hello.caps_len = strlen (self->caps_str);
  vms_hello_write (hello_buf, &hello);
  iov[0].iov_base = hello_buf;
  iov[0].iov_len = sizeof (hello_buf);
  iov[1].iov_base = self->caps_str;
  iov[1].iov_len = hello.caps_len;
  return gst_vsock_sink_write (self, iov, 2, error);
}

/* A version 2 receiver's CHALLENGE, whose first VMS_WELCOME_SIZE bytes are
 * in @challenge_buf: the rest read, AUTH (with our MAC when we have a
 * secret) sent, and the WELCOME that follows read into @welcome_buf.
 * *need_secret: the host requires the link secret. */
static gboolean
gst_vsock_sink_answer_challenge (GstVsockSink *self, guint8 *challenge_buf,
                                 guint8 *welcome_buf, GstClockTime timeout,
                                 gboolean *need_secret, GError **error)
{
  guint8 auth_buf[VMS_AUTH_SIZE];
  VmsChallenge challenge;
  VmsAuth auth = { VMS_PROTOCOL_VERSION, 0, { 0 } };
  struct iovec iov[1];

  if (!vms_io_read_all (
          self->poll, &self->pfd, challenge_buf + VMS_WELCOME_SIZE,
          VMS_CHALLENGE_SIZE - VMS_WELCOME_SIZE, timeout, NULL, error)
      || !vms_challenge_parse (challenge_buf, VMS_CHALLENGE_SIZE, &challenge,
                               error))
    return FALSE;
  gst_vsock_sink_reload_secret (self);
  if (self->key != NULL) {
    auth.flags = VMS_AUTH_FLAG_MAC;
    vms_auth_compute_mac ((const guint8 *)self->key, self->key_len,
                          challenge.nonce, auth.mac);
  }
  *need_secret = (challenge.flags & VMS_CHALLENGE_FLAG_SECRET_REQUIRED) != 0;
  vms_auth_write (auth_buf, &auth);
  memset (&auth, 0, sizeof (auth));
  iov[0].iov_base = auth_buf;
  iov[0].iov_len = sizeof (auth_buf);
  if (!gst_vsock_sink_write (self, iov, 1, error))
    return FALSE;
  return vms_io_read_all (self->poll, &self->pfd, welcome_buf, VMS_WELCOME_SIZE,
                          timeout, NULL, error);
}

/* FALSE with @error when the WELCOME refuses us (warned once for a wrong
 * or missing secret); *fatal when retrying cannot help. */
static gboolean
gst_vsock_sink_check_welcome (GstVsockSink *self, const VmsWelcome *welcome,
                              gboolean *fatal, GError **error)
{
  if (welcome->status == VMS_STATUS_AUTH_FAILED) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_AUTH,
                 "the host refused the stream: %s",
                 vms_status_to_string (welcome->status));
    if (!self->warned_auth) {
      GST_ELEMENT_WARNING (
          self, RESOURCE, OPEN_WRITE,
          ("The host requires the link secret and refused ours: %s. Check "
           "secret or secret-file; retrying with backoff.",
           self->key == NULL ? "this sink has none set"
                             : "ours is not the host's"),
          ("%s", (*error)->message));
      self->warned_auth = TRUE;
      /* the retry warning would only repeat it */
      self->warned_unreachable = TRUE;
    }
    return FALSE;
  }
  if (welcome->status != VMS_STATUS_OK) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_REFUSED,
                 "the host refused the stream: %s (status %u)",
                 vms_status_to_string (welcome->status), welcome->status);
    *fatal = welcome->status == VMS_STATUS_BAD_VERSION
             || welcome->status == VMS_STATUS_BAD_CAPS;
    return FALSE;
  }
  return TRUE;
}

/* The handshake is done: a new stream starts (state reset, told once
 * after the host had been unreachable). */
static void
gst_vsock_sink_connected (GstVsockSink *self, const VmsWelcome *welcome,
                          gboolean host_pongs)
{
  self->warned_auth = FALSE;
  self->peer_max_frame = welcome->max_frame;
  self->host_pongs = host_pongs;
  self->last_ping_us = g_get_monotonic_time ();
  self->ping_due_us = 0;
  self->back_len = 0;
  self->connected = TRUE;
  self->caps_pending = FALSE;
  self->discont_pending = TRUE;
  self->warned_oversize = FALSE;
  GST_OBJECT_LOCK (self);
  self->connects++;
  self->backoff_ms = self->reconnect_interval_ms;
  GST_OBJECT_UNLOCK (self);
  if (self->warned_unreachable) {
    g_autofree gchar *uri = vms_address_to_string (self->addr);
    GST_ELEMENT_INFO (self, RESOURCE, OPEN_WRITE,
                      ("Connected to the host at %s again.", uri), (NULL));
  }
  self->warned_unreachable = FALSE;
  GST_INFO_OBJECT (self, "connected, host accepts frames up to %u bytes",
                   welcome->max_frame);
}

/* Connects and performs the HELLO/WELCOME handshake. Returns FALSE with
 * *fatal set when the host refused us for a reason retrying cannot fix. */
static gboolean
gst_vsock_sink_connect (GstVsockSink *self, gboolean *fatal, GError **error)
{
  guint8 welcome_buf[VMS_WELCOME_SIZE];
  guint8 challenge_buf[VMS_CHALLENGE_SIZE];
  gboolean need_secret = FALSE, host_pongs = FALSE;
  VmsWelcome welcome;
  gboolean in_progress;
  GstClockTime timeout = self->timeout_ms * GST_MSECOND;
  gint fd;

  *fatal = FALSE;
  fd = vms_transport_connect (self->addr, &in_progress, error);
  if (fd < 0)
    return FALSE;

  gst_poll_fd_init (&self->pfd);
  self->pfd.fd = fd;
  gst_poll_add_fd (self->poll, &self->pfd);
  self->is_socket = vms_transport_is_socket (fd);

  if (in_progress) {
    if (!vms_io_wait (self->poll, &self->pfd, FALSE, timeout, error)
        || !vms_transport_connect_finish (fd, error))
      goto failed;
  }
  vms_transport_tune (fd, self->buffer_size);
  if (!gst_vsock_sink_send_hello (self, error))
    goto failed;

  /* A version 2 receiver challenges us first; a version 1 receiver (or
   * one refusing us outright) answers WELCOME at once. */
  if (!vms_io_read_all (self->poll, &self->pfd, challenge_buf, VMS_WELCOME_SIZE,
                        timeout, NULL, error))
    goto failed;
  if (memcmp (challenge_buf, VMS_CHALLENGE_MAGIC, VMS_MAGIC_LEN) == 0) {
    if (!gst_vsock_sink_answer_challenge (self, challenge_buf, welcome_buf,
                                          timeout, &need_secret, error))
      goto failed;
    host_pongs = TRUE;
  } else {
    memcpy (welcome_buf, challenge_buf, sizeof (welcome_buf));
  }
  if (!vms_welcome_parse (welcome_buf, sizeof (welcome_buf), &welcome, error)
      || !gst_vsock_sink_check_welcome (self, &welcome, fatal, error))
    goto failed;
  if (need_secret)
    GST_DEBUG_OBJECT (self, "authenticated with the link secret");
  gst_vsock_sink_connected (self, &welcome, host_pongs);
  return TRUE;

failed:
  gst_poll_remove_fd (self->poll, &self->pfd);
  close (fd);
  gst_poll_fd_init (&self->pfd);
  return FALSE;
}

static gboolean
gst_vsock_sink_send_simple (GstVsockSink *self, VmsMsgType type,
                            const gchar *payload, GError **error)
{
  guint8 hdr_buf[VMS_MSG_HEADER_SIZE];
  VmsMsgHeader hdr = { 0 };
  struct iovec iov[2];

  hdr.type = type;
  hdr.pts = hdr.dts = hdr.duration = GST_CLOCK_TIME_NONE;
  hdr.seq = self->seq;
  hdr.size = payload ? strlen (payload) : 0;
  vms_msg_header_write (hdr_buf, &hdr);
  iov[0].iov_base = hdr_buf;
  iov[0].iov_len = sizeof (hdr_buf);
  iov[1].iov_base = (gpointer)payload;
  iov[1].iov_len = hdr.size;
  return gst_vsock_sink_write (self, iov, payload ? 2 : 1, error);
}

static void
gst_vsock_sink_request_keyframe (GstVsockSink *self)
{
  GST_DEBUG_OBJECT (self, "asking upstream for a key unit");
  gst_pad_push_event (GST_BASE_SINK_PAD (self),
                      gst_video_event_new_upstream_force_key_unit (
                          GST_CLOCK_TIME_NONE, TRUE, 0));
}

/* The host asks for another picture size: the bus hears it, and
 * resize-program runs with the two numbers as its arguments (no shell; a
 * double fork, so nothing is left to reap). It does not wait: the new size
 * comes as new caps from upstream, which the host gets as CAPS. */
static void
gst_vsock_sink_resize (GstVsockSink *self, const guint8 *payload, gsize len)
{
  g_autoptr (GError) err = NULL;
  gchar w[16], h[16];
  gchar *argv[] = { self->resize_argv0, w, h, NULL };
  guint32 width, height;

  if (!vms_back_resize_parse (payload, len, &width, &height, &err)) {
    GST_WARNING_OBJECT (self, "ignoring a RESIZE: %s", err->message);
    return;
  }
  GST_INFO_OBJECT (self, "the host asks for %ux%u", width, height);
  gst_element_post_message (
      GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
                               gst_structure_new (VMS_RESIZE_MESSAGE, "width",
                                                  G_TYPE_INT, (gint)width,
                                                  "height", G_TYPE_INT,
                                                  (gint)height, NULL)));
  if (self->resize_argv0 == NULL)
    return;
  g_snprintf (w, sizeof (w), "%u", width);
  g_snprintf (h, sizeof (h), "%u", height);
  if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL,
                      NULL, &err))
    GST_ELEMENT_WARNING (
        self, RESOURCE, FAILED,
        ("Cannot run the resize program %s.", self->resize_argv0),
        ("%s", err->message));
}

static void
gst_vsock_sink_handle_back (GstVsockSink *self, const VmsBackHeader *hdr,
                            const guint8 *payload)
{
  switch (hdr->type) {
    case VMS_BACK_RESIZE:
      gst_vsock_sink_resize (self, payload, hdr->len);
      break;
    case VMS_BACK_KEYFRAME_REQUEST:
      gst_vsock_sink_request_keyframe (self);
      break;
    case VMS_BACK_PONG:
      self->ping_due_us = 0;
      break;
    case VMS_BACK_NAVIGATION: {
      g_autofree gchar *str = g_strndup ((const gchar *)payload, hdr->len);
      GstStructure *s = g_utf8_validate (str, -1, NULL)
                                && vms_nesting_ok (str, strlen (str))
                            ? gst_structure_from_string (str, NULL)
                            : NULL;
      if (s == NULL) {
        GST_WARNING_OBJECT (self, "ignoring malformed navigation message");
        break;
      }
      gst_pad_push_event (GST_BASE_SINK_PAD (self),
                          gst_event_new_navigation (s));
      break;
    }
    default:
      break;
  }
}

/* Reads whatever back-channel messages the host sent, without blocking.
 * Returns FALSE when the connection is gone or the host sent garbage. */
static gboolean
gst_vsock_sink_poll_back (GstVsockSink *self, GError **error)
{
  for (;;) {
    gsize need = VMS_BACK_HEADER_SIZE;
    VmsBackHeader hdr;
    ssize_t n;

    if (self->back_len >= VMS_BACK_HEADER_SIZE) {
      if (!vms_back_header_parse (self->back_buf, self->back_len, &hdr, error))
        return FALSE;
      need += hdr.len;
      if (self->back_len == need) {
        gst_vsock_sink_handle_back (self, &hdr,
                                    self->back_buf + VMS_BACK_HEADER_SIZE);
        self->back_len = 0;
        continue;
      }
    }
    n = read (self->pfd.fd, self->back_buf + self->back_len,
              need - self->back_len);
    if (n > 0) {
      self->back_len += n;
      continue;
    }
    if (n == 0) {
      /* A virtio-serial port reads end-of-file only while its host side is
       * not connected (the host restarts): the link is lost either way. */
      if (!self->is_socket) {
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                             "the host side of the serial port is not "
                             "connected");
        return FALSE;
      }
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                           "the host closed the connection");
      return FALSE;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN)
      return TRUE;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "read failed: %s", g_strerror (errno));
    return FALSE;
  }
}

static void
gst_vsock_sink_drop (GstVsockSink *self, GstBuffer *buf, const gchar *why)
{
  GST_LOG_OBJECT (self, "dropping frame: %s", why);
  GST_OBJECT_LOCK (self);
  self->frames_dropped++;
  GST_OBJECT_UNLOCK (self);
  self->discont_pending = TRUE;
}

/* Sender's CLOCK_REALTIME at capture: from a unix reference timestamp when
 * upstream attached one, else derived from the buffer's running time. */
static guint64
gst_vsock_sink_capture_time (GstVsockSink *self, GstBuffer *buf)
{
  GstBaseSink *bsink = GST_BASE_SINK (self);
  GstReferenceTimestampMeta *meta;
  guint64 now_real = (guint64)g_get_real_time () * GST_USECOND;
  GstClock *clock;

  meta
      = gst_buffer_get_reference_timestamp_meta (buf, vms_capture_time_caps ());
  if (meta != NULL)
    return meta->timestamp;

  clock = gst_element_get_clock (GST_ELEMENT (self));
  if (clock != NULL && GST_BUFFER_PTS_IS_VALID (buf)) {
    GstClockTime rt = gst_segment_to_running_time (
        &bsink->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
    GstClockTime now = gst_clock_get_time (clock);
    GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));

    if (GST_CLOCK_TIME_IS_VALID (rt) && now >= base + rt) {
      GstClockTime age = now - base - rt;
      if (age < 10 * GST_SECOND)
        now_real -= age;
    }
  }
  if (clock)
    gst_object_unref (clock);
  return now_real;
}

static gboolean
gst_vsock_sink_fill_layout (GstVsockSink *self, GstBuffer *buf,
                            VmsMsgHeader *hdr)
{
  GstVideoMeta *vmeta;
  guint i;

  if (!self->is_video)
    return TRUE;
  vmeta = gst_buffer_get_video_meta (buf);
  if (vmeta != NULL) {
    if (vmeta->n_planes > VMS_MAX_PLANES)
      return FALSE;
    hdr->n_planes = vmeta->n_planes;
    for (i = 0; i < vmeta->n_planes; i++) {
      hdr->offset[i] = vmeta->offset[i];
      hdr->stride[i] = vmeta->stride[i];
    }
  } else {
    hdr->n_planes = GST_VIDEO_INFO_N_PLANES (&self->vinfo);
    for (i = 0; i < hdr->n_planes && i < VMS_MAX_PLANES; i++) {
      hdr->offset[i] = GST_VIDEO_INFO_PLANE_OFFSET (&self->vinfo, i);
      hdr->stride[i] = GST_VIDEO_INFO_PLANE_STRIDE (&self->vinfo, i);
    }
  }
  hdr->flags |= VMS_FRAME_FLAG_VIDEO_META;
  return TRUE;
}

/* PING/PONG: a host that answered no PING within timeout lost this link
 * (on virtio-serial a restarted host sees our frames mid-stream and drops
 * them): FALSE, and the link starts afresh with a new HELLO. Called before
 * each frame, after the back-channel was read. */
static gboolean
gst_vsock_sink_pong_in_time (GstVsockSink *self, GError **error)
{
  if (self->ping_due_us == 0 || g_get_monotonic_time () <= self->ping_due_us)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               "the host answered no PING for %u ms", self->timeout_ms);
  return FALSE;
}

/* Sends a PING when one is due; only called once the socket is writable,
 * so it never holds up a frame. */
static gboolean
gst_vsock_sink_maybe_ping (GstVsockSink *self, GError **error)
{
  gint64 now = g_get_monotonic_time ();
  guint keepalive_ms;

  GST_OBJECT_LOCK (self);
  keepalive_ms = self->keepalive_ms;
  GST_OBJECT_UNLOCK (self);
  if (keepalive_ms == 0 || !self->host_pongs || self->ping_due_us != 0
      || now - self->last_ping_us < (gint64)keepalive_ms * 1000)
    return TRUE;
  if (!gst_vsock_sink_send_simple (self, VMS_MSG_PING, NULL, error))
    return FALSE;
  self->last_ping_us = now;
  self->ping_due_us = now + (gint64)self->timeout_ms * 1000;
  return TRUE;
}

/* Connects when the sink is not connected and a retry is due. TRUE: go on
 * sending @buf; FALSE: *ret says what render() returns (@buf dropped, or
 * flushing, or the host's refusal as an error). */
static gboolean
gst_vsock_sink_ensure_connected (GstVsockSink *self, GstBuffer *buf,
                                 GstFlowReturn *ret)
{
  gboolean fatal = FALSE;
  GError *err = NULL;

  *ret = GST_FLOW_OK;
  if (self->connected)
    return TRUE;
  if ((GstClockTime)g_get_monotonic_time () * GST_USECOND
      < self->next_attempt) {
    gst_vsock_sink_drop (self, buf, "not connected");
    return FALSE;
  }
  if (gst_vsock_sink_connect (self, &fatal, &err))
    return TRUE;
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    *ret = GST_FLOW_FLUSHING;
  } else if (fatal) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
                       ("The host refused this stream: %s.", err->message),
                       (NULL));
    *ret = GST_FLOW_ERROR;
  } else {
    gst_vsock_sink_schedule_retry (self, err);
    gst_vsock_sink_drop (self, buf, "connect failed");
  }
  g_clear_error (&err);
  return FALSE;
}

/* FALSE (and @buf dropped) when the host cannot take @buf: larger than it
 * accepts, or a delta unit of an encoded stream after a gap. */
static gboolean
gst_vsock_sink_admit (GstVsockSink *self, GstBuffer *buf)
{
  gsize size = gst_buffer_get_size (buf);

  if (size > self->peer_max_frame) {
    if (!self->warned_oversize) {
      GST_ELEMENT_WARNING (self, STREAM, TOO_LAZY,
                           ("A frame of %" G_GSIZE_FORMAT
                            " bytes is larger than the %u bytes "
                            "the host accepts; such frames are dropped. Raise "
                            "max-frame-size on the host's vsocksrc.",
                            size, self->peer_max_frame),
                           (NULL));
      self->warned_oversize = TRUE;
    }
    gst_vsock_sink_drop (self, buf, "too large for the host");
    return FALSE;
  }
  /* A raw frame smaller than its caps say: the host would drop the whole
   * connection for its layout. Debian 12's pipewiresrc sends such frames
   * when the screen got smaller under it (it never renegotiates; the desktop
   * guest restarts its pipeline after a resize). */
  if (self->is_video && gst_buffer_get_video_meta (buf) == NULL
      && size < GST_VIDEO_INFO_SIZE (&self->vinfo)) {
    GST_DEBUG_OBJECT (self,
                      "%" G_GSIZE_FORMAT " bytes, caps need %" G_GSIZE_FORMAT,
                      size, GST_VIDEO_INFO_SIZE (&self->vinfo));
    gst_vsock_sink_drop (self, buf, "smaller than its caps say");
    return FALSE;
  }
  /* Encoded streams cannot resume on a delta unit after a gap. */
  if (!self->is_video && self->discont_pending
      && GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    gst_vsock_sink_drop (self, buf, "waiting for a key unit after a gap");
    gst_vsock_sink_request_keyframe (self);
    return FALSE;
  }
  return TRUE;
}

#define VMS_SINK_MAX_MEMORIES 16

/* Writes @buf as one FRAME message: the header, then its memories mapped
 * and written with one writev (no copy). GStreamer 1.22 buffers hold at
 * most 16 memories (gst_buffer_get_max_memory()); one of more, should a
 * later GStreamer allow it, is merged into one first. Sets *dropped when @buf
 * cannot be described (too many planes); FALSE with @error on an I/O error, or
 * with *mapped_failed when a memory cannot be read. */
static gboolean
gst_vsock_sink_send_frame (GstVsockSink *self, GstBuffer *buf,
                           gboolean *dropped, gboolean *map_failed,
                           GError **error)
{
  guint8 hdr_buf[VMS_MSG_HEADER_SIZE];
  VmsMsgHeader hdr = { 0 };
  GstMapInfo maps[VMS_SINK_MAX_MEMORIES];
  struct iovec iov[VMS_SINK_MAX_MEMORIES + 1];
  GstBuffer *merged = NULL;
  guint n_mem, i;
  gboolean ok;

  *dropped = *map_failed = FALSE;
  if (gst_buffer_n_memory (buf) > VMS_SINK_MAX_MEMORIES) {
    merged = gst_buffer_new ();
    gst_buffer_append_memory (merged, gst_buffer_get_all_memory (buf));
    gst_buffer_copy_into (merged, buf, GST_BUFFER_COPY_METADATA, 0, -1);
    buf = merged;
  }
  n_mem = gst_buffer_n_memory (buf);

  hdr.type = VMS_MSG_FRAME;
  hdr.pts = GST_BUFFER_PTS (buf);
  hdr.dts = GST_BUFFER_DTS (buf);
  hdr.duration = GST_BUFFER_DURATION (buf);
  hdr.capture_time = gst_vsock_sink_capture_time (self, buf);
  hdr.size = gst_buffer_get_size (buf);
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    hdr.flags |= VMS_FRAME_FLAG_DELTA_UNIT;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER))
    hdr.flags |= VMS_FRAME_FLAG_HEADER;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT)
      || self->discont_pending)
    hdr.flags |= VMS_FRAME_FLAG_DISCONT;
  if (!gst_vsock_sink_fill_layout (self, buf, &hdr)) {
    *dropped = TRUE;
    gst_clear_buffer (&merged);
    return TRUE;
  }
  hdr.seq = self->seq++;
  vms_msg_header_write (hdr_buf, &hdr);

  iov[0].iov_base = hdr_buf;
  iov[0].iov_len = sizeof (hdr_buf);
  for (i = 0; i < n_mem; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buf, i);
    if (!gst_memory_map (mem, &maps[i], GST_MAP_READ)) {
      while (i-- > 0)
        gst_memory_unmap (maps[i].memory, &maps[i]);
      *map_failed = TRUE;
      gst_clear_buffer (&merged);
      return FALSE;
    }
    iov[i + 1].iov_base = maps[i].data;
    iov[i + 1].iov_len = maps[i].size;
  }
  ok = gst_vsock_sink_write (self, iov, n_mem + 1, error);
  for (i = 0; i < n_mem; i++)
    gst_memory_unmap (maps[i].memory, &maps[i]);
  gst_clear_buffer (&merged);
  return ok;
}

static GstFlowReturn
gst_vsock_sink_render (GstBaseSink *bsink, GstBuffer *buf)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);
  GstFlowReturn ret;
  GError *err = NULL;
  gboolean dropped, map_failed;
  gsize size = gst_buffer_get_size (buf);

  if (!gst_vsock_sink_ensure_connected (self, buf, &ret))
    return ret;
  if (self->caps_pending) {
    if (!gst_vsock_sink_send_simple (self, VMS_MSG_CAPS, self->caps_str, &err))
      goto io_error;
    self->caps_pending = FALSE;
  }
  if (!gst_vsock_sink_poll_back (self, &err)
      || !gst_vsock_sink_pong_in_time (self, &err))
    goto io_error;
  if (!gst_vsock_sink_admit (self, buf))
    return GST_FLOW_OK;

  if (self->max_send_wait_ms >= 0
      && !vms_io_wait (self->poll, &self->pfd, FALSE,
                       self->max_send_wait_ms * GST_MSECOND, &err)) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
      g_clear_error (&err);
      gst_vsock_sink_drop (self, buf, "host busy");
      return GST_FLOW_OK;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_clear_error (&err);
      return GST_FLOW_FLUSHING;
    }
    goto io_error;
  }
  if (!gst_vsock_sink_maybe_ping (self, &err))
    goto io_error;

  if (!gst_vsock_sink_send_frame (self, buf, &dropped, &map_failed, &err)) {
    if (map_failed) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot read a buffer."),
                         (NULL));
      return GST_FLOW_ERROR;
    }
    goto io_error;
  }
  if (dropped) {
    gst_vsock_sink_drop (self, buf, "more planes than the protocol carries");
    return GST_FLOW_OK;
  }

  self->discont_pending = FALSE;
  GST_OBJECT_LOCK (self);
  self->frames_sent++;
  self->bytes_sent += size + VMS_MSG_HEADER_SIZE;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;

io_error : {
  gboolean cancelled = g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* A half-written message cannot be resumed: start afresh. */
  gst_vsock_sink_disconnect (self, err->message);
  if (cancelled) {
    g_clear_error (&err);
    return GST_FLOW_FLUSHING;
  }
  gst_vsock_sink_schedule_retry (self, err);
  g_clear_error (&err);
  gst_vsock_sink_drop (self, buf, "connection lost");
  return GST_FLOW_OK;
}
}

static gboolean
gst_vsock_sink_set_caps (GstBaseSink *bsink, GstCaps *caps)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gchar *str = gst_caps_to_string (caps);

  if (strlen (str) > VMS_MAX_CAPS_LEN) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
                       ("Caps are too long to send (%" G_GSIZE_FORMAT
                        " bytes, at most %u).",
                        strlen (str), VMS_MAX_CAPS_LEN),
                       (NULL));
    g_free (str);
    return FALSE;
  }
  self->is_video = gst_structure_has_name (s, "video/x-raw")
                   && gst_video_info_from_caps (&self->vinfo, caps);
  if (self->caps_str == NULL || strcmp (self->caps_str, str) != 0) {
    g_free (self->caps_str);
    self->caps_str = str;
    if (self->connected)
      self->caps_pending = TRUE;
  } else {
    g_free (str);
  }
  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  return TRUE;
}

static gboolean
gst_vsock_sink_event (GstBaseSink *bsink, GstEvent *event)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->connected) {
    GError *err = NULL;
    if (!gst_vsock_sink_send_simple (self, VMS_MSG_EOS, NULL, &err)) {
      gst_vsock_sink_disconnect (self, err->message);
      g_clear_error (&err);
    }
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (bsink, event);
}

static gboolean
gst_vsock_sink_start (GstBaseSink *bsink)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);
  GError *err = NULL;
  gchar *uri, *prog;

  GST_OBJECT_LOCK (self);
  uri = g_strdup (self->uri);
  self->frames_sent = self->frames_dropped = self->bytes_sent = 0;
  self->connects = self->disconnects = 0;
  self->backoff_ms = self->reconnect_interval_ms;
  GST_OBJECT_UNLOCK (self);

  self->addr = vms_address_parse (uri, &err);
  if (self->addr == NULL || !vms_address_can_connect (self->addr, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", err->message),
                       ("uri=%s", GST_STR_NULL (uri)));
    g_clear_error (&err);
    g_clear_pointer (&self->addr, vms_address_free);
    g_free (uri);
    return FALSE;
  }
  g_free (uri);
  if (!gst_vsock_sink_load_secret (self, &self->key, &self->key_len, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
                       ("Cannot use the link secret: %s.", err->message),
                       (NULL));
    g_clear_error (&err);
    g_clear_pointer (&self->addr, vms_address_free);
    return FALSE;
  }
  self->warned_auth = FALSE;

  GST_OBJECT_LOCK (self);
  prog = g_strdup (self->resize_program);
  GST_OBJECT_UNLOCK (self);
  if (prog != NULL && *prog != '\0') {
    if (g_file_test (prog, G_FILE_TEST_IS_EXECUTABLE)
        && !g_file_test (prog, G_FILE_TEST_IS_DIR)) {
      self->resize_argv0 = g_steal_pointer (&prog);
    } else {
      GST_ELEMENT_WARNING (
          self, RESOURCE, SETTINGS,
          ("The resize program %s is not an executable file: the host is not "
           "offered RESIZE.",
           prog),
          (NULL));
    }
  }
  g_free (prog);

  self->poll = gst_poll_new (TRUE);
  gst_poll_fd_init (&self->pfd);
  self->back_buf = g_malloc (VMS_BACK_HEADER_SIZE + VMS_MAX_BACK_LEN);
  self->connected = FALSE;
  self->next_attempt = 0;
  self->seq = 0;
  self->warned_unreachable = FALSE;
  self->discont_pending = TRUE;
  return TRUE;
}

static gboolean
gst_vsock_sink_stop (GstBaseSink *bsink)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);

  if (self->poll)
    gst_vsock_sink_disconnect (self, "stopping");
  g_clear_pointer (&self->poll, gst_poll_free);
  g_clear_pointer (&self->addr, vms_address_free);
  g_clear_pointer (&self->caps_str, g_free);
  g_clear_pointer (&self->back_buf, g_free);
  g_clear_pointer (&self->key, vms_secret_free);
  g_clear_pointer (&self->resize_argv0, g_free);
  self->key_len = 0;
  return TRUE;
}

static gboolean
gst_vsock_sink_unlock (GstBaseSink *bsink)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);

  if (self->poll)
    gst_poll_set_flushing (self->poll, TRUE);
  return TRUE;
}

static gboolean
gst_vsock_sink_unlock_stop (GstBaseSink *bsink)
{
  GstVsockSink *self = GST_VSOCK_SINK (bsink);

  if (self->poll)
    gst_poll_set_flushing (self->poll, FALSE);
  return TRUE;
}

static GstStructure *
gst_vsock_sink_get_stats (GstVsockSink *self)
{
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new (
      "application/x-vsocksink-stats", "frames-sent", G_TYPE_UINT64,
      self->frames_sent, "frames-dropped", G_TYPE_UINT64, self->frames_dropped,
      "bytes-sent", G_TYPE_UINT64, self->bytes_sent, "connects", G_TYPE_UINT64,
      self->connects, "disconnects", G_TYPE_UINT64, self->disconnects,
      "reconnects", G_TYPE_UINT64, self->connects > 0 ? self->connects - 1 : 0,
      NULL);
  GST_OBJECT_UNLOCK (self);
  return s;
}

static void
gst_vsock_sink_set_property (GObject *object, guint prop_id,
                             const GValue *value, GParamSpec *pspec)
{
  GstVsockSink *self = GST_VSOCK_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URI:
      vms_address_warn_if_invalid ("vsocksink", g_value_get_string (value));
      g_free (self->uri);
      self->uri = g_value_dup_string (value);
      break;
    case PROP_RECONNECT_INTERVAL:
      self->reconnect_interval_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_RECONNECT_INTERVAL:
      self->max_reconnect_interval_ms = g_value_get_uint (value);
      break;
    case PROP_TIMEOUT:
      self->timeout_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_SEND_WAIT:
      self->max_send_wait_ms = g_value_get_int64 (value);
      break;
    case PROP_BUFFER_SIZE:
      self->buffer_size = g_value_get_int (value);
      break;
    case PROP_SECRET:
      g_clear_pointer (&self->secret, vms_secret_free);
      self->secret = g_value_dup_string (value);
      break;
    case PROP_SECRET_FILE:
      g_free (self->secret_file);
      self->secret_file = g_value_dup_string (value);
      break;
    case PROP_KEEPALIVE:
      self->keepalive_ms = g_value_get_uint (value);
      break;
    case PROP_RESIZE_PROGRAM:
      g_free (self->resize_program);
      self->resize_program = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vsock_sink_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  GstVsockSink *self = GST_VSOCK_SINK (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_vsock_sink_get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URI:
      g_value_set_string (value, self->uri);
      break;
    case PROP_RECONNECT_INTERVAL:
      g_value_set_uint (value, self->reconnect_interval_ms);
      break;
    case PROP_MAX_RECONNECT_INTERVAL:
      g_value_set_uint (value, self->max_reconnect_interval_ms);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout_ms);
      break;
    case PROP_MAX_SEND_WAIT:
      g_value_set_int64 (value, self->max_send_wait_ms);
      break;
    case PROP_BUFFER_SIZE:
      g_value_set_int (value, self->buffer_size);
      break;
    case PROP_SECRET_FILE:
      g_value_set_string (value, self->secret_file);
      break;
    case PROP_KEEPALIVE:
      g_value_set_uint (value, self->keepalive_ms);
      break;
    case PROP_RESIZE_PROGRAM:
      g_value_set_string (value, self->resize_program);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vsock_sink_finalize (GObject *object)
{
  GstVsockSink *self = GST_VSOCK_SINK (object);

  g_free (self->uri);
  vms_secret_free (self->secret);
  g_free (self->secret_file);
  g_free (self->resize_program);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vsock_sink_class_init (GstVsockSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *bsink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_vsock_sink_set_property;
  gobject_class->get_property = gst_vsock_sink_get_property;
  gobject_class->finalize = gst_vsock_sink_finalize;

  g_object_class_install_property (
      gobject_class, PROP_URI,
      g_param_spec_string (
          "uri", "URI",
          "Where the host's vsocksrc listens: vsock://CID:PORT (from a guest "
          "the host is CID 2, e.g. vsock://2:5000), unix:///path, "
          "unix://@abstract-name, tcp://HOST:PORT, or "
          "serial:///dev/virtio-ports/NAME for a virtio-serial port",
          DEFAULT_URI,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_RECONNECT_INTERVAL,
      g_param_spec_uint (
          "reconnect-interval", "Reconnect interval",
          "First wait in milliseconds before reconnecting after the host "
          "went away or could not be reached; doubles on each failure up to "
          "max-reconnect-interval (a virtio-serial port whose host side is "
          "not connected is asked again at this interval, not backed off)",
          1, G_MAXUINT, DEFAULT_RECONNECT_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_MAX_RECONNECT_INTERVAL,
      g_param_spec_uint (
          "max-reconnect-interval", "Max reconnect interval",
          "Longest wait in milliseconds between reconnection attempts", 1,
          G_MAXUINT, DEFAULT_MAX_RECONNECT_INTERVAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_TIMEOUT,
      g_param_spec_uint (
          "timeout", "Timeout",
          "Milliseconds a connection attempt, the handshake, or a write "
          "during which the host accepts no byte may take before the "
          "connection is given up and re-established",
          1, G_MAXUINT, DEFAULT_TIMEOUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_MAX_SEND_WAIT,
      g_param_spec_int64 (
          "max-send-wait", "Max send wait",
          "Milliseconds a frame may wait for the host to have room before "
          "the frame is dropped whole (counted in stats); -1 waits without "
          "limit (back-pressure, no drops)",
          -1, G_MAXINT64, DEFAULT_MAX_SEND_WAIT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_BUFFER_SIZE,
      g_param_spec_int (
          "buffer-size", "Socket buffer size",
          "Socket send buffer size in bytes (0 keeps the system default)", 0,
          G_MAXINT, DEFAULT_BUFFER_SIZE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics",
          "Counters: frames-sent, frames-dropped, bytes-sent, connects, "
          "disconnects, reconnects",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (
      gobject_class, PROP_SECRET,
      g_param_spec_string (
          "secret", "Link secret",
          "Secret the host's vsocksrc requires (its secret property): the "
          "sink proves it with HMAC-SHA256 over the host's nonce, the secret "
          "itself is never sent. 1..256 bytes; empty: none. Prefer "
          "secret-file, which keeps it out of the process list. Write-only",
          NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_SECRET_FILE,
      g_param_spec_string (
          "secret-file", "Link secret file",
          "File whose first line is the link secret (e.g. on the host's "
          "read-only share); read at start and again before every "
          "connection, takes precedence over secret",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (
      gobject_class, PROP_KEEPALIVE,
      g_param_spec_uint (
          "keepalive", "Keepalive",
          "Milliseconds between PINGs to the host while frames flow (0 = "
          "off). A host that answers none with PONG within timeout has lost "
          "the link (e.g. it restarted behind a virtio-serial port): the "
          "sink starts afresh with a new HELLO",
          0, G_MAXUINT, DEFAULT_KEEPALIVE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (
      gobject_class, PROP_RESIZE_PROGRAM,
      g_param_spec_string (
          "resize-program", "Resize program",
          "Executable run as PROGRAM WIDTH HEIGHT (no shell) when the host "
          "asks for another picture size, e.g. one that changes the "
          "compositor's output mode (the desktop guest's vmstream-resize). "
          "Set: the HELLO offers RESIZE to the host. Every request is also "
          "posted as a vmstream-resize element message (fields width, "
          "height); an application that acts on those itself can name a "
          "program that does nothing, such as /bin/true. Empty: RESIZE is "
          "not offered, the host answers resize requests with a refusal",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (
      element_class, "VM socket sink", "Sink/Network/Video",
      "Sends raw or encoded video out of a virtual machine to vsocksrc over "
      "vsock, Unix sockets, TCP or virtio-serial, dropping whole frames "
      "rather than queueing when the host is slow or away",
      "vmstream developers");

  bsink_class->start = GST_DEBUG_FUNCPTR (gst_vsock_sink_start);
  bsink_class->stop = GST_DEBUG_FUNCPTR (gst_vsock_sink_stop);
  bsink_class->render = GST_DEBUG_FUNCPTR (gst_vsock_sink_render);
  bsink_class->set_caps = GST_DEBUG_FUNCPTR (gst_vsock_sink_set_caps);
  bsink_class->event = GST_DEBUG_FUNCPTR (gst_vsock_sink_event);
  bsink_class->unlock = GST_DEBUG_FUNCPTR (gst_vsock_sink_unlock);
  bsink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_vsock_sink_unlock_stop);

  GST_DEBUG_CATEGORY_INIT (gst_vsock_sink_debug, "vsocksink", 0,
                           "VM socket sink");
}

static void
gst_vsock_sink_init (GstVsockSink *self)
{
  self->uri = g_strdup (DEFAULT_URI);
  self->reconnect_interval_ms = DEFAULT_RECONNECT_INTERVAL;
  self->max_reconnect_interval_ms = DEFAULT_MAX_RECONNECT_INTERVAL;
  self->timeout_ms = DEFAULT_TIMEOUT;
  self->max_send_wait_ms = DEFAULT_MAX_SEND_WAIT;
  self->buffer_size = DEFAULT_BUFFER_SIZE;
  self->keepalive_ms = DEFAULT_KEEPALIVE;
  gst_poll_fd_init (&self->pfd);
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static gboolean
plugin_init (GstPlugin *plugin)
{
  return GST_ELEMENT_REGISTER (vsocksink, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vsocksink,
                   "Send video out of a virtual machine (vmstream)",
                   plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME,
                   GST_PACKAGE_ORIGIN)
