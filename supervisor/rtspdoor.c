/* vmstream-supervisor: the one RTSP port of every session.
 *
 * The supervisor listens on --rtsp-port (HELIX_RTSP_PORT) and serves no
 * RTSP itself: it reads the head of a client's first request (at most
 * VMS_RTSP_HEAD_MAX bytes, within DOOR_TIMEOUT_S), takes the session id
 * from the URL (rtsp://host:port/{id}[/...]) and hands the connected socket
 * and those bytes to that session's process, whose rtsph264sink listens on
 * RUN_DIR/rtsp.sock (handoff-socket, common/vmsrtsp.h). From then on the
 * session talks to the client directly: its own authentication, RTP over
 * UDP to the client's real address or interleaved on the same connection;
 * no media byte passes through here.
 *
 * Answers of our own, then close: 400 (not an RTSP request, NUL bytes,
 * head over 4 KiB), 404 (no such session), 408 (no whole head in time),
 * 503 (the session is not running, or its process did not take the
 * client). Every client is read asynchronously with its own timeout, so a
 * silent or slow one holds nothing but its own connection; at most
 * DOOR_MAX_PENDING are read at once, more are closed at once.
 *
 * The listening socket is ours (a GSocket source that accepts until
 * EAGAIN), not a GSocketService: under load a GSocketService here stopped
 * accepting after a burst of connections (the listen queue overflowed while
 * the main loop ran; tests/supervisor/test_rtsp_door.py, 256 clients). */
#include "supervisor.h"

#include "vmsnet.h"
#include "vmsrtsp.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>

#define DOOR_TIMEOUT_S 10
#define DOOR_MAX_PENDING 256

typedef struct {
  VmsSupervisor *sup;
  GSocketConnection *conn;
  GCancellable *cancel;
  guint timeout_id;
  gboolean timed_out;
  gchar buf[VMS_RTSP_HEAD_MAX];
  gsize len;
  gchar *cseq;
  gchar *session_id;
} Door;

static void
door_free (Door *d)
{
  d->sup->rtsp_doors = g_list_remove (d->sup->rtsp_doors, d);
  if (d->timeout_id)
    g_source_remove (d->timeout_id);
  g_io_stream_close (G_IO_STREAM (d->conn), NULL, NULL);
  g_object_unref (d->conn);
  g_object_unref (d->cancel);
  g_free (d->cseq);
  g_free (d->session_id);
  g_free (d);
}

/* An answer of ours and the end of @d. Never blocks: nothing was sent on
 * this connection before, so the few bytes fit the socket's buffer. */
static void
door_answer (Door *d, guint code, const gchar *reason, const gchar *why)
{
  GSocket *sock = g_socket_connection_get_socket (d->conn);
  g_autofree gchar *text = vms_rtsp_answer (code, reason, d->cseq);
  g_autofree gchar *id = vms_printable (d->session_id, 64);
  g_autoptr (GSocketAddress) peer
      = g_socket_connection_get_remote_address (d->conn, NULL);
  g_autofree gchar *from
      = G_IS_INET_SOCKET_ADDRESS (peer) ? g_inet_address_to_string (
            g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)))
                                        : g_strdup ("?");

  g_message ("RTSP: %u %s to %s%s%s: %s", code, reason, from,
             d->session_id ? " for session " : "", id, why);
  g_socket_set_blocking (sock, FALSE);
  g_socket_send (sock, text, strlen (text), NULL, NULL);
  door_free (d);
}

static void
handoff_connected_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Door *d = user_data;
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketConnection) unix_conn
      = g_socket_client_connect_finish (G_SOCKET_CLIENT (src), res, &err);
  gint fd = g_socket_get_fd (g_socket_connection_get_socket (d->conn));

  if (unix_conn == NULL
      || !vms_rtsp_handoff_send (g_socket_connection_get_socket (unix_conn), fd,
                                 d->buf, d->len, &err)) {
    door_answer (d, 503, "Service Unavailable",
                 err ? err->message : "the session did not take it");
    return;
  }
  g_io_stream_close (G_IO_STREAM (unix_conn), NULL, NULL);
  /* the session has the connection now; ours is closed in door_free() */
  door_free (d);
}

static void
door_route (Door *d)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GSocketClient) client = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autofree gchar *path = NULL;
  VmsSession *s;

  if (!vms_rtsp_head_parse (d->buf, d->len, &d->session_id, &d->cseq, &err)) {
    door_answer (d, 400, "Bad Request", err->message);
    return;
  }
  s = d->session_id ? g_hash_table_lookup (d->sup->sessions, d->session_id)
                    : NULL;
  if (s == NULL || vms_session_is_removed (s)) {
    door_answer (d, 404, "Not Found", "no such session");
    return;
  }
  if (vms_session_get_state (s) != VMS_STATE_RUNNING
      || vms_session_get_run_dir (s) == NULL) {
    door_answer (d, 503, "Service Unavailable",
                 vms_state_name (vms_session_get_state (s)));
    return;
  }
  path = g_build_filename (vms_session_get_run_dir (s), VMS_RTSP_HANDOFF_NAME,
                           NULL);
  addr = g_unix_socket_address_new (path);
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, DOOR_TIMEOUT_S);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (addr), d->cancel,
                                 handoff_connected_cb, d);
}

