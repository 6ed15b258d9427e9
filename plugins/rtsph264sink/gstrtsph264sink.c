/* rtsph264sink: serves the H.264 access units it is fed over RTSP.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The element runs a gst-rtsp-server in a GMainContext thread of its own and
 * mounts one media factory at "mount". The factory's media is SHARED: all
 * RTSP clients of the mount use one media pipeline
 *
 *   ( appsrc name=vmssrc ! rtph264pay name=pay0 config-interval=-1 )
 *
 * and render() hands every access unit to that appsrc (a buffer ref, no
 * copy of the payload, no second encode). When a media is created (first
 * client) or a client sends PLAY, the sink asks upstream for a keyframe
 * (GstForceKeyUnit upstream event, which the encoder honours) and a new media
 * drops delta frames until that keyframe arrives, so the SDP carries
 * sprop-parameter-sets and every client starts decoding at once. Why appsrc
 * rather than proxysink/proxysrc or intervideo: see docs/encoding.md.
 *
 * With "handoff-socket" set the server listens on no TCP port: the
 * element listens on that Unix socket instead and takes connected RTSP
 * clients handed over by vmstream-supervisor's one RTSP port (the socket
 * passed with SCM_RIGHTS, with the bytes the supervisor already read; see
 * common/vmsrtsp.h), and gives each to the server with
 * gst_rtsp_server_transfer_connection(). RTP then flows from this process
 * straight to the client (UDP to its real address, or interleaved on the
 * handed-over connection).
 */
/**
 * SECTION:element-rtsph264sink
 * @title: rtsph264sink
 *
 * Serves the H.264 it is fed (byte-stream, access units) to RTSP clients,
 * one shared media per mount, no second encode.
 *
 * Standalone, on its own TCP port:
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! vmstreamenc ! rtsph264sink
 * port=8554 mount=/demo
 * ]|
 * Behind vmstream-supervisor's RTSP port (what the templates do):
 * |[
 * ... ! rtsph264sink mount=/s1 handoff-socket=/run/vmstream/s1/rtsp.sock
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstrtsph264sink.h"

#include "vmsnet.h"
#include "vmsrtsp.h"

#include <gst/app/gstappsrc.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <gst/video/video.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_rtsp_h264_sink_debug);
#define GST_CAT_DEFAULT gst_rtsp_h264_sink_debug

#define DEFAULT_ADDRESS "127.0.0.1"
#define DEFAULT_PORT 8554
#define DEFAULT_MOUNT "/stream"
#define APPSRC_NAME "vmssrc"
/* Enough for several 1080p keyframes; beyond it new data is dropped and a
 * keyframe requested rather than growing without bound. */
#define APPSRC_MAX_BYTES (8 * 1024 * 1024)

#define MEDIA_LAUNCH                                                           \
  "( appsrc name=" APPSRC_NAME " is-live=true format=time do-timestamp=false " \
  "block=false ! rtph264pay name=pay0 pt=96 config-interval=-1 "               \
  "aggregate-mode=zero-latency )"

struct _GstRtspH264Sink {
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *address;
  guint port;
  guint bound_port;
  gchar *mount;
  gchar *user;
  gchar *password;
  gchar *password_file;
  gchar *handoff_socket;

  /* server, created in start(), freed in stop() */
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GstRTSPServer *server;
  GSource *server_source;
  GstRTSPMediaFactory *factory;
  /* handoff-socket: the listening Unix socket and its source (server
   * thread), the path to unlink on stop; connections being read are in
   * handoffs (server thread only) */
  GSocket *handoff_listener;
  GSource *handoff_source;
  gchar *handoff_path;
  GList *handoffs;

  /* the shared media's appsrc, under feed_lock */
  GMutex feed_lock;
  GstElement *appsrc;
  GstRTSPMedia *media; /* not reffed: only compared and unprepared */
  gboolean need_keyframe;
  gboolean asked_keyframe; /* since need_keyframe was set, while playing */
  GstCaps *caps;

  gint n_clients; /* atomic */
  guint64 frames; /* access units handed to a media, under feed_lock */
};

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_PORT,
  PROP_CURRENT_PORT,
  PROP_MOUNT,
  PROP_USER,
  PROP_PASSWORD,
  PROP_PASSWORD_FILE,
  PROP_HANDOFF_SOCKET,
  PROP_URL,
  PROP_CLIENTS,
  PROP_FRAMES,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-h264, stream-format=(string)byte-stream, "
                     "alignment=(string)au"));

