/* qemudisplaysrc: host-side live source of a QEMU VM's own display.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-qemudisplaysrc
 * @title: qemudisplaysrc
 *
 * Captures the screen of a QEMU virtual machine from the host, with no
 * software in the guest: it connects to QEMU's built-in VNC server on a Unix
 * socket (`qemu-system-… -vnc unix:PATH`) and pushes what the guest's
 * display device shows as raw BGRx video.
 *
 * It speaks RFB 3.8 as a client without authentication (security type
 * None; QEMU's `-vnc unix:PATH` without a password offers exactly that, and
 * the socket's file mode, 0600 in the session's runtime folder, keeps other
 * local users out). Any other security type is refused with a message on
 * the bus. It asks for 32-bit true-colour little-endian pixels (GStreamer's
 * BGRx), the raw encoding and the DesktopSize pseudo-encoding, so a guest
 * that changes its resolution renegotiates the caps. GStreamer's own
 * `rfbsrc` (gst-plugins-bad) connects over TCP only; QEMU's Unix-socket VNC
 * is the one no other local user can reach, hence this element.
 *
 * The element keeps the last complete frame and pushes it at a steady
 * #GstQemuDisplaySrc:framerate as a live source, whether the guest's
 * picture changes or not (QEMU sends only changed rectangles, and nothing
 * while the screen is still). With #GstQemuDisplaySrc:new-pictures-only it
 * pushes only pictures QEMU changed (at most framerate a second), the last
 * picture again when downstream asks for a keyframe (a force-key-unit
 * event: a viewer joined) and every #GstQemuDisplaySrc:keepalive
 * milliseconds while the screen is still: the frame rate is then variable
 * and an idle screen costs the encoder and the network almost nothing.
 * Buffers are timestamped with the pipeline's running time; each carries the
 * time its picture arrived from QEMU (CLOCK_REALTIME) as a
 * #GstReferenceTimestampMeta with caps `timestamp/x-unix`, like vsocksrc's
 * capture time.
 *
 * When the socket is missing or QEMU goes away, a warning goes to the bus,
 * the last frame (or a black 640x480 frame before the first) keeps being
 * pushed, and the element reconnects with a backoff (0.1 s doubling to 2 s)
 * until QEMU is back; the pipeline keeps PLAYING.
 *
 * With #GstQemuDisplaySrc:backend=dbus it reads QEMU's D-Bus display
 * instead, peer to peer with no bus daemon (`-display dbus,p2p=on`):
 * #GstQemuDisplaySrc:socket is then a QMP socket of QEMU's used only by this
 * element (`-qmp unix:PATH,server=on,wait=off`), over which it hands QEMU a
 * socketpair for the D-Bus connection and registers a display listener.
 * Linux only in practice (QEMU 7.x builds `-display dbus` only with EGL and
 * GBM); GL scanouts (`gl=on`) are not supported.
 *
 * ## Example
 * |[
 * qemu-system-x86_64 -accel tcg -vga std -display none \
 *     -vnc unix:$XDG_RUNTIME_DIR/vm0-vnc.sock &
 * gst-launch-1.0 qemudisplaysrc socket=$XDG_RUNTIME_DIR/vm0-vnc.sock ! \
 *     videoconvert ! autovideosink
 * ]|
 * |[
 * qemu-system-x86_64 -accel tcg -vga std -display dbus,p2p=on \
 *     -qmp unix:$XDG_RUNTIME_DIR/vm0-display-qmp.sock,server=on,wait=off &
 * gst-launch-1.0 qemudisplaysrc backend=dbus \
 *     socket=$XDG_RUNTIME_DIR/vm0-display-qmp.sock ! videoconvert ! \
 *     autovideosink
 * ]|
 */
#include "gstqemudisplaysrc.h"

#include "dbusframe.h"
#include "rfbproto.h"
#include "vmsprotocol.h"
#include "vmstransport.h"

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <gst/video/video.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_qemu_display_src_debug);
#define GST_CAT_DEFAULT gst_qemu_display_src_debug

#define DEFAULT_FPS_N 30
#define DEFAULT_FPS_D 1
#define DEFAULT_NEW_ONLY FALSE
#define DEFAULT_KEEPALIVE_MS 1000
#define BLACK_WIDTH 640
#define BLACK_HEIGHT 480
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000
#define HANDSHAKE_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define READ_CHUNK (256 * 1024)

enum {
  PROP_0,
  PROP_BACKEND,
  PROP_SOCKET,
  PROP_FRAMERATE,
  PROP_NEW_ONLY,
  PROP_KEEPALIVE,
  PROP_STATS,
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw, format = (string) BGRx, "
                     "width = (int) [ 1, 8192 ], height = (int) [ 1, 8192 ], "
                     "framerate = (fraction) [ 1/1, 240/1 ]"));