static void door_read (Door *d);

static void
door_read_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Door *d = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, NULL);

  if (n <= 0) { /* gone, or cancelled: by the timeout or at shutdown */
    if (d->timed_out)
      door_answer (
          d, 408, "Request Timeout",
          "no whole request within " G_STRINGIFY (DOOR_TIMEOUT_S) " s");
    else
      door_free (d);
    return;
  }
  d->len += (gsize)n;
  if (vms_rtsp_head_complete (d->buf, d->len)) {
    g_source_remove (d->timeout_id);
    d->timeout_id = 0;
    door_route (d);
  } else if (d->len == sizeof d->buf) {
    door_answer (d, 400, "Bad Request", "the request head exceeds 4 KiB");
  } else {
    door_read (d);
  }
}

static void
door_read (Door *d)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (d->conn));

  g_input_stream_read_async (in, d->buf + d->len, sizeof d->buf - d->len,
                             G_PRIORITY_DEFAULT, d->cancel, door_read_cb, d);
}

static gboolean
door_timeout_cb (gpointer user_data)
{
  Door *d = user_data;

  d->timeout_id = 0;
  d->timed_out = TRUE;
  /* the pending read ends cancelled: door_read_cb answers */
  g_cancellable_cancel (d->cancel);
  return G_SOURCE_REMOVE;
}

/* A new client: read its request head, or close it at once past
 * DOOR_MAX_PENDING. */
static void
door_take (VmsSupervisor *sup, GSocket *sock)
{
  Door *d;

  if (g_list_length (sup->rtsp_doors) >= DOOR_MAX_PENDING
      || sup->shutting_down) {
    g_socket_close (sock, NULL);
    return;
  }
  d = g_new0 (Door, 1);
  sup->rtsp_doors = g_list_prepend (sup->rtsp_doors, d);
  d->sup = sup;
  d->conn = g_socket_connection_factory_create_connection (sock);
  d->cancel = g_cancellable_new ();
  d->timeout_id = g_timeout_add_seconds (DOOR_TIMEOUT_S, door_timeout_cb, d);
  door_read (d);
}

/* The listening socket is readable: accept every connection waiting (a
 * burst of clients never waits for more main loop turns than needed). */
static gboolean
door_incoming_cb (GSocket *listener, GIOCondition cond, gpointer user_data)
{
  VmsSupervisor *sup = user_data;

  for (;;) {
    g_autoptr (GError) err = NULL;
    g_autoptr (GSocket) sock = g_socket_accept (listener, NULL, &err);

    if (sock == NULL) {
      if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_message ("RTSP: cannot accept a client: %s", err->message);
      return G_SOURCE_CONTINUE;
    }
    door_take (sup, sock);
  }
}

gboolean
vms_rtsp_door_start (VmsSupervisor *sup, GError **error)
{
  VmsConfig *cfg = sup->cfg;
  /* the API has checked that the listen address is an IP address */
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new_from_string (
      cfg->listen_host, (guint)cfg->rtsp_port);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) err = NULL;
  GSocket *sock;

  g_return_val_if_fail (sa != NULL, FALSE);
  sock = g_socket_new (g_socket_address_get_family (sa), G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, &err);
  if (sock) {
    /* a burst of players connecting at once is not refused by the kernel */
    g_socket_set_listen_backlog (sock, DOOR_MAX_PENDING);
    g_socket_set_blocking (sock, FALSE);
  }
  if (sock == NULL || !g_socket_bind (sock, sa, TRUE, &err)
      || !g_socket_listen (sock, &err)
      || !(bound = g_socket_get_local_address (sock, &err))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot listen for RTSP on %s port %d (HELIX_RTSP_PORT, "
                 "--rtsp-port): %s",
                 cfg->listen_host, cfg->rtsp_port, err->message);
    g_clear_object (&sock);
    return FALSE;
  }
  sup->rtsp_listener = sock;
  sup->rtsp_port
      = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  sup->rtsp_source = g_socket_create_source (sock, G_IO_IN, NULL);
  g_source_set_callback (sup->rtsp_source,
                         (GSourceFunc)(void (*) (void))door_incoming_cb, sup,
                         NULL);
  g_source_attach (sup->rtsp_source, NULL);
  g_message ("RTSP for every session on rtsp://%s%s%s:%u/{id}",
             strchr (cfg->listen_host, ':') ? "[" : "", cfg->listen_host,
             strchr (cfg->listen_host, ':') ? "]" : "", sup->rtsp_port);
  return TRUE;
}

void
vms_rtsp_door_stop (VmsSupervisor *sup)
{
  if (sup->rtsp_listener == NULL)
    return;
  g_source_destroy (sup->rtsp_source);
  g_clear_pointer (&sup->rtsp_source, g_source_unref);
  g_socket_close (sup->rtsp_listener, NULL);
  g_clear_object (&sup->rtsp_listener);
  /* clients still being read: their reads and connects end cancelled */
  for (GList *l = sup->rtsp_doors; l; l = l->next)
    g_cancellable_cancel (((Door *)l->data)->cancel);
  while (sup->rtsp_doors)
    g_main_context_iteration (NULL, TRUE);
}