G_DEFINE_TYPE (GstRtspH264Sink, gst_rtsp_h264_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (rtsph264sink, "rtsph264sink", GST_RANK_NONE,
                             GST_TYPE_RTSP_H264_SINK);

static void
request_keyframe (GstRtspH264Sink *self, const gchar *why)
{
  GstEvent *ev;

  GST_DEBUG_OBJECT (self, "asking upstream for a keyframe: %s", why);
  ev = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE,
                                                    0);
  if (!gst_pad_push_event (GST_BASE_SINK_PAD (self), ev))
    GST_DEBUG_OBJECT (self, "upstream did not handle the keyframe request");
}

static void
media_unprepared_cb (GstRTSPMedia *media, GstRtspH264Sink *self)
{
  GstElement *old = NULL;

  g_mutex_lock (&self->feed_lock);
  if (self->media == media) {
    old = self->appsrc;
    self->appsrc = NULL;
    self->media = NULL;
  }
  g_mutex_unlock (&self->feed_lock);
  GST_DEBUG_OBJECT (self, "media %p unprepared", media);
  gst_clear_object (&old);
}

static void
media_configure_cb (GstRTSPMediaFactory *factory, GstRTSPMedia *media,
                    GstRtspH264Sink *self)
{
  GstElement *bin = gst_rtsp_media_get_element (media);
  GstElement *appsrc = gst_bin_get_by_name (GST_BIN (bin), APPSRC_NAME);
  GstElement *old;

  gst_object_unref (bin);
  if (!appsrc) {
    GST_ERROR_OBJECT (self, "media has no element named " APPSRC_NAME);
    return;
  }
  g_object_set (appsrc, "max-bytes", (guint64)APPSRC_MAX_BYTES, NULL);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (appsrc), "leaky-type"))
    gst_util_set_object_arg (G_OBJECT (appsrc), "leaky-type", "downstream");

  g_signal_connect_object (media, "unprepared",
                           G_CALLBACK (media_unprepared_cb), self, 0);

  g_mutex_lock (&self->feed_lock);
  old = self->appsrc;
  self->appsrc = appsrc;
  self->media = media;
  self->need_keyframe = TRUE;
  self->asked_keyframe = FALSE;
  if (self->caps)
    gst_app_src_set_caps (GST_APP_SRC (appsrc), self->caps);
  g_mutex_unlock (&self->feed_lock);
  gst_clear_object (&old);

  GST_INFO_OBJECT (self, "new shared RTSP media %p", media);
  request_keyframe (self, "new RTSP media");
}

static void
client_closed_cb (GstRTSPClient *client, GstRtspH264Sink *self)
{
  gint n = g_atomic_int_add (&self->n_clients, -1) - 1;

  GST_INFO_OBJECT (self, "RTSP client %p left, %d remain", client, n);
  g_object_notify (G_OBJECT (self), "clients");
}

static void
client_play_cb (GstRTSPClient *client, GstRTSPContext *ctx,
                GstRtspH264Sink *self)
{
  request_keyframe (self, "RTSP client sent PLAY");
}

static void
client_connected_cb (GstRTSPServer *server, GstRTSPClient *client,
                     GstRtspH264Sink *self)
{
  GstRTSPConnection *conn = gst_rtsp_client_get_connection (client);

  g_atomic_int_inc (&self->n_clients);
  GST_INFO_OBJECT (self, "RTSP client %p connected from %s", client,
                   conn ? gst_rtsp_connection_get_ip (conn) : "?");
  g_signal_connect_object (client, "closed", G_CALLBACK (client_closed_cb),
                           self, 0);
  g_signal_connect_object (client, "play-request", G_CALLBACK (client_play_cb),
                           self, 0);
  g_object_notify (G_OBJECT (self), "clients");
}

