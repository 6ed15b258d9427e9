/* vmstream-supervisor: the front door's relay to a session's wsh264sink.
 *
 * Every session's wsh264sink listens on a Unix socket in the session's
 * private runtime folder (RUN_DIR/ws.sock, mode 0600) instead of a TCP port.
 * For /stream/ID (a WebSocket upgrade) and /player/ID/... (the player page)
 * the supervisor, after its request gate (Host, Origin: api.c), connects to
 * that socket, takes the viewer's connection from libsoup, writes the
 * request there (the sink's path, the viewer's headers) and copies bytes
 * both ways until either side closes. Everything of the stream stays end to
 * end in the sink: the WebSocket handshake, the viewer token, per-viewer
 * bounded queues, keyframe-on-join and slow-viewer isolation (a slow
 * viewer stops this copy reading, the session's socket fills, the sink's
 * per-viewer policy applies). The stolen stream is whatever libsoup
 * served the request on, so the same copy works under TLS.
 * docs/websocket.md "One front door", docs/architecture.md "Decisions". */
#include "supervisor.h"

#include "vmsauth.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <gio/gunixsocketaddress.h>

/* One read: 64 KiB moves a typical encoded frame in one or two turns of
 * the main loop (GLib's own splice uses 8 KiB). */
#define RELAY_CHUNK (64 * 1024)
/* viewer -> session carries input messages (at most 4 KiB each) */
#define RELAY_UP_CHUNK (8 * 1024)
/* The viewer's kernel send buffer: bounded, so the lag a slow viewer can
 * hide between the sink and the browser stays small (wsh264sink bounds its
 * own socket the same way, send-buffer-size). */
#define RELAY_SNDBUF (256 * 1024)

typedef struct _Relay Relay;

typedef struct {
  Relay *relay;
  GInputStream *in;
  GOutputStream *out;
  guint8 *buf;
  gsize size;
  gboolean done;
} Pump;

struct _Relay {
  gchar *session_id;
  GIOStream *viewer;
  GIOStream *session;
  GCancellable *cancel;
  gchar *head;
  Pump up;   /* viewer -> session */
  Pump down; /* session -> viewer */
  gint closing;
};

static void pump_read (Pump *p);

static void
relay_free (Relay *r)
{
  g_object_unref (r->viewer);
  g_object_unref (r->session);
  g_object_unref (r->cancel);
  g_free (r->up.buf);
  g_free (r->down.buf);
  g_free (r->head);
  g_free (r->session_id);
  g_free (r);
}

static void
relay_closed_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Relay *r = user_data;

  g_io_stream_close_finish (G_IO_STREAM (src), res, NULL);
  if (--r->closing == 0)
    relay_free (r);
}

/* A pump ended (EOF, error or cancelled): stop the other one; once both
 * have ended close both connections. */
static void
pump_done (Pump *p)
{
  Relay *r = p->relay;

  p->done = TRUE;
  g_cancellable_cancel (r->cancel);
  if (!r->up.done || !r->down.done)
    return;
  r->closing = 2;
  g_io_stream_close_async (r->viewer, G_PRIORITY_DEFAULT, NULL, relay_closed_cb,
                           r);
  g_io_stream_close_async (r->session, G_PRIORITY_DEFAULT, NULL,
                           relay_closed_cb, r);
}

static void
pump_written_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Pump *p = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL,
                                         NULL)) {
    pump_done (p);
    return;
  }
  pump_read (p);
}

static void
pump_read_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Pump *p = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, NULL);

  if (n <= 0) {
    pump_done (p);
    return;
  }
  g_output_stream_write_all_async (p->out, p->buf, (gsize)n, G_PRIORITY_DEFAULT,
                                   p->relay->cancel, pump_written_cb, p);
}

static void
pump_read (Pump *p)
{
  g_input_stream_read_async (p->in, p->buf, p->size, G_PRIORITY_DEFAULT,
                             p->relay->cancel, pump_read_cb, p);
}

static void
pump_init (Pump *p, Relay *r, GIOStream *from, GIOStream *to, gsize size)
{
  p->relay = r;
  p->in = g_io_stream_get_input_stream (from);
  p->out = g_io_stream_get_output_stream (to);
  p->size = size;
  p->buf = g_malloc (size);
}

static void
head_written_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Relay *r = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL,
                                         NULL)) {
    g_message ("session %s: the relay could not reach the stream",
               r->session_id);
    r->up.done = TRUE;
    pump_done (&r->down);
    return;
  }
  pump_read (&r->up);
  pump_read (&r->down);
}

/* Headers that describe the viewer's connection to us, not the request:
 * the relay writes its own. */