GType
gst_qemu_display_src_backend_get_type (void)
{
  static GType type;
  static const GEnumValue values[] = {
    { GST_QEMU_DISPLAY_SRC_BACKEND_VNC,
      "QEMU's VNC server on a Unix socket (-vnc unix:PATH); socket= is "
      "that path",
      "vnc" },
    { GST_QEMU_DISPLAY_SRC_BACKEND_DBUS,
      "QEMU's D-Bus display, peer to peer (-display dbus,p2p=on), set up "
      "through a QMP socket of its own (-qmp unix:PATH,server=on,wait=off); "
      "socket= is that QMP path",
      "dbus" },
    { 0, NULL, NULL },
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstQemuDisplaySrcBackend", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define gst_qemu_display_src_parent_class parent_class
G_DEFINE_TYPE (GstQemuDisplaySrc, gst_qemu_display_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (qemudisplaysrc, "qemudisplaysrc", GST_RANK_NONE,
                             GST_TYPE_QEMU_DISPLAY_SRC);

/* ------------------------------------------------------------------------ */
/* I/O thread                                                               */

/* Posts a warning unless it is the one posted last (a retry loop says
 * each new thing once). */
static void
warn_once (GstQemuDisplaySrc *self, gchar **last, gchar *text, gchar *debug)
{
  if (*last == NULL || strcmp (*last, text) != 0) {
    GST_ELEMENT_WARNING (self, RESOURCE, READ, ("%s", text), ("%s", debug));
    g_free (*last);
    *last = text;
  } else {
    GST_DEBUG_OBJECT (self, "%s", text);
    g_free (text);
  }
  g_free (debug);
}

static gint
connect_unix (const gchar *path, GError **error)
{
  struct sockaddr_un sun = { 0 };
  gint fd;

  if (strlen (path) >= sizeof (sun.sun_path)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "the path is longer than %zu bytes, the limit of a Unix "
                 "socket address",
                 sizeof (sun.sun_path) - 1);
    return -1;
  }
  sun.sun_family = AF_UNIX;
  strcpy (sun.sun_path, path);
  fd = vms_socket_new (AF_UNIX, SOCK_STREAM, 0, TRUE);
  if (fd < 0 || connect (fd, (struct sockaddr *)&sun, sizeof (sun)) < 0) {
    gint e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "%s",
                 g_strerror (e));
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return fd;
}

/* Publishes the client's framebuffer as the frame create() pushes. */
static void
publish_frame (GstQemuDisplaySrc *self, const guint8 *fb, guint width,
               guint height, GstClockTime arrival)
{
  gsize size = (gsize)width * height * RFB_BPP;
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstBuffer *old;

  gst_buffer_fill (buf, 0, fb, size);
  gst_buffer_add_reference_timestamp_meta (buf, vms_capture_time_caps (),
                                           arrival, GST_CLOCK_TIME_NONE);
  g_mutex_lock (&self->frame_lock);
  old = self->frame;
  self->frame = buf;
  self->frame_width = width;
  self->frame_height = height;
  self->frame_seq++;
  g_cond_broadcast (&self->frame_cond);
  g_mutex_unlock (&self->frame_lock);
  if (old)
    gst_buffer_unref (old);
}

typedef enum {
  SESSION_STOPPED,
  SESSION_ENDED,  /* closed or failed; *error says why */
  SESSION_RESYNC, /* D-Bus: connect again at once, for a new size */
} SessionResult;

/* Sends what the client queued; the messages are small, but the socket may
 * still be full: what does not fit waits for the next round. FALSE with
 * @error when the socket fails. */
static gboolean
send_queued (gint fd, RfbClient *c, GError **error)
{
  while (c->out->len > 0) {
    ssize_t n
        = send (fd, c->out->data, c->out->len, VMS_MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      g_byte_array_remove_range (c->out, 0, n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "cannot write to it: %s", g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* Acts on what the last feed reported: connected, resized, a new picture. */
static void
handle_rfb_events (GstQemuDisplaySrc *self, const gchar *path, RfbClient *c,
                   gchar **last_warning, gboolean *reached,
                   GstClockTime arrival)
{
  if (c->events & RFB_EVENT_READY) {
    GST_ELEMENT_INFO (self, RESOURCE, OPEN_READ,
                      ("Connected to QEMU's display \"%s\" (%ux%u) at %s.",
                       c->name, c->width, c->height, path),
                      (NULL));
    g_clear_pointer (last_warning, g_free);
    *reached = TRUE;
    GST_OBJECT_LOCK (self);
    self->connections++;
    self->connected = TRUE;
    GST_OBJECT_UNLOCK (self);
  }
  if (c->events & RFB_EVENT_RESIZED)
    GST_INFO_OBJECT (self, "QEMU's display is now %ux%u", c->width, c->height);
  if ((c->events & RFB_EVENT_UPDATE) && !c->blank) {
    publish_frame (self, c->fb, c->width, c->height, arrival);
    GST_OBJECT_LOCK (self);
    self->updates = self->updates + 1;
    GST_OBJECT_UNLOCK (self);
  }
  c->events = 0;
}

/* Reads what the socket has and feeds it to the client. FALSE with @error
 * when the connection closed, failed or broke the protocol. */
static gboolean
read_and_feed (GstQemuDisplaySrc *self, gint fd, const gchar *path,
               RfbClient *c, GByteArray *in, gchar **last_warning,
               gboolean *reached, GError **error)
{
  guint old = in->len;
  ssize_t n;
  gsize consumed;
  GstClockTime arrival;

  g_byte_array_set_size (in, old + READ_CHUNK);
  n = read (fd, in->data + old, READ_CHUNK);
  g_byte_array_set_size (in, old + MAX (n, 0));
  if (n == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                 "QEMU closed the connection");
    return FALSE;
  }
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
      return TRUE;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "cannot read from it: %s", g_strerror (errno));
    return FALSE;
  }
  arrival = g_get_real_time () * GST_USECOND;
  if (!rfb_client_feed (c, in->data, in->len, &consumed, error))
    return FALSE;
  g_byte_array_remove_range (in, 0, consumed);
  handle_rfb_events (self, path, c, last_warning, reached, arrival);
  return TRUE;
}

/* One connection: handshake, then updates until it ends or the element
 * stops. */
static SessionResult
run_session (GstQemuDisplaySrc *self, gint fd, const gchar *path, RfbClient *c,
             GByteArray *in, gchar **last_warning, gboolean *reached,
             GError **error)
{
  GstPollFD pfd;
  gint64 deadline = g_get_monotonic_time () + HANDSHAKE_TIMEOUT_US;
  SessionResult res = SESSION_ENDED;

  *reached = FALSE;
  rfb_client_reset (c);
  g_byte_array_set_size (in, 0);
  gst_poll_fd_init (&pfd);
  pfd.fd = fd;
  gst_poll_add_fd (self->poll, &pfd);

  for (;;) {
    GstClockTime timeout = GST_CLOCK_TIME_NONE;
    gboolean ready = c->state >= RFB_STATE_MESSAGE;
    gint rc;

    if (!send_queued (fd, c, error))
      goto done;

    if (!ready) {
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "the VNC handshake did not complete within %d s",
                     (gint)(HANDSHAKE_TIMEOUT_US / G_USEC_PER_SEC));
        goto done;
      }
      timeout = left * GST_USECOND;
    }
    gst_poll_fd_ctl_read (self->poll, &pfd, TRUE);
    gst_poll_fd_ctl_write (self->poll, &pfd, c->out->len > 0);
    rc = gst_poll_wait (self->poll, timeout);
    if (rc < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      res = SESSION_STOPPED; /* EBUSY: flushing, the element stops */
      goto done;
    }
    if (rc == 0)
      continue; /* the deadline is checked above */
    if ((gst_poll_fd_can_read (self->poll, &pfd)
         || gst_poll_fd_has_closed (self->poll, &pfd)
         || gst_poll_fd_has_error (self->poll, &pfd))
        && !read_and_feed (self, fd, path, c, in, last_warning, reached, error))
      goto done;
  }

done:
  gst_poll_remove_fd (self->poll, &pfd);
  if (*reached) {
    GST_OBJECT_LOCK (self);
    self->disconnects++;
    self->connected = FALSE;
    GST_OBJECT_UNLOCK (self);
  }
  return res;
}

/* ------------------------------------------------------------------------ */
/* D-Bus backend: QEMU -display dbus,p2p=on, reached through a QMP socket   */

#define QMP_TIMEOUT_MS 5000

/* Reads QMP lines until a reply ("return" or "error"; greeting and events
 * are skipped). */
static gboolean
qmp_reply (GstQemuDisplaySrc *self, gint fd, GByteArray *buf, gboolean greeting,
           GError **error)
{
  for (;;) {
    guint8 *nl = buf->len > 0 ? memchr (buf->data, '\n', buf->len) : NULL;
    GstPollFD pfd;
    gint rc;
    ssize_t n;

    if (nl) {
      gchar *line = g_strndup ((const gchar *)buf->data, nl - buf->data);
      gboolean ok = greeting ? g_str_has_prefix (line, "{\"QMP\"")
                             : g_str_has_prefix (line, "{\"return\"");
      gboolean err = !greeting && g_str_has_prefix (line, "{\"error\"");

      g_byte_array_remove_range (buf, 0, nl - buf->data + 1);
      if (ok || err) {
        if (err) {
          const gchar *d = strstr (line, "\"desc\"");
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "QEMU refused the D-Bus display client: %s",
                       d ? d : line);
        }
        g_free (line);
        return ok;
      }
      g_free (line);
      continue;
    }
    if (buf->len > 64 * 1024) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the QMP socket sent a line longer than 64 KiB");
      return FALSE;
    }
    gst_poll_fd_init (&pfd);
    pfd.fd = fd;
    gst_poll_add_fd (self->poll, &pfd);
    gst_poll_fd_ctl_read (self->poll, &pfd, TRUE);
    rc = gst_poll_wait (self->poll, QMP_TIMEOUT_MS * GST_MSECOND);
    gst_poll_remove_fd (self->poll, &pfd);
    if (rc < 0 && errno == EBUSY) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopping");
      return FALSE;
    }
    if (rc <= 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "the QMP socket did not answer within %d s (QEMU serves "
                   "one client per QMP socket: is another one connected?)",
                   QMP_TIMEOUT_MS / 1000);
      return FALSE;
    }
    g_byte_array_set_size (buf, buf->len + 4096);
    n = read (fd, buf->data + buf->len - 4096, 4096);
    g_byte_array_set_size (buf, buf->len - 4096 + MAX (n, 0));
    if (n == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "QEMU closed the QMP connection (is another client "
                   "connected to it? QEMU serves one QMP client per "
                   "socket)");
      return FALSE;
    }
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot read the QMP socket: %s", g_strerror (errno));
      return FALSE;
    }
  }
}