static gpointer
server_thread_func (gpointer data)
{
  GstRtspH264Sink *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* Settles the credentials start() uses: @user and @password become NULL
 * (no authentication) or both non-empty. password-file wins over password.
 * Off loopback, no authentication is an error, as with the supervisor's API:
 * anyone who reaches the address could watch the desktop. */
static gboolean
credentials_resolve (GstRtspH264Sink *self, const gchar *address, gchar **user,
                     gchar **password)
{
  gchar *file;

  GST_OBJECT_LOCK (self);
  file = g_strdup (self->password_file);
  GST_OBJECT_UNLOCK (self);
  if (file && *file) {
    GError *err = NULL;
    gchar *text = NULL;

    if (!g_file_get_contents (file, &text, NULL, &err)) {
      GST_ELEMENT_ERROR (
          self, RESOURCE, OPEN_READ,
          ("Cannot read the RTSP password-file %s: %s", file, err->message),
          (NULL));
      g_error_free (err);
      g_free (file);
      return FALSE;
    }
    /* one line; the newline an editor or echo adds is not part of it */
    text[strcspn (text, "\r\n")] = '\0';
    g_free (*password);
    *password = text;
  }
  g_free (file);
  if (*user && **user == '\0')
    g_clear_pointer (user, g_free);
  if (*password && **password == '\0')
    g_clear_pointer (password, g_free);

  if (*user && !*password) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
                       ("RTSP user \"%s\" is set but no password: set "
                        "password or password-file on rtsph264sink too.",
                        *user),
                       (NULL));
    return FALSE;
  }
  if (!vms_address_is_loopback (address) && !*user) {
    GST_ELEMENT_ERROR (
        self, RESOURCE, SETTINGS,
        ("RTSP on %s is reachable from other machines and needs "
         "authentication: set user and password (or password-file) on "
         "rtsph264sink, or listen on 127.0.0.1.",
         address),
        (NULL));
    return FALSE;
  }
  if (*password && !*user) {
    GST_ELEMENT_WARNING (
        self, RESOURCE, SETTINGS,
        ("A password is set but no user, so RTSP has no authentication."),
        (NULL));
    g_clear_pointer (password, g_free);
  }
  return TRUE;
}

/* --- handoff-socket: clients handed over by vmstream-supervisor -------- */

/* One connection on the handoff socket: the head of the client's first
 * request, and the client's socket as SCM_RIGHTS (common/vmsrtsp.h). All
 * of it runs in the server thread. */
typedef struct {
  GstRtspH264Sink *self;
  GSocket *sock;
  GSource *source;
  gchar buf[VMS_RTSP_HEAD_MAX + 1];
  gsize len;
  gint fd; /* the RTSP client's socket, -1 until it came */
} Handoff;

static void
handoff_free (Handoff *h)
{
  h->self->handoffs = g_list_remove (h->self->handoffs, h);
  g_source_destroy (h->source);
  g_source_unref (h->source);
  g_object_unref (h->sock);
  if (h->fd >= 0)
    close (h->fd);
  g_free (h);
}

/* Gives the handed-over client to the RTSP server, with the bytes the
 * supervisor already read from it. */
static void
handoff_finish (Handoff *h)
{
  GstRtspH264Sink *self = h->self;
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autofree gchar *ip = NULL;
  GSocket *client;
  guint16 port;

  if (h->fd < 0 || h->len == 0 || memchr (h->buf, '\0', h->len)) {
    GST_WARNING_OBJECT (self, "a handoff without a socket or a request: "
                              "ignored");
    return;
  }
  h->buf[h->len] = '\0';
  client = g_socket_new_from_fd (h->fd, &err);
  if (client == NULL) {
    GST_WARNING_OBJECT (self, "the handed-over socket is unusable: %s",
                        err->message);
    return;
  }
  h->fd = -1; /* the GSocket's now */
  remote = g_socket_get_remote_address (client, &err);
  if (!G_IS_INET_SOCKET_ADDRESS (remote)) {
    GST_WARNING_OBJECT (self, "the handed-over socket is not a connected "
                              "TCP socket: closed");
    g_object_unref (client);
    return;
  }
  ip = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (remote));
  GST_DEBUG_OBJECT (self, "RTSP client %s:%u handed over", ip, port);
  /* takes @client, also when it fails */
  if (!gst_rtsp_server_transfer_connection (self->server, client, ip, port,
                                            h->buf))
    GST_WARNING_OBJECT (self, "the RTSP server refused a client from %s", ip);
}

