/* Fan-out benchmark client: N WebSocket clients of wsh264sink (or N raw
 * TCP clients of tcpserversink, the GStreamer peer), one of which may be
 * stalled (connects, then never reads). Prints one line per client with
 * frames/s (WebSocket) and Mbit/s, then a summary line.
 *
 *   fanout-client ws://127.0.0.1:PORT/stream/x N STALLED SECONDS
 *   fanout-client tcp://127.0.0.1:PORT N STALLED SECONDS
 *
 * Built by bench/fanout.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <gio/gio.h>
#include <libsoup/soup.h>

typedef struct {
  guint index;
  gboolean stalled;
  SoupWebsocketConnection *ws;
  GSocket *sock;
  GSource *src;
  guint64 frames, bytes;
  gboolean connected, failed;
} Client;

static GMainContext *stall_ctx;

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *msg, Client *c)
{
  if (type == SOUP_WEBSOCKET_DATA_BINARY)
    c->frames++;
  c->bytes += g_bytes_get_size (msg);
}

static void
on_ws_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  Client *c = data;
  GError *err = NULL;

  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &err);
  if (!c->ws) {
    g_printerr ("client %u: %s\n", c->index, err->message);
    g_error_free (err);
    c->failed = TRUE;
    return;
  }
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 0);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_message), c);
  c->connected = TRUE;
}

static gboolean
on_tcp_readable (GSocket *sock, GIOCondition cond, gpointer data)
{
  Client *c = data;
  static gchar buf[256 * 1024];
  gssize n = g_socket_receive (sock, buf, sizeof (buf), NULL, NULL);

  if (n <= 0)
    return G_SOURCE_REMOVE;
  c->bytes += n;
  return G_SOURCE_CONTINUE;
}

static gboolean
all_connected (Client *cs, guint n)
{
  guint i;
  for (i = 0; i < n; i++)
    if (!cs[i].connected && !cs[i].failed)
      return FALSE;
  return TRUE;
}

static gboolean
on_done (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  const gchar *url;
  guint n, stalled, seconds, i, readers = 0;
  Client *cs;
  gboolean tcp, done = FALSE;
  SoupSession *session = NULL, *stall_session = NULL;
  GMainContext *ctx = g_main_context_default ();
  gint64 t0, t1;
  gdouble sum_fps = 0, min_fps = G_MAXDOUBLE, sum_mbps = 0, secs;

  if (argc != 5) {
    g_printerr ("usage: %s ws://host:port/path|tcp://host:port N STALLED "
                "SECONDS\n",
                argv[0]);
    return 2;
  }
  url = argv[1];
  n = atoi (argv[2]);
  stalled = atoi (argv[3]);
  seconds = atoi (argv[4]);
  tcp = g_str_has_prefix (url, "tcp://");
  cs = g_new0 (Client, n);
  stall_ctx = g_main_context_new ();

  if (!tcp) {
    g_autoptr (GProxyResolver) direct
        = g_simple_proxy_resolver_new (NULL, NULL);
    session = soup_session_new_with_options ("proxy-resolver", direct,
                                             "max-conns", 1000,
                                             "max-conns-per-host", 1000, NULL);
    g_main_context_push_thread_default (stall_ctx);
    stall_session
        = soup_session_new_with_options ("proxy-resolver", direct, NULL);
    g_main_context_pop_thread_default (stall_ctx);
  }

  for (i = 0; i < n; i++) {
    Client *c = &cs[i];
    c->index = i;
    c->stalled = i < stalled;
    if (tcp) {
      g_autoptr (GSocketClient) sc = g_socket_client_new ();
      GSocketConnection *conn;
      g_socket_client_set_enable_proxy (sc, FALSE);
      conn = g_socket_client_connect_to_uri (sc, url, 0, NULL, NULL);
      if (!conn) {
        c->failed = TRUE;
        continue;
      }
      c->sock = g_object_ref (g_socket_connection_get_socket (conn));
      g_object_set_data_full (G_OBJECT (c->sock), "conn", conn, g_object_unref);
      c->connected = TRUE;
      if (c->stalled)
        g_socket_set_option (c->sock, SOL_SOCKET, SO_RCVBUF, 65536, NULL);
      if (!c->stalled) {
        c->src = g_socket_create_source (c->sock, G_IO_IN, NULL);
        g_source_set_callback (
            c->src, (GSourceFunc)G_CALLBACK (on_tcp_readable), c, NULL);
        g_source_attach (c->src, ctx);
      }
    } else {
      SoupMessage *msg = soup_message_new ("GET", url);
      if (c->stalled) {
        /* Its context is iterated only until the handshake is done. */
        g_main_context_push_thread_default (stall_ctx);
        soup_session_websocket_connect_async (stall_session, msg, NULL, NULL,
                                              G_PRIORITY_DEFAULT, NULL,
                                              on_ws_connected, c);
        while (!c->connected && !c->failed)
          g_main_context_iteration (stall_ctx, TRUE);
        g_main_context_pop_thread_default (stall_ctx);
        /* A small receive window, so the sink's send buffer (not the
         * client's) holds what the stalled client does not read. */
        if (c->ws) {
          GIOStream *io = soup_websocket_connection_get_io_stream (c->ws);
          GIOStream *base = NULL;
          if (g_object_class_find_property (G_OBJECT_GET_CLASS (io),
                                            "base-iostream"))
            g_object_get (io, "base-iostream", &base, NULL);
          if (base && G_IS_SOCKET_CONNECTION (base))
            g_socket_set_option (
                g_socket_connection_get_socket (G_SOCKET_CONNECTION (base)),
                SOL_SOCKET, SO_RCVBUF, 65536, NULL);
          g_clear_object (&base);
        }
      } else {
        soup_session_websocket_connect_async (session, msg, NULL, NULL,
                                              G_PRIORITY_DEFAULT, NULL,
                                              on_ws_connected, c);
      }
      g_object_unref (msg);
    }
  }
  while (!all_connected (cs, n))
    g_main_context_iteration (ctx, TRUE);

  /* Warm-up: one second to reach the first keyframe, then count. */
  {
    gboolean warm = FALSE;
    g_timeout_add (1000, on_done, &warm);
    while (!warm)
      g_main_context_iteration (ctx, TRUE);
  }
  for (i = 0; i < n; i++)
    cs[i].frames = cs[i].bytes = 0;
  t0 = g_get_monotonic_time ();
  g_timeout_add_seconds (seconds, on_done, &done);
  while (!done)
    g_main_context_iteration (ctx, TRUE);
  t1 = g_get_monotonic_time ();
  secs = (t1 - t0) / 1e6;

  for (i = 0; i < n; i++) {
    Client *c = &cs[i];
    gdouble fps = c->frames / secs, mbps = c->bytes * 8 / secs / 1e6;
    printf ("client %2u %-8s %7.1f frames/s %7.2f Mbit/s%s\n", i,
            c->stalled ? "stalled" : "reader", fps, mbps,
            c->failed ? " (failed to connect)" : "");
    if (!c->stalled && !c->failed) {
      readers++;
      sum_fps += fps;
      sum_mbps += mbps;
      min_fps = MIN (min_fps, fps);
    }
  }
  printf ("SUMMARY readers=%u mean_fps=%.1f min_fps=%.1f mean_mbps=%.2f\n",
          readers, readers ? sum_fps / readers : 0, readers ? min_fps : 0,
          readers ? sum_mbps / readers : 0);
  fflush (stdout);
  /* Exit without a tidy close: the benchmark ends here. */
  return 0;
}