/* Sends one QMP command, with pass_fd (>= 0) as SCM_RIGHTS. */
static gboolean
qmp_command (GstQemuDisplaySrc *self, gint fd, GByteArray *buf,
             const gchar *json, gint pass_fd, GError **error)
{
  struct iovec iov = { (gpointer)json, strlen (json) };
  union {
    struct cmsghdr hdr;
    gchar space[CMSG_SPACE (sizeof (gint))];
  } ctl;
  struct msghdr msg = { 0 };
  ssize_t n;

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (pass_fd >= 0) {
    struct cmsghdr *c;
    memset (&ctl, 0, sizeof (ctl));
    msg.msg_control = ctl.space;
    msg.msg_controllen = sizeof (ctl.space);
    c = CMSG_FIRSTHDR (&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN (sizeof (gint));
    memcpy (CMSG_DATA (c), &pass_fd, sizeof (gint));
  }
  /* a few hundred bytes into an idle socket: one sendmsg */
  do
    n = sendmsg (fd, &msg, VMS_MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)iov.iov_len) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot write to the QMP socket: %s",
                 n < 0 ? g_strerror (errno) : "short write");
    return FALSE;
  }
  return qmp_reply (self, fd, buf, FALSE, error);
}

static const gchar listener_xml[]
    = "<node><interface name='org.qemu.Display1.Listener'>"
      "<method name='Scanout'><arg type='u' direction='in'/>"
      "<arg type='u' direction='in'/><arg type='u' direction='in'/>"
      "<arg type='u' direction='in'/><arg type='ay' direction='in'/>"
      "</method>"
      "<method name='Update'><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='u' direction='in'/>"
      "<arg type='u' direction='in'/><arg type='ay' direction='in'/>"
      "</method>"
      "<method name='ScanoutDMABUF'><arg type='h' direction='in'/>"
      "<arg type='u' direction='in'/><arg type='u' direction='in'/>"
      "<arg type='u' direction='in'/><arg type='u' direction='in'/>"
      "<arg type='t' direction='in'/><arg type='b' direction='in'/>"
      "</method>"
      "<method name='UpdateDMABUF'><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/></method>"
      "<method name='Disable'/>"
      "<method name='MouseSet'><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='i' direction='in'/>"
      "</method>"
      "<method name='CursorDefine'><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='i' direction='in'/>"
      "<arg type='i' direction='in'/><arg type='ay' direction='in'/>"
      "</method>"
      "</interface></node>";

typedef struct {
  GstQemuDisplaySrc *self;
  const gchar *path;
  gchar **last_warning;
  gboolean *reached;
  QddFrame frame;
  GDBusConnection *conn, *lconn;
  GCancellable *cancel;
  guint reg_id;
  gint pending; /* async calls whose callback has not run */
  gboolean done, dirty, resync;
  GstClockTime arrival;
  GError *error;
} DbusSession;

static void
dbus_fail (DbusSession *d, GError *err)
{
  if (d->error == NULL)
    d->error = err;
  else
    g_error_free (err);
  d->done = TRUE;
}

static void
dbus_method (GDBusConnection *conn, const gchar *sender, const gchar *path,
             const gchar *iface, const gchar *method, GVariant *params,
             GDBusMethodInvocation *inv, gpointer user_data)
{
  DbusSession *d = user_data;
  GError *err = NULL;
  gboolean ok = TRUE;

  GST_LOG_OBJECT (d->self, "%s%s", method, g_variant_get_type_string (params));

  if (strcmp (method, "Scanout") == 0 || strcmp (method, "Update") == 0) {
    gboolean scanout = method[0] == 'S';
    guint w, h, stride, format;
    gint x = 0, y = 0, iw = 0, ih = 0;
    GVariant *ay;
    gconstpointer data;
    gsize len;

    if (scanout)
      g_variant_get (params, "(uuuu@ay)", &w, &h, &stride, &format, &ay);
    else
      g_variant_get (params, "(iiiiuu@ay)", &x, &y, &iw, &ih, &stride, &format,
                     &ay);
    data = g_variant_get_fixed_array (ay, &len, 1);
    ok = scanout ? qdd_frame_scanout (&d->frame, w, h, stride, format, data,
                                      len, &err)
                 : qdd_frame_update (&d->frame, x, y, iw, ih, stride, format,
                                     data, len, &err);
    g_variant_unref (ay);
    if (!ok && !scanout && g_error_matches (err, RFB_ERROR, RFB_ERROR_BAD_RECT)
        && d->frame.fb != NULL) {
      /* QEMU 7.2 sends no new Scanout to a p2p listener when the
       * guest's display changes size, only updates of the new size: a
       * new listener gets a Scanout of the current surface */
      GST_INFO_OBJECT (d->self, "%s: registering again for the new size",
                       err->message);
      g_clear_error (&err);
      g_dbus_method_invocation_return_value (inv, NULL);
      d->resync = TRUE;
      d->done = TRUE;
      return;
    }
    if (ok) {
      d->dirty = TRUE;
      d->arrival = g_get_real_time () * GST_USECOND;
      if (!*d->reached) {
        *d->reached = TRUE;
        g_clear_pointer (d->last_warning, g_free);
        GST_ELEMENT_INFO (d->self, RESOURCE, OPEN_READ,
                          ("Connected to QEMU's D-Bus display (%ux%u) "
                           "through %s.",
                           d->frame.width, d->frame.height, d->path),
                          (NULL));
        GST_OBJECT_LOCK (d->self);
        d->self->connections++;
        d->self->connected = TRUE;
        GST_OBJECT_UNLOCK (d->self);
      }
    }
  } else if (strcmp (method, "ScanoutDMABUF") == 0) {
    ok = FALSE;
    g_set_error (&err, RFB_ERROR, RFB_ERROR_BAD_ENCODING,
                 "QEMU renders with GL and sends DMA-BUF scanouts, which "
                 "qemudisplaysrc does not import: start QEMU with "
                 "-display dbus,p2p=on,gl=off");
  }
  if (ok) {
    g_dbus_method_invocation_return_value (inv, NULL);
  } else {
    g_dbus_method_invocation_return_error_literal (
        inv, G_DBUS_ERROR, G_DBUS_ERROR_NOT_SUPPORTED, err->message);
    dbus_fail (d, err);
  }
}