static gboolean
hop_header (const gchar *name, gboolean upgrade)
{
  return g_ascii_strcasecmp (name, "X-Forwarded-For") == 0
         || g_ascii_strcasecmp (name, "Keep-Alive") == 0
         || (!upgrade
             && (g_ascii_strcasecmp (name, "Connection") == 0
                 || g_ascii_strcasecmp (name, "Upgrade") == 0));
}

/* The administrator token never reaches a session process
 * (docs/security.md): an Authorization header that carries it is not
 * passed on. A viewer token is (the player's config.json check). */
static gboolean
is_admin_auth (VmsSession *s, const gchar *name, const gchar *value)
{
  return g_ascii_strcasecmp (name, "Authorization") == 0
         && (g_ascii_strncasecmp (value, "Bearer ", 7) != 0
             || vms_token_equal (vms_session_get_supervisor (s)->cfg->token,
                                 value + 7));
}

/* The request as the sink sees it: @sink_path with the viewer's query, the
 * viewer's headers (Host and Origin among them: the gate checked them), who
 * the viewer is, and for a page "Connection: close", so the next request on
 * the viewer's connection cannot reach the sink. */
static gchar *
request_head (VmsSession *s, SoupServerMessage *msg, const gchar *sink_path,
              gboolean upgrade)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const gchar *query = g_uri_get_query (soup_server_message_get_uri (msg));
  const gchar *peer = soup_server_message_get_remote_host (msg);
  GString *out = g_string_new (NULL);
  SoupMessageHeadersIter it;
  const gchar *name, *value;

  g_string_append_printf (out, "%s %s%s%s HTTP/1.1\r\n",
                          soup_server_message_get_method (msg), sink_path,
                          query ? "?" : "", query ? query : "");
  soup_message_headers_iter_init (&it, h);
  while (soup_message_headers_iter_next (&it, &name, &value)) {
    if (!hop_header (name, upgrade) && !is_admin_auth (s, name, value))
      g_string_append_printf (out, "%s: %s\r\n", name, value);
  }
  if (peer)
    g_string_append_printf (out, "X-Forwarded-For: %s\r\n", peer);
  if (!upgrade)
    g_string_append (out, "Connection: close\r\n");
  g_string_append (out, "\r\n");
  return g_string_free (out, FALSE);
}

static GIOStream *
connect_session (VmsSession *s, GError **error)
{
  g_autofree gchar *path
      = g_build_filename (vms_session_get_run_dir (s), VMS_WS_SOCKET, NULL);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GError) err = NULL;

  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_DEFAULT, error);
  if (sock == NULL)
    return NULL;
  /* a local connect: the listener's backlog (SOMAXCONN) takes it at once,
   * it never waits on the peer */
  if (!g_socket_connect (sock, addr, NULL, &err)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 "session \"%s\" is not streaming right now (%s): it may be "
                 "starting or restarting, try again in a moment",
                 vms_session_get_id (s),
                 vms_state_name (vms_session_get_state (s)));
    return NULL;
  }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (sock));
}

gboolean
vms_relay_start (VmsSession *s, SoupServerMessage *msg, const gchar *sink_path,
                 gboolean upgrade, GError **error)
{
  GSocket *vsock = soup_server_message_get_socket (msg);
  GIOStream *session, *viewer;
  Relay *r;

  session = connect_session (s, error);
  if (session == NULL)
    return FALSE;
  if (vsock) {
    g_autoptr (GError) err = NULL;
    if (!g_socket_set_option (vsock, SOL_SOCKET, SO_SNDBUF, RELAY_SNDBUF, &err))
      g_debug ("relay: SO_SNDBUF: %s", err->message);
    /* a frame's last segment must not wait for the viewer's (delayed) ACK
     * of the one before: Nagle would add up to ~40 ms to some frames */
    if (g_socket_get_family (vsock) != G_SOCKET_FAMILY_UNIX)
      g_socket_set_option (vsock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  }
  r = g_new0 (Relay, 1);
  r->session_id = g_strdup (vms_session_get_id (s));
  r->head = request_head (s, msg, sink_path, upgrade);
  g_object_ref (msg);
  viewer = soup_server_message_steal_connection (msg);
  g_object_unref (msg);
  if (viewer == NULL) {
    g_object_unref (session);
    g_free (r->head);
    g_free (r->session_id);
    g_free (r);
    return TRUE; /* the viewer is gone already: nothing to answer */
  }
  r->viewer = viewer;
  r->session = session;
  r->cancel = g_cancellable_new ();
  pump_init (&r->up, r, viewer, session, RELAY_UP_CHUNK);
  pump_init (&r->down, r, session, viewer, RELAY_CHUNK);
  g_output_stream_write_all_async (
      g_io_stream_get_output_stream (session), r->head, strlen (r->head),
      G_PRIORITY_DEFAULT, r->cancel, head_written_cb, r);
  return TRUE;
}