static gboolean
handoff_readable (GSocket *sock, GIOCondition cond, gpointer data)
{
  Handoff *h = data;
  GSocketControlMessage **msgs = NULL;
  gint n_msgs = 0, flags = 0;
  GInputVector v = { h->buf + h->len, VMS_RTSP_HEAD_MAX + 1 - h->len };
  g_autoptr (GError) err = NULL;
  gssize n;

  n = g_socket_receive_message (sock, NULL, &v, 1, &msgs, &n_msgs, &flags, NULL,
                                &err);
  for (gint i = 0; i < n_msgs; i++) {
    if (G_IS_UNIX_FD_MESSAGE (msgs[i])) {
      gint nfd = 0;
      gint *fds
          = g_unix_fd_message_steal_fds (G_UNIX_FD_MESSAGE (msgs[i]), &nfd);
      for (gint j = 0; j < nfd; j++) {
        if (h->fd < 0)
          h->fd = fds[j];
        else
          close (fds[j]);
      }
      g_free (fds);
    }
    g_object_unref (msgs[i]);
  }
  g_free (msgs);
  if (n < 0 && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n < 0) {
    GST_WARNING_OBJECT (h->self, "reading a handoff: %s", err->message);
  } else if (n > 0) {
    h->len += (gsize)n;
    if (h->len <= VMS_RTSP_HEAD_MAX)
      return G_SOURCE_CONTINUE;
    GST_WARNING_OBJECT (h->self, "a handoff longer than %d bytes: dropped",
                        VMS_RTSP_HEAD_MAX);
  } else {
    handoff_finish (h); /* EOF: all of it came */
  }
  handoff_free (h);
  return G_SOURCE_REMOVE;
}

static gboolean
handoff_incoming (GSocket *listener, GIOCondition cond, gpointer data)
{
  GstRtspH264Sink *self = data;
  g_autoptr (GError) err = NULL;
  GSocket *sock = g_socket_accept (listener, NULL, &err);
  Handoff *h;

  if (sock == NULL) {
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      GST_WARNING_OBJECT (self, "accepting a handoff: %s", err->message);
    return G_SOURCE_CONTINUE;
  }
  g_socket_set_blocking (sock, FALSE);
  h = g_new0 (Handoff, 1);
  h->self = self;
  h->sock = sock;
  h->fd = -1;
  h->source
      = g_socket_create_source (sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (
      h->source, (GSourceFunc)(void (*) (void))handoff_readable, h, NULL);
  g_source_attach (h->source, self->context);
  self->handoffs = g_list_prepend (self->handoffs, h);
  return G_SOURCE_CONTINUE;
}

/* Listens on @path (a stale socket of an earlier run is replaced), mode
 * 0600; the source runs in the server's context. */
static gboolean
handoff_listen (GstRtspH264Sink *self, const gchar *path)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  GSocket *sock;
  GStatBuf st;

  if (g_lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    g_unlink (path);
  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_DEFAULT, &err);
  if (sock == NULL || !g_socket_bind (sock, addr, FALSE, &err)
      || g_chmod (path, 0600) != 0 || !g_socket_listen (sock, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
                       ("Could not listen for handed-over RTSP clients on "
                        "%s: %s",
                        path, err ? err->message : g_strerror (errno)),
                       (NULL));
    g_clear_object (&sock);
    return FALSE;
  }
  g_socket_set_blocking (sock, FALSE);
  self->handoff_listener = sock;
  self->handoff_path = g_strdup (path);
  self->handoff_source = g_socket_create_source (sock, G_IO_IN, NULL);
  g_source_set_callback (self->handoff_source,
                         (GSourceFunc)(void (*) (void))handoff_incoming, self,
                         NULL);
  g_source_attach (self->handoff_source, self->context);
  return TRUE;
}

/* Server thread: no more handoffs (stop). */
static void
handoff_close_in_thread (GstRtspH264Sink *self)
{
  if (self->handoff_source)
    g_source_destroy (self->handoff_source);
  while (self->handoffs)
    handoff_free (self->handoffs->data);
}

/* After the server thread ended. */
static void
handoff_clear (GstRtspH264Sink *self)
{
  if (self->handoff_source) {
    g_source_destroy (self->handoff_source);
    g_clear_pointer (&self->handoff_source, g_source_unref);
  }
  while (self->handoffs)
    handoff_free (self->handoffs->data);
  g_clear_object (&self->handoff_listener);
  if (self->handoff_path) {
    g_unlink (self->handoff_path);
    g_clear_pointer (&self->handoff_path, g_free);
  }
}

/* The server thread's context and loop, the server on @address:@port
 * and the one shared media factory (not mounted yet) */
static void
server_new (GstRtspH264Sink *self, const gchar *address, guint port)
{
  gchar *service = g_strdup_printf ("%u", port);

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->server = gst_rtsp_server_new ();
  gst_rtsp_server_set_address (self->server, address);
  gst_rtsp_server_set_service (self->server, service);
  g_free (service);
  g_signal_connect_object (self->server, "client-connected",
                           G_CALLBACK (client_connected_cb), self, 0);

  self->factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (self->factory, MEDIA_LAUNCH);
  gst_rtsp_media_factory_set_shared (self->factory, TRUE);
  gst_rtsp_media_factory_set_eos_shutdown (self->factory, FALSE);
  g_signal_connect_object (self->factory, "media-configure",
                           G_CALLBACK (media_configure_cb), self, 0);
}