static const GDBusInterfaceVTable listener_vtable
    = { dbus_method, NULL, NULL, { 0 } };

static void
dbus_closed (GDBusConnection *conn, gboolean remote, GError *err,
             gpointer user_data)
{
  dbus_fail (user_data, g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                     "QEMU closed the D-Bus connection%s%s",
                                     err ? ": " : "", err ? err->message : ""));
}

static void
dbus_listener_ready (GObject *src, GAsyncResult *res, gpointer user_data)
{
  DbusSession *d = user_data;
  GError *err = NULL;
  GDBusConnection *c = g_dbus_connection_new_finish (res, &err);
  GDBusNodeInfo *node;

  d->pending--;
  if (c != NULL && d->done) {
    g_object_unref (c);
    return;
  }
  if (c == NULL) {
    dbus_fail (d, err);
    return;
  }
  d->lconn = c;
  node = g_dbus_node_info_new_for_xml (listener_xml, NULL);
  d->reg_id = g_dbus_connection_register_object (
      c, "/org/qemu/Display1/Listener", node->interfaces[0], &listener_vtable,
      d, NULL, &err);
  g_dbus_node_info_unref (node);
  if (d->reg_id == 0) {
    dbus_fail (d, err);
    return;
  }
  g_signal_connect (c, "closed", G_CALLBACK (dbus_closed), d);
  g_dbus_connection_start_message_processing (c);
}

static void
dbus_registered (GObject *src, GAsyncResult *res, gpointer user_data)
{
  DbusSession *d = user_data;
  GError *err = NULL;
  GVariant *r = g_dbus_connection_call_with_unix_fd_list_finish (
      G_DBUS_CONNECTION (src), NULL, res, &err);

  d->pending--;
  if (r == NULL) {
    g_prefix_error (&err, "RegisterListener on QEMU's console 0: ");
    dbus_fail (d, err);
    return;
  }
  g_variant_unref (r);
}

static gboolean
dbus_tick (gpointer user_data)
{
  DbusSession *d = user_data;

  if (d->dirty) {
    d->dirty = FALSE;
    publish_frame (d->self, d->frame.fb, d->frame.width, d->frame.height,
                   d->arrival);
    GST_OBJECT_LOCK (d->self);
    d->self->updates++;
    GST_OBJECT_UNLOCK (d->self);
  }
  return G_SOURCE_CONTINUE;
}

static GIOStream *
stream_from_fd (gint fd, GError **error)
{
  GSocket *sock = g_socket_new_from_fd (fd, error);
  GIOStream *s;

  if (sock == NULL) {
    close (fd);
    return NULL;
  }
  s = G_IO_STREAM (g_socket_connection_factory_create_connection (sock));
  g_object_unref (sock);
  return s;
}

/* Connects to QMP, makes the two socketpairs and hands QEMU one end of @sv
 * (getfd + add_client @dbus-display); closes that end here once QEMU has it.
 * @sv and @lp stay the caller's to close. */
static gboolean
qmp_add_dbus_client (GstQemuDisplaySrc *self, const gchar *path, gint sv[2],
                     gint lp[2], GError **error)
{
  GByteArray *buf = g_byte_array_new ();
  gint qmp;
  gboolean ok = FALSE;

  qmp = connect_unix (path, error);
  if (qmp < 0) {
    g_prefix_error (error, "cannot connect to the QMP socket: ");
    goto done;
  }
  if (!vms_socketpair_new (sv) || !vms_socketpair_new (lp)) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "socketpair: %s", g_strerror (errno));
    goto done;
  }
  if (!qmp_reply (self, qmp, buf, TRUE, error)
      || !qmp_command (self, qmp, buf, "{\"execute\":\"qmp_capabilities\"}\n",
                       -1, error)
      || !qmp_command (self, qmp, buf,
                       "{\"execute\":\"getfd\",\"arguments\":"
                       "{\"fdname\":\"qemudisplaysrc\"}}\n",
                       sv[1], error)
      || !qmp_command (self, qmp, buf,
                       "{\"execute\":\"add_client\",\"arguments\":"
                       "{\"protocol\":\"@dbus-display\","
                       "\"fdname\":\"qemudisplaysrc\"}}\n",
                       -1, error))
    goto done;
  close (sv[1]);
  sv[1] = -1;
  ok = TRUE;

done:
  if (qmp >= 0)
    close (qmp);
  g_byte_array_unref (buf);
  return ok;
}

/* Starts the Listener's D-Bus connection on @lstream and asks QEMU's console 0
 * to call it through @fd (closed here); both finish in callbacks. */
static void
dbus_register_listener (DbusSession *d, GIOStream *lstream, gint fd)
{
  GUnixFDList *fds;
  gint idx;

  g_dbus_connection_new (lstream, NULL,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT
                             | G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                         NULL, d->cancel, dbus_listener_ready, d);
  d->pending++;
  fds = g_unix_fd_list_new ();
  idx = g_unix_fd_list_append (fds, fd, NULL);
  close (fd);
  g_dbus_connection_call_with_unix_fd_list (
      d->conn, NULL, "/org/qemu/Display1/Console_0",
      "org.qemu.Display1.Console", "RegisterListener",
      g_variant_new ("(h)", idx), NULL, G_DBUS_CALL_FLAGS_NONE, 10000, fds,
      d->cancel, dbus_registered, d);
  d->pending++;
  g_object_unref (fds);
}

/* The D-Bus peer connection to QEMU on @fd (closed here on failure), into
 * d->conn; *stream is the caller's to unref. */
static gboolean
dbus_connect_qemu (DbusSession *d, gint fd, GIOStream **stream, GError **error)
{
  *stream = stream_from_fd (fd, error);
  if (*stream == NULL)
    return FALSE;
  d->conn = g_dbus_connection_new_sync (
      *stream, NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL,
      d->cancel, error);
  if (d->conn == NULL) {
    g_prefix_error (error, "D-Bus handshake with QEMU: ");
    return FALSE;
  }
  g_signal_connect (d->conn, "closed", G_CALLBACK (dbus_closed), d);
  return TRUE;
}

/* Runs @ctx until the session is done or the element stops; how it ended. */
static SessionResult
dbus_session_wait (DbusSession *d, GMainContext *ctx, GError **error)
{
  SessionResult res = SESSION_ENDED;

  while (!d->done && g_atomic_int_get (&d->self->running))
    g_main_context_iteration (ctx, TRUE);
  if (!g_atomic_int_get (&d->self->running))
    res = SESSION_STOPPED;
  else if (d->resync)
    res = SESSION_RESYNC;
  else if (d->error) {
    g_propagate_error (error, d->error);
    d->error = NULL;
  }
  return res;
}

/* Ends the session's D-Bus side: stops the tick, cancels what is pending and
 * waits (at most 2 s) for those callbacks, which use @d, then closes both
 * connections. */
static void
dbus_session_end (DbusSession *d, GMainContext *ctx, GSource *tick)
{
  if (tick) {
    g_source_destroy (tick);
    g_source_unref (tick);
  }
  d->done = TRUE;
  if (d->cancel)
    g_cancellable_cancel (d->cancel);
  /* the cancelled calls report back soon; their callbacks use d */
  if (ctx) {
    gint64 until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
    while (d->pending > 0 && g_get_monotonic_time () < until)
      if (!g_main_context_iteration (ctx, FALSE))
        g_usleep (1000);
  }
  if (d->lconn) {
    g_signal_handlers_disconnect_by_data (d->lconn, d);
    if (d->reg_id)
      g_dbus_connection_unregister_object (d->lconn, d->reg_id);
    g_dbus_connection_close_sync (d->lconn, NULL, NULL);
    g_object_unref (d->lconn);
  }
  if (d->conn) {
    g_signal_handlers_disconnect_by_data (d->conn, d);
    g_dbus_connection_close_sync (d->conn, NULL, NULL);
    g_object_unref (d->conn);
  }
}

/* One D-Bus display connection: QMP hands QEMU one end of a socketpair
 * (getfd + add_client @dbus-display), D-Bus peer to peer on the other end
 * registers a Listener on a second socketpair, QEMU calls Scanout/Update. */
static SessionResult
run_dbus_session (GstQemuDisplaySrc *self, const gchar *path,
                  gchar **last_warning, gboolean *reached, GError **error)
{
  DbusSession d = { self, path, last_warning, reached };
  gint sv[2] = { -1, -1 }, lp[2] = { -1, -1 };
  GIOStream *stream = NULL, *lstream = NULL;
  GMainContext *ctx = NULL;
  GSource *tick = NULL;
  SessionResult res = SESSION_ENDED;
  gboolean ok;

  *reached = FALSE;
  qdd_frame_init (&d.frame, RFB_HARD_MAX_DIMENSION, RFB_HARD_MAX_DIMENSION);
  if (!qmp_add_dbus_client (self, path, sv, lp, error))
    goto out;

  ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  d.cancel = g_cancellable_new ();
  GST_OBJECT_LOCK (self);
  self->dbus_ctx = g_main_context_ref (ctx);
  self->dbus_cancel = g_object_ref (d.cancel);
  GST_OBJECT_UNLOCK (self);
  if (!g_atomic_int_get (&self->running)) {
    res = SESSION_STOPPED;
    goto out;
  }

  ok = dbus_connect_qemu (&d, sv[0], &stream, error);
  sv[0] = -1;
  if (!ok)
    goto out;

  lstream = stream_from_fd (lp[0], error);
  lp[0] = -1;
  if (lstream == NULL)
    goto out;
  dbus_register_listener (&d, lstream, lp[1]);
  lp[1] = -1;

  tick = g_timeout_source_new (5);
  g_source_set_callback (tick, dbus_tick, &d, NULL);
  g_source_attach (tick, ctx);

  res = dbus_session_wait (&d, ctx, error);

out:
  dbus_session_end (&d, ctx, tick);
  g_clear_object (&stream);
  g_clear_object (&lstream);
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->dbus_ctx, g_main_context_unref);
  g_clear_object (&self->dbus_cancel);
  GST_OBJECT_UNLOCK (self);
  if (ctx) {
    g_main_context_pop_thread_default (ctx);
    g_main_context_unref (ctx);
  }
  g_clear_object (&d.cancel);
  g_clear_error (&d.error);
  for (int i = 0; i < 2; i++) {
    if (sv[i] >= 0)
      close (sv[i]);
    if (lp[i] >= 0)
      close (lp[i]);
  }
  qdd_frame_clear (&d.frame);
  if (*reached) {
    GST_OBJECT_LOCK (self);
    self->disconnects++;
    self->connected = FALSE;
    GST_OBJECT_UNLOCK (self);
  }
  return res;
}

typedef enum {
  ATTEMPT_STOP,    /* the element stops */
  ATTEMPT_AGAIN,   /* connect again at once */
  ATTEMPT_BACKOFF, /* wait, then connect again */
} Attempt;

/* One connection to QEMU's D-Bus display, warned about when it fails. */
static Attempt
attempt_dbus (GstQemuDisplaySrc *self, const gchar *path, gchar **last_warning,
              guint *backoff_ms)
{
  GError *err = NULL;
  gboolean reached = FALSE;
  SessionResult r = run_dbus_session (self, path, last_warning, &reached, &err);

  if (r == SESSION_STOPPED) {
    g_clear_error (&err);
    return ATTEMPT_STOP;
  }
  if (reached)
    *backoff_ms = RETRY_MIN_MS;
  if (r == SESSION_RESYNC) {
    /* no warning; at most 10 re-registrations a second */
    if (gst_poll_wait (self->poll, RETRY_MIN_MS * GST_MSECOND) < 0
        && errno == EBUSY)
      return ATTEMPT_STOP;
    return ATTEMPT_AGAIN;
  }
  warn_once (
      self, last_warning,
      g_strdup_printf ("%s QEMU's D-Bus display through the QMP socket %s "
                       "(%s); pushing the last picture and %s.",
                       reached ? "Lost" : "Cannot reach", path,
                       err ? err->message : "?",
                       reached ? "reconnecting" : "retrying"),
      g_strdup (err ? err->message : ""));
  g_clear_error (&err);
  return ATTEMPT_BACKOFF;
}