/* Every request without @user's credentials gets 401 (the default token
 * has no role, so no factory lets it in). */
static void
server_require_login (GstRtspH264Sink *self, const gchar *user,
                      const gchar *password)
{
  GstRTSPAuth *auth = gst_rtsp_auth_new ();
  GstRTSPToken *token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                                            G_TYPE_STRING, "viewer", NULL);
  gchar *basic = gst_rtsp_auth_make_basic (user, password);

  gst_rtsp_auth_add_basic (auth, basic, token);
  g_free (basic);
  gst_rtsp_token_unref (token);
  gst_rtsp_server_set_auth (self->server, auth);
  g_object_unref (auth);
  gst_rtsp_media_factory_add_role (
      self->factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
      G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
      G_TYPE_BOOLEAN, TRUE, NULL);
}

/* Clients through @handoff (no TCP port: they come through the
 * supervisor's RTSP port), else on @address:@port (bound_port set);
 * FALSE after an error message. */
static gboolean
server_listen (GstRtspH264Sink *self, const gchar *address, guint port,
               const gchar *handoff)
{
  GError *err = NULL;

  if (handoff)
    return handoff_listen (self, handoff);
  self->server_source
      = gst_rtsp_server_create_source (self->server, NULL, &err);
  if (self->server_source == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
                       ("Could not listen for RTSP on %s port %u: %s", address,
                        port, err ? err->message : "unknown error"),
                       (NULL));
    g_clear_error (&err);
    return FALSE;
  }
  g_source_attach (self->server_source, self->context);
  GST_OBJECT_LOCK (self);
  self->bound_port = (guint)gst_rtsp_server_get_bound_port (self->server);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_rtsp_h264_sink_start (GstBaseSink *sink)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (sink);
  GstRTSPMountPoints *mounts;
  gchar *address, *mount, *user, *password, *handoff;
  guint port;

  GST_OBJECT_LOCK (self);
  address = g_strdup (self->address);
  port = self->port;
  mount = g_strdup (self->mount);
  user = g_strdup (self->user);
  password = g_strdup (self->password);
  handoff = self->handoff_socket && *self->handoff_socket
                ? g_strdup (self->handoff_socket)
                : NULL;
  GST_OBJECT_UNLOCK (self);

  server_new (self, address, port);

  if (!credentials_resolve (self, address, &user, &password))
    goto failed;
  if (user)
    server_require_login (self, user, password);

  mounts = gst_rtsp_server_get_mount_points (self->server);
  gst_rtsp_mount_points_add_factory (mounts, mount,
                                     g_object_ref (self->factory));
  g_object_unref (mounts);

  if (!server_listen (self, address, port, handoff))
    goto failed;
  self->thread = g_thread_new ("rtsph264sink", server_thread_func, self);

  GST_INFO_OBJECT (self, "serving rtsp://%s:%u%s%s%s", address,
                   handoff ? port : self->bound_port, mount,
                   handoff ? " through the handoff socket " : "",
                   handoff ? handoff : "");
  gst_element_post_message (
      GST_ELEMENT (self),
      gst_message_new_element (
          GST_OBJECT (self),
          gst_structure_new ("rtsph264sink-listening", "address", G_TYPE_STRING,
                             address, "port", G_TYPE_UINT,
                             handoff ? port : self->bound_port, "mount",
                             G_TYPE_STRING, mount, "handoff-socket",
                             G_TYPE_STRING, handoff, NULL)));
  if (port == 0 && !handoff)
    g_object_notify (G_OBJECT (self), "port");

  g_free (address);
  g_free (mount);
  g_free (user);
  g_free (password);
  g_free (handoff);
  return TRUE;

failed:
  handoff_clear (self);
  g_clear_object (&self->factory);
  g_clear_object (&self->server);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (address);
  g_free (mount);
  g_free (user);
  g_free (password);
  g_free (handoff);
  return FALSE;
}