/* One connection to QEMU's VNC socket, warned about when it fails. */
static Attempt
attempt_vnc (GstQemuDisplaySrc *self, const gchar *path, RfbClient *c,
             GByteArray *in, gchar **last_warning, guint *backoff_ms)
{
  GError *err = NULL;
  gint fd;
  gboolean reached = FALSE;

  fd = connect_unix (path, &err);
  if (fd < 0) {
    warn_once (self, last_warning,
               g_strdup_printf ("Cannot connect to QEMU's VNC socket %s "
                                "(%s); pushing the last picture and "
                                "retrying until QEMU is there.",
                                path, err->message),
               g_strdup_printf ("connect(%s): %s", path, err->message));
    g_clear_error (&err);
  } else {
    SessionResult r
        = run_session (self, fd, path, c, in, last_warning, &reached, &err);
    close (fd);
    if (r == SESSION_STOPPED) {
      g_clear_error (&err);
      return ATTEMPT_STOP;
    }
    if (reached)
      *backoff_ms = RETRY_MIN_MS;
    if (err && err->domain == RFB_ERROR)
      warn_once (self, last_warning,
                 g_strdup_printf ("QEMU's VNC server at %s cannot be "
                                  "shown: %s. Pushing the last picture "
                                  "and trying again.",
                                  path, err->message),
                 g_strdup_printf ("rfb error %d", err->code));
    else
      warn_once (self, last_warning,
                 g_strdup_printf ("Lost the connection to QEMU's VNC "
                                  "server at %s (%s); pushing the last "
                                  "picture and reconnecting.",
                                  path, err ? err->message : "?"),
                 g_strdup_printf ("state %d", c->state));
    g_clear_error (&err);
  }
  return ATTEMPT_BACKOFF;
}

static gpointer
io_thread (gpointer data)
{
  GstQemuDisplaySrc *self = data;
  RfbClient c;
  GByteArray *in = g_byte_array_new ();
  gchar *last_warning = NULL;
  guint backoff_ms = RETRY_MIN_MS;
  gchar *path;
  GstQemuDisplaySrcBackend backend;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->socket_path);
  backend = self->backend;
  GST_OBJECT_UNLOCK (self);
  rfb_client_init (&c, RFB_HARD_MAX_DIMENSION, RFB_HARD_MAX_DIMENSION);

  while (g_atomic_int_get (&self->running)) {
    Attempt a
        = backend == GST_QEMU_DISPLAY_SRC_BACKEND_DBUS
              ? attempt_dbus (self, path, &last_warning, &backoff_ms)
              : attempt_vnc (self, path, &c, in, &last_warning, &backoff_ms);

    if (a == ATTEMPT_STOP)
      break;
    if (a == ATTEMPT_AGAIN)
      continue;
    /* backoff; flushing the poll ends the wait at once */
    if (gst_poll_wait (self->poll, backoff_ms * GST_MSECOND) < 0
        && errno == EBUSY)
      break;
    backoff_ms = MIN (backoff_ms * 2, RETRY_MAX_MS);
  }

  rfb_client_clear (&c);
  g_byte_array_unref (in);
  g_free (last_warning);
  g_free (path);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* GstBaseSrc                                                               */

static gboolean
gst_qemu_display_src_start (GstBaseSrc *bsrc)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);
  gboolean have_path;

  GST_OBJECT_LOCK (self);
  have_path = self->socket_path != NULL && self->socket_path[0] != '\0';
  self->frames_pushed = self->repeats = self->updates = self->connections = 0;
  self->disconnects = self->caps_changes = 0;
  self->connected = FALSE;
  self->flushing = FALSE;
  GST_OBJECT_UNLOCK (self);
  if (!have_path) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
                       ("No VNC socket given: set the socket property to the "
                        "path of QEMU's -vnc unix:PATH."),
                       (NULL));
    return FALSE;
  }
  self->next_time = GST_CLOCK_TIME_NONE;
  self->pushed_seq = 0;
  self->last_push_us = 0;
  self->caps_width = self->caps_height = 0;
  g_mutex_lock (&self->frame_lock);
  self->frame_seq = 0;
  self->repeat_wanted = FALSE;
  self->frame_flushing = FALSE;
  g_mutex_unlock (&self->frame_lock);
  self->poll = gst_poll_new (TRUE);
  if (self->poll == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED,
                       ("Cannot create a poll set (out of file descriptors?)."),
                       (NULL));
    return FALSE;
  }
  g_atomic_int_set (&self->running, 1);
  self->thread = g_thread_new ("qemudisplaysrc", io_thread, self);
  return TRUE;
}

static gboolean
gst_qemu_display_src_stop (GstBaseSrc *bsrc)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);

  if (self->thread) {
    g_atomic_int_set (&self->running, 0);
    gst_poll_set_flushing (self->poll, TRUE);
    GST_OBJECT_LOCK (self);
    if (self->dbus_cancel)
      g_cancellable_cancel (self->dbus_cancel);
    if (self->dbus_ctx)
      g_main_context_wakeup (self->dbus_ctx);
    GST_OBJECT_UNLOCK (self);
    g_thread_join (self->thread);
    self->thread = NULL;
  }
  if (self->poll) {
    gst_poll_free (self->poll);
    self->poll = NULL;
  }
  g_mutex_lock (&self->frame_lock);
  gst_clear_buffer (&self->frame);
  self->frame_width = self->frame_height = 0;
  g_mutex_unlock (&self->frame_lock);
  gst_clear_buffer (&self->black);
  return TRUE;
}

static gboolean
gst_qemu_display_src_unlock (GstBaseSrc *bsrc)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);

  GST_OBJECT_LOCK (self);
  self->flushing = TRUE;
  if (self->clock_id)
    gst_clock_id_unschedule (self->clock_id);
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->frame_lock);
  self->frame_flushing = TRUE;
  g_cond_broadcast (&self->frame_cond);
  g_mutex_unlock (&self->frame_lock);
  return TRUE;
}

static gboolean
gst_qemu_display_src_unlock_stop (GstBaseSrc *bsrc)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);

  GST_OBJECT_LOCK (self);
  self->flushing = FALSE;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->frame_lock);
  self->frame_flushing = FALSE;
  g_mutex_unlock (&self->frame_lock);
  return TRUE;
}

static GstCaps *
make_caps (GstQemuDisplaySrc *self, guint width, guint height)
{
  gint fps_n, fps_d;

  GST_OBJECT_LOCK (self);
  fps_n = self->fps_n;
  fps_d = self->fps_d;
  GST_OBJECT_UNLOCK (self);
  return gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "BGRx",
                              "width", G_TYPE_INT, (gint)width, "height",
                              G_TYPE_INT, (gint)height, "framerate",
                              GST_TYPE_FRACTION, fps_n, fps_d, NULL);
}

static gboolean
set_size_caps (GstQemuDisplaySrc *self, guint width, guint height)
{
  GstCaps *caps = make_caps (self, width, height);
  gboolean ok = gst_base_src_set_caps (GST_BASE_SRC (self), caps);

  gst_caps_unref (caps);
  if (ok) {
    if (self->caps_width != 0) {
      GST_OBJECT_LOCK (self);
      self->caps_changes++;
      GST_OBJECT_UNLOCK (self);
    }
    self->caps_width = width;
    self->caps_height = height;
  }
  return ok;
}

/* The caps follow the frame: its size now, or the black frame's. */
static gboolean
gst_qemu_display_src_negotiate (GstBaseSrc *bsrc)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);
  guint w, h;

  g_mutex_lock (&self->frame_lock);
  w = self->frame ? self->frame_width : BLACK_WIDTH;
  h = self->frame ? self->frame_height : BLACK_HEIGHT;
  g_mutex_unlock (&self->frame_lock);
  if (self->caps_width == w && self->caps_height == h)
    return TRUE;
  return set_size_caps (self, w, h);
}

static GstClockTime
frame_duration (GstQemuDisplaySrc *self)
{
  GstClockTime d;

  GST_OBJECT_LOCK (self);
  d = gst_util_uint64_scale_int (GST_SECOND, self->fps_d, self->fps_n);
  GST_OBJECT_UNLOCK (self);
  return d;
}

static gboolean
gst_qemu_display_src_query (GstBaseSrc *bsrc, GstQuery *query)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);

  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    GstClockTime d = frame_duration (self);
    gst_query_set_latency (query, TRUE, d, d);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

/* Waits for the clock to reach running time t. FALSE when unlocked. */
static gboolean
wait_until (GstQemuDisplaySrc *self, GstClock *clock, GstClockTime t)
{
  GstClockTime base = gst_element_get_base_time (GST_ELEMENT (self));
  GstClockReturn ret;
  GstClockID id = gst_clock_new_single_shot_id (clock, base + t);

  GST_OBJECT_LOCK (self);
  if (self->flushing) {
    GST_OBJECT_UNLOCK (self);
    gst_clock_id_unref (id);
    return FALSE;
  }
  self->clock_id = id;
  GST_OBJECT_UNLOCK (self);

  ret = gst_clock_id_wait (id, NULL);

  GST_OBJECT_LOCK (self);
  self->clock_id = NULL;
  GST_OBJECT_UNLOCK (self);
  gst_clock_id_unref (id);
  return ret != GST_CLOCK_UNSCHEDULED;
}

/* new-pictures-only: waits until QEMU published a picture not pushed yet,
 * a viewer asked for one (force-key-unit), or keepalive_ms passed since
 * the last push (0: never). TRUE with *repeat set when the push repeats
 * the last picture; FALSE when flushing. The first call returns at once. */
static gboolean
wait_for_picture (GstQemuDisplaySrc *self, guint keepalive_ms, gboolean *repeat)
{
  gint64 deadline = self->last_push_us + (gint64)keepalive_ms * 1000;
  gboolean ok;

  g_mutex_lock (&self->frame_lock);
  while (!self->frame_flushing && self->frame_seq == self->pushed_seq
         && !self->repeat_wanted && self->last_push_us != 0) {
    if (keepalive_ms == 0)
      g_cond_wait (&self->frame_cond, &self->frame_lock);
    else if (!g_cond_wait_until (&self->frame_cond, &self->frame_lock,
                                 deadline))
      break;
  }
  ok = !self->frame_flushing;
  *repeat = self->frame_seq == self->pushed_seq && self->last_push_us != 0;
  self->repeat_wanted = FALSE;
  g_mutex_unlock (&self->frame_lock);
  return ok;
}

/* Running time now, or GST_CLOCK_TIME_NONE without a clock. */
static GstClockTime
running_time_now (GstQemuDisplaySrc *self, GstClock *clock)
{
  GstClockTime now, base;

  if (clock == NULL)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (GST_ELEMENT (self));
  return now > base ? now - base : 0;
}

/* Waits for the time of the next push and sets self->next_time to the
 * buffer's timestamp. Steady: one frame duration after the last one (from
 * now when more than a frame late). New pictures only: no sooner than one
 * frame duration after the last push (the framerate caps the rate), then
 * until wait_for_picture() returns, stamped with the time it returned.
 * FALSE when flushing. */
static gboolean
wait_for_push (GstQemuDisplaySrc *self, GstClockTime dur, gboolean new_only,
               guint keepalive_ms, gboolean *repeat)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT (self));
  GstClockTime rt = running_time_now (self, clock);
  gboolean ok = TRUE;

  *repeat = FALSE;
  if (clock == NULL) {
    if (self->next_time == GST_CLOCK_TIME_NONE)
      self->next_time = 0;
    return new_only ? wait_for_picture (self, keepalive_ms, repeat) : TRUE;
  }
  if (self->next_time == GST_CLOCK_TIME_NONE
      || (!new_only && self->next_time + dur < rt))
    self->next_time = rt;
  if (self->next_time > rt)
    ok = wait_until (self, clock, self->next_time);
  if (ok && new_only) {
    ok = wait_for_picture (self, keepalive_ms, repeat);
    self->next_time = MAX (self->next_time, running_time_now (self, clock));
  }
  gst_object_unref (clock);
  return ok;
}

static GstFlowReturn
gst_qemu_display_src_create (GstPushSrc *psrc, GstBuffer **outbuf)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (psrc);
  GstClockTime dur = frame_duration (self);
  GstBuffer *frame, *buf;
  gboolean new_only, repeat;
  guint keepalive_ms, w, h;

  GST_OBJECT_LOCK (self);
  new_only = self->new_only;
  keepalive_ms = self->keepalive_ms;
  GST_OBJECT_UNLOCK (self);
  if (!wait_for_push (self, dur, new_only, keepalive_ms, &repeat))
    return GST_FLOW_FLUSHING;

  g_mutex_lock (&self->frame_lock);
  frame = self->frame ? gst_buffer_ref (self->frame) : NULL;
  w = self->frame_width;
  h = self->frame_height;
  self->pushed_seq = self->frame_seq;
  g_mutex_unlock (&self->frame_lock);
  self->last_push_us = g_get_monotonic_time ();
  if (frame == NULL) {
    if (self->black == NULL) {
      self->black = gst_buffer_new_allocate (
          NULL, (gsize)BLACK_WIDTH * BLACK_HEIGHT * RFB_BPP, NULL);
      gst_buffer_memset (self->black, 0, 0, gst_buffer_get_size (self->black));
    }
    frame = gst_buffer_ref (self->black);
    w = BLACK_WIDTH;
    h = BLACK_HEIGHT;
  }
  if ((w != self->caps_width || h != self->caps_height)
      && !set_size_caps (self, w, h)) {
    gst_buffer_unref (frame);
    GST_ELEMENT_ERROR (
        self, CORE, NEGOTIATION,
        ("Downstream refused QEMU's display size %ux%u (BGRx).", w, h), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }

  /* a new buffer sharing the frame's memory (and its capture meta) */
  buf = gst_buffer_copy (frame);
  gst_buffer_unref (frame);
  GST_BUFFER_PTS (buf) = self->next_time;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = dur;
  self->next_time += dur;
  GST_OBJECT_LOCK (self);
  GST_BUFFER_OFFSET (buf) = self->frames_pushed++;
  if (new_only && repeat)
    self->repeats++;
  GST_OBJECT_UNLOCK (self);
  *outbuf = buf;
  return GST_FLOW_OK;
}