static GstRTSPFilterResult
remove_client (GstRTSPServer *server, GstRTSPClient *client, gpointer data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
remove_session (GstRTSPSessionPool *pool, GstRTSPSession *session,
                gpointer data)
{
  return GST_RTSP_FILTER_REMOVE;
}

/* Runs in the server thread: disconnects everyone and stops the loop. */
static gboolean
shutdown_in_thread (gpointer data)
{
  GstRtspH264Sink *self = data;
  GstRTSPSessionPool *pool;
  GstRTSPMountPoints *mounts;
  gchar *mount;

  GST_OBJECT_LOCK (self);
  mount = g_strdup (self->mount);
  GST_OBJECT_UNLOCK (self);

  if (self->server_source)
    g_source_destroy (self->server_source);
  handoff_close_in_thread (self);
  gst_rtsp_server_client_filter (self->server, remove_client, NULL);
  pool = gst_rtsp_server_get_session_pool (self->server);
  gst_rtsp_session_pool_filter (pool, remove_session, NULL);
  g_object_unref (pool);
  mounts = gst_rtsp_server_get_mount_points (self->server);
  gst_rtsp_mount_points_remove_factory (mounts, mount);
  g_object_unref (mounts);
  g_free (mount);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
gst_rtsp_h264_sink_stop (GstBaseSink *sink)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (sink);
  GstRTSPMedia *media = NULL;
  GstElement *appsrc;

  if (self->thread) {
    g_main_context_invoke (self->context, shutdown_in_thread, self);
    g_thread_join (self->thread);
    self->thread = NULL;
  }

  g_mutex_lock (&self->feed_lock);
  appsrc = self->appsrc;
  self->appsrc = NULL;
  if (self->media)
    media = g_object_ref (self->media);
  self->media = NULL;
  g_mutex_unlock (&self->feed_lock);
  /* a media still prepared (sessions gone but not yet finalized) */
  if (media) {
    gst_rtsp_media_unprepare (media);
    g_object_unref (media);
  }
  gst_clear_object (&appsrc);

  if (self->server_source) {
    g_source_unref (self->server_source);
    self->server_source = NULL;
  }
  handoff_clear (self);
  g_clear_object (&self->factory);
  g_clear_object (&self->server);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_atomic_int_set (&self->n_clients, 0);
  GST_OBJECT_LOCK (self);
  self->bound_port = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_rtsp_h264_sink_set_caps (GstBaseSink *sink, GstCaps *caps)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (sink);

  GST_DEBUG_OBJECT (self, "caps %" GST_PTR_FORMAT, caps);
  g_mutex_lock (&self->feed_lock);
  gst_caps_replace (&self->caps, caps);
  if (self->appsrc)
    gst_app_src_set_caps (GST_APP_SRC (self->appsrc), caps);
  g_mutex_unlock (&self->feed_lock);
  return TRUE;
}

/* The running time of the media pipeline @appsrc is in, NONE unless it is
 * PLAYING with its clock and base time. Buffers are stamped with it here
 * rather than by appsrc (do-timestamp): appsrc stamps clock time minus its
 * base time even while the base time is not yet set (a live media going to
 * PLAYING for the first time, or PAUSED between preparing and a client's
 * PLAY), and a buffer stamped that way is the whole clock time ahead: the
 * media's sinks wait for it and the client gets nothing (seen about once
 * in 50 joins). */
static GstClockTime
media_running_time (GstElement *appsrc)
{
  GstClockTime base, now = GST_CLOCK_TIME_NONE;
  GstClock *clock = NULL;
  gboolean playing;

  GST_OBJECT_LOCK (appsrc);
  playing = GST_STATE (appsrc) == GST_STATE_PLAYING
            && GST_STATE_PENDING (appsrc) == GST_STATE_VOID_PENDING;
  base = GST_ELEMENT_CAST (appsrc)->base_time;
  if (GST_ELEMENT_CLOCK (appsrc))
    clock = gst_object_ref (GST_ELEMENT_CLOCK (appsrc));
  GST_OBJECT_UNLOCK (appsrc);
  if (playing && clock && base != 0) {
    GstClockTime t = gst_clock_get_time (clock);
    if (t >= base)
      now = t - base;
  }
  gst_clear_object (&clock);
  return now;
}

/* Whether the access unit goes to @appsrc's media now; a media that is not
 * playing gets nothing and starts again at a keyframe, asked for once. */
static gboolean
feed_decide (GstRtspH264Sink *self, GstElement *appsrc, gboolean delta,
             GstClockTime running)
{
  gboolean feed = FALSE, ask = FALSE;

  g_mutex_lock (&self->feed_lock);
  if (self->appsrc != appsrc) {
    /* the media changed meanwhile */
  } else if (!GST_CLOCK_TIME_IS_VALID (running)) {
    self->need_keyframe = TRUE;
    self->asked_keyframe = FALSE;
  } else if (self->need_keyframe && delta) {
    ask = !self->asked_keyframe;
    self->asked_keyframe = TRUE;
  } else {
    self->need_keyframe = FALSE;
    self->frames++;
    feed = TRUE;
  }
  g_mutex_unlock (&self->feed_lock);
  if (ask)
    request_keyframe (self, "the RTSP media plays and waits for a keyframe");
  return feed;
}

static GstFlowReturn
gst_rtsp_h264_sink_render (GstBaseSink *sink, GstBuffer *buffer)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (sink);
  gboolean delta = GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  GstElement *appsrc = NULL;
  GstClockTime running;
  GstBuffer *out;

  g_mutex_lock (&self->feed_lock);
  if (self->appsrc)
    appsrc = gst_object_ref (self->appsrc);
  g_mutex_unlock (&self->feed_lock);
  if (!appsrc)
    return GST_FLOW_OK; /* nobody watches */
  running = media_running_time (appsrc);
  if (!feed_decide (self, appsrc, delta, running)) {
    GST_LOG_OBJECT (self, "%s access unit not handed on",
                    delta ? "delta" : "key");
    gst_object_unref (appsrc);
    return GST_FLOW_OK;
  }
  GST_LOG_OBJECT (self, "%s access unit to the RTSP media at %" GST_TIME_FORMAT,
                  delta ? "delta" : "key", GST_TIME_ARGS (running));

  /* stamped with the media pipeline's running time (see
   * media_running_time()); shares the memory */
  out = gst_buffer_copy (buffer);
  GST_BUFFER_PTS (out) = running;
  GST_BUFFER_DTS (out) = running;
  if (gst_app_src_push_buffer (GST_APP_SRC (appsrc), out) != GST_FLOW_OK)
    GST_DEBUG_OBJECT (self, "RTSP media is shutting down; buffer dropped");
  gst_object_unref (appsrc);
  return GST_FLOW_OK;
}