/* A viewer joined (wsh264sink asks upstream for a keyframe; vmstreamenc
 * passes the request on): in new-pictures-only, push the last picture now
 * so that the keyframe does not wait for the guest or the keepalive. */
static gboolean
gst_qemu_display_src_event (GstBaseSrc *bsrc, GstEvent *event)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (bsrc);

  if (gst_video_event_is_force_key_unit (event)) {
    GST_DEBUG_OBJECT (self, "a keyframe was asked for: pushing a picture");
    g_mutex_lock (&self->frame_lock);
    self->repeat_wanted = TRUE;
    g_cond_broadcast (&self->frame_cond);
    g_mutex_unlock (&self->frame_lock);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->event (bsrc, event);
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
gst_qemu_display_src_set_property (GObject *object, guint prop_id,
                                   const GValue *value, GParamSpec *pspec)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_SOCKET:
      g_free (self->socket_path);
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_FRAMERATE:
      self->fps_n = gst_value_get_fraction_numerator (value);
      self->fps_d = gst_value_get_fraction_denominator (value);
      break;
    case PROP_NEW_ONLY:
      self->new_only = g_value_get_boolean (value);
      break;
    case PROP_KEEPALIVE:
      self->keepalive_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_qemu_display_src_get_property (GObject *object, guint prop_id,
                                   GValue *value, GParamSpec *pspec)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_SOCKET:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_FRAMERATE:
      gst_value_set_fraction (value, self->fps_n, self->fps_d);
      break;
    case PROP_NEW_ONLY:
      g_value_set_boolean (value, self->new_only);
      break;
    case PROP_KEEPALIVE:
      g_value_set_uint (value, self->keepalive_ms);
      break;
    case PROP_STATS:
      g_value_take_boxed (
          value,
          gst_structure_new (
              "application/x-qemudisplaysrc-stats", "frames-pushed",
              G_TYPE_UINT64, self->frames_pushed, "repeats", G_TYPE_UINT64,
              self->repeats, "updates-received", G_TYPE_UINT64, self->updates,
              "connections", G_TYPE_UINT64, self->connections, "disconnects",
              G_TYPE_UINT64, self->disconnects, "caps-changes", G_TYPE_UINT64,
              self->caps_changes, "connected", G_TYPE_BOOLEAN, self->connected,
              NULL));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_qemu_display_src_finalize (GObject *object)
{
  GstQemuDisplaySrc *self = GST_QEMU_DISPLAY_SRC (object);

  g_free (self->socket_path);
  g_mutex_clear (&self->frame_lock);
  g_cond_clear (&self->frame_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_qemu_display_src_class_init (GstQemuDisplaySrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *bsrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *psrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_qemu_display_src_set_property;
  gobject_class->get_property = gst_qemu_display_src_get_property;
  gobject_class->finalize = gst_qemu_display_src_finalize;

  g_object_class_install_property (
      gobject_class, PROP_BACKEND,
      g_param_spec_enum (
          "backend", "Backend",
          "How to reach QEMU's display: its VNC server (any QEMU, Linux and "
          "macOS) or its D-Bus display (Linux QEMU built with it)",
          GST_TYPE_QEMU_DISPLAY_SRC_BACKEND, GST_QEMU_DISPLAY_SRC_BACKEND_VNC,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_SOCKET,
      g_param_spec_string (
          "socket", "Socket",
          "backend=vnc: path of the Unix socket QEMU's VNC server listens "
          "on (qemu -vnc unix:PATH, no password); backend=dbus: path of a "
          "QMP socket of QEMU's used only by this element (qemu -display "
          "dbus,p2p=on -qmp unix:PATH,server=on,wait=off)",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_FRAMERATE,
      gst_param_spec_fraction (
          "framerate", "Frame rate",
          "Rate at which the last complete picture is pushed, whether QEMU "
          "sent a change or not; with new-pictures-only the highest rate",
          1, 1, 240, 1, DEFAULT_FPS_N, DEFAULT_FPS_D,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_NEW_ONLY,
      g_param_spec_boolean (
          "new-pictures-only", "New pictures only",
          "Push a picture only when QEMU sent a change (at most framerate a "
          "second, timestamped when pushed: a variable frame rate), when a "
          "viewer asks for a keyframe (a force-key-unit event from "
          "downstream), and every keepalive milliseconds while the screen is "
          "still; FALSE: repeat the last picture at the framerate",
          DEFAULT_NEW_ONLY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_KEEPALIVE,
      g_param_spec_uint (
          "keepalive", "Keepalive (ms)",
          "With new-pictures-only: repeat the last picture after this many "
          "milliseconds without a change (0: never)",
          0, G_MAXUINT, DEFAULT_KEEPALIVE_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_STATS,
      g_param_spec_boxed (
          "stats", "Statistics",
          "Counters: frames-pushed, repeats (new-pictures-only: pushes of an "
          "unchanged picture), updates-received (complete pictures from "
          "QEMU), connections, disconnects, caps-changes, and connected",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_type_mark_as_plugin_api (GST_TYPE_QEMU_DISPLAY_SRC_BACKEND, 0);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (
      element_class, "QEMU display source", "Source/Video",
      "Captures a QEMU virtual machine's screen from the host through "
      "QEMU's VNC server on a Unix socket, no guest software needed",
      "vmstream developers");

  bsrc_class->start = GST_DEBUG_FUNCPTR (gst_qemu_display_src_start);
  bsrc_class->stop = GST_DEBUG_FUNCPTR (gst_qemu_display_src_stop);
  bsrc_class->unlock = GST_DEBUG_FUNCPTR (gst_qemu_display_src_unlock);
  bsrc_class->unlock_stop
      = GST_DEBUG_FUNCPTR (gst_qemu_display_src_unlock_stop);
  bsrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_qemu_display_src_negotiate);
  bsrc_class->query = GST_DEBUG_FUNCPTR (gst_qemu_display_src_query);
  bsrc_class->event = GST_DEBUG_FUNCPTR (gst_qemu_display_src_event);
  psrc_class->create = GST_DEBUG_FUNCPTR (gst_qemu_display_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_qemu_display_src_debug, "qemudisplaysrc", 0,
                           "QEMU display source");
}

static void
gst_qemu_display_src_init (GstQemuDisplaySrc *self)
{
  self->fps_n = DEFAULT_FPS_N;
  self->fps_d = DEFAULT_FPS_D;
  self->new_only = DEFAULT_NEW_ONLY;
  self->keepalive_ms = DEFAULT_KEEPALIVE_MS;
  g_mutex_init (&self->frame_lock);
  g_cond_init (&self->frame_cond);
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}

static gboolean
plugin_init (GstPlugin *plugin)
{
  return GST_ELEMENT_REGISTER (qemudisplaysrc, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, qemudisplaysrc,
                   "Capture a QEMU virtual machine's display (vmstream)",
                   plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME,
                   GST_PACKAGE_ORIGIN)