static void
gst_rtsp_h264_sink_set_property (GObject *object, guint prop_id,
                                 const GValue *value, GParamSpec *pspec)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ADDRESS:
      g_free (self->address);
      self->address = g_value_dup_string (value);
      if (!self->address)
        self->address = g_strdup (DEFAULT_ADDRESS);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_MOUNT: {
      const gchar *m = g_value_get_string (value);
      g_free (self->mount);
      if (!m || !*m)
        self->mount = g_strdup (DEFAULT_MOUNT);
      else if (m[0] != '/')
        self->mount = g_strconcat ("/", m, NULL);
      else
        self->mount = g_strdup (m);
      break;
    }
    case PROP_USER:
      g_free (self->user);
      self->user = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      g_free (self->password);
      self->password = g_value_dup_string (value);
      break;
    case PROP_PASSWORD_FILE:
      g_free (self->password_file);
      self->password_file = g_value_dup_string (value);
      break;
    case PROP_HANDOFF_SOCKET:
      g_free (self->handoff_socket);
      self->handoff_socket = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_rtsp_h264_sink_get_property (GObject *object, guint prop_id, GValue *value,
                                 GParamSpec *pspec)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (object);

  switch (prop_id) {
    case PROP_ADDRESS:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->address);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_CURRENT_PORT:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->handoff_socket && *self->handoff_socket
                                   ? 0
                                   : self->bound_port);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_MOUNT:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->mount);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_USER:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->user);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PASSWORD_FILE:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->password_file);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_HANDOFF_SOCKET:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->handoff_socket);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_URL:
      GST_OBJECT_LOCK (self);
      g_value_take_string (
          value,
          g_strdup_printf (
              "rtsp://%s%s%s:%u%s", strchr (self->address, ':') ? "[" : "",
              self->address, strchr (self->address, ':') ? "]" : "",
              self->bound_port ? self->bound_port : self->port, self->mount));
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_CLIENTS:
      g_value_set_uint (value, (guint)g_atomic_int_get (&self->n_clients));
      break;
    case PROP_FRAMES:
      g_mutex_lock (&self->feed_lock);
      g_value_set_uint64 (value, self->frames);
      g_mutex_unlock (&self->feed_lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_rtsp_h264_sink_finalize (GObject *object)
{
  GstRtspH264Sink *self = GST_RTSP_H264_SINK (object);

  g_free (self->address);
  g_free (self->mount);
  g_free (self->user);
  g_free (self->password);
  g_free (self->password_file);
  g_free (self->handoff_socket);
  gst_clear_caps (&self->caps);
  g_mutex_clear (&self->feed_lock);
  G_OBJECT_CLASS (gst_rtsp_h264_sink_parent_class)->finalize (object);
}

static void
gst_rtsp_h264_sink_init (GstRtspH264Sink *self)
{
  self->address = g_strdup (DEFAULT_ADDRESS);
  self->port = DEFAULT_PORT;
  self->mount = g_strdup (DEFAULT_MOUNT);
  g_mutex_init (&self->feed_lock);
  /* a live relay: hand each access unit on as soon as it arrives */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_qos_enabled (GST_BASE_SINK (self), FALSE);
  /* no reason to pin the last access unit */
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (self), FALSE);
}

static void
gst_rtsp_h264_sink_class_init (GstRtspH264SinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_rtsp_h264_sink_set_property;
  gobject_class->get_property = gst_rtsp_h264_sink_get_property;
  gobject_class->finalize = gst_rtsp_h264_sink_finalize;

  g_object_class_install_property (
      gobject_class, PROP_ADDRESS,
      g_param_spec_string (
          "address", "Address",
          "IP address the RTSP server listens on. The default serves this "
          "machine only; any address that is not loopback (0.0.0.0, ::, a "
          "LAN address) needs user and password (or password-file): without "
          "them the element refuses to start",
          DEFAULT_ADDRESS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_PORT,
      g_param_spec_uint (
          "port", "Port",
          "TCP port of the RTSP server; 0 picks a free port (current-port "
          "says which). With handoff-socket nothing listens here: it is the "
          "port of the supervisor's RTSP server, used in url",
          0, 65535, DEFAULT_PORT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_CURRENT_PORT,
      g_param_spec_uint (
          "current-port", "Current port",
          "The TCP port the RTSP server listens on while it runs (the one "
          "port=0 picked); 0 when it is stopped or takes its clients from "
          "handoff-socket",
          0, 65535, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_MOUNT,
      g_param_spec_string (
          "mount", "Mount point",
          "Path of the stream: clients open rtsp://address:port<mount>, "
          "e.g. /demo or /<session id>",
          DEFAULT_MOUNT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_USER,
      g_param_spec_string (
          "user", "User",
          "User name for RTSP basic authentication (with password or "
          "password-file); every request without them is answered 401. When "
          "unset, anyone who reaches the address may watch, so it is required "
          "off loopback",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_PASSWORD,
      g_param_spec_string (
          "password", "Password",
          "Password for RTSP basic authentication (with user). Write-only. "
          "It is visible in a command line: prefer password-file",
          NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_PASSWORD_FILE,
      g_param_spec_string (
          "password-file", "Password file",
          "File holding the password for RTSP basic authentication (its "
          "first line; read on start, replaces password). Keep it private "
          "(mode 0600). Basic authentication is not encrypted: off a "
          "trusted network, tunnel RTSP (ssh, VPN)",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_HANDOFF_SOCKET,
      g_param_spec_string (
          "handoff-socket", "Handoff socket",
          "Path of a Unix socket to take RTSP clients from instead of "
          "listening on a TCP port: vmstream-supervisor accepts every "
          "session's clients on its one RTSP port and passes each connected "
          "socket here (SCM_RIGHTS, with the bytes it already read). The "
          "socket is made mode 0600 and removed on stop; put it in a private "
          "folder. Empty (the default): listen on address:port",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_URL,
      g_param_spec_string (
          "url", "URL",
          "The rtsp:// address clients open (with the port in use while "
          "running)",
          NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_CLIENTS,
      g_param_spec_uint (
          "clients", "Clients", "Number of RTSP client connections right now",
          0, G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      gobject_class, PROP_FRAMES,
      g_param_spec_uint64 (
          "frames", "Frames",
          "Access units handed to the RTSP media so far (frames arriving "
          "while nobody watches are not counted)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (
      element_class, "RTSP H.264 sink", "Sink/Network",
      "Serves the H.264 access units it receives to any number of RTSP "
      "clients (VLC, ffplay, rtspsrc) from one shared media, without "
      "encoding again; asks upstream for a keyframe when a client joins",
      "vmstream");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_rtsp_h264_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_rtsp_h264_sink_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_rtsp_h264_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_rtsp_h264_sink_render);

  GST_DEBUG_CATEGORY_INIT (gst_rtsp_h264_sink_debug, "rtsph264sink", 0,
                           "RTSP H.264 sink");
}

static gboolean
plugin_init (GstPlugin *plugin)
{
  return GST_ELEMENT_REGISTER (rtsph264sink, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, rtsph264sink,
                   "Serve H.264 over RTSP for vmstream", plugin_init, VERSION,
                   GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
