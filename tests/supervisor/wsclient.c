/* vms-wsclient: the one WebSocket client of the C tests and benchmarks.
 *
 * Test mode (the default): one client connects to a wsh264sink stream URL
 * (retrying until --timeout), counts the binary access-unit messages and,
 * after the first one, sends the --send text messages (input events).
 * Prints, with times in ms since --t0-us (a g_get_real_time() value;
 * default: program start):
 *   connected <ms>
 *   init <json>
 *   first-frame <ms>
 *   sent <n>
 *   frames <n>
 *   closed <code> <reason>   (the close frame, as the server sent it)
 *   gaps <n>   frames whose sequence number did not follow the previous one
 * Exit 0 when --frames binary messages arrived, 1 on timeout/error.
 *
 * Benchmark mode (--seconds S, for bench/fanout.sh and bench/relay.sh):
 * --clients N viewers of which the first --stalled K connect and then never
 * read (a small receive window, so the sink holds what they do not read).
 * After all connected and --warmup seconds, it counts for S seconds and
 * prints one line per viewer (frames/s, Mbit/s), then
 *   SUMMARY readers=R mean_fps=X min_fps=Y mean_mbps=Z
 *   RESULT clients=N connected=C frames=F fps_mean=X p50_us=A p99_us=B
 *          max_us=C
 * where the latency is from the sink's send time (frame header bytes
 * 24..31, Unix µs; docs/websocket.md) to the arrival here. --dump FILE
 * writes "seq arrival_us" of the first reader's frames. A tcp:// URL reads
 * raw bytes instead (tcpserversink, the GStreamer peer of the fan-out
 * benchmark). Exit 1 when a viewer could not connect.
 *
 * Both modes: --unix PATH connects to that Unix socket (the sink's own)
 * instead of the URL's host; a wss:// URL is verified against --cafile
 * (e.g. the supervisor's HELIX_TLS_CERT) instead of the system's CAs. */
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct Run Run;

typedef struct {
  Run *run;
  guint index;
  gboolean stalled;
  SoupWebsocketConnection *ws;
  GSocketConnection *tcp;
  GSource *src;
  guint64 frames, bytes; /* test mode: all; bench mode: in the window */
  gint gaps; /* frames whose sequence number did not follow the last one */
  gboolean have_seq;
  guint32 last_seq;
  gboolean sent, connected, failed;
} Client;

struct Run {
  /* options */
  const gchar *url;
  gchar *unix_path, *cafile, *dump_path;
  gchar **send;
  gint want_frames, timeout_s, n_clients, n_stalled, seconds, warmup;
  gint64 t0;
  /* state */
  gboolean bench;
  GMainLoop *loop;
  SoupSession *session, *stall_session;
  GMainContext *stall_ctx;
  Client *clients;
  gint64 deadline;                 /* test mode: end of connection retries */
  gint64 measure_from, measure_to; /* bench mode: the window, real time */
  GArray *lat;                     /* gint64 µs, in the window */
  FILE *dump;
};

static void connect_now (Client *c);

static gdouble
ms_since_t0 (Run *r)
{
  return (g_get_real_time () - r->t0) / 1000.0;
}

static gboolean
in_window (Run *r, gint64 now)
{
  return r->measure_from > 0 && now >= r->measure_from
         && (r->measure_to == 0 || now < r->measure_to);
}

static void
bench_message (Client *c, gint type, const guint8 *data, gsize len)
{
  Run *r = c->run;
  gint64 now = g_get_real_time ();
  guint64 send_us;

  if (!in_window (r, now))
    return;
  c->bytes += len;
  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    return;
  c->frames++;
  if (len < 32)
    return;
  if (r->dump && c == &r->clients[r->n_stalled]) {
    guint32 seq;
    memcpy (&seq, data + 4, 4);
    fprintf (r->dump, "%u %" G_GINT64_FORMAT "\n", GUINT32_FROM_LE (seq), now);
  }
  memcpy (&send_us, data + 24, 8);
  send_us = GUINT64_FROM_LE (send_us);
  if (send_us > 0) {
    gint64 l = now - (gint64)send_us;
    g_array_append_val (r->lat, l);
  }
}

static void
test_message (Client *c, gint type, const guint8 *data, gsize len)
{
  Run *r = c->run;

  if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    printf ("init %.*s\n", (int)MIN (len, 400), data);
    fflush (stdout);
    return;
  }
  if (len >= 8) {
    guint32 seq;
    memcpy (&seq, data + 4, 4);
    seq = GUINT32_FROM_LE (seq);
    if (c->have_seq && seq != c->last_seq + 1)
      c->gaps++;
    c->have_seq = TRUE;
    c->last_seq = seq;
  }
  if (++c->frames == 1) {
    printf ("first-frame %.1f\n", ms_since_t0 (r));
    fflush (stdout);
  }
  if (!c->sent && r->send) {
    guint n = 0;
    for (gchar **m = r->send; *m; m++, n++)
      soup_websocket_connection_send_text (c->ws, *m);
    c->sent = TRUE;
    printf ("sent %u\n", n);
    fflush (stdout);
  }
  if (c->frames >= (guint64)r->want_frames)
    soup_websocket_connection_close (c->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message,
            gpointer user_data)
{
  Client *c = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (c->run->bench)
    bench_message (c, type, data, len);
  else
    test_message (c, type, data, len);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  Client *c = user_data;
  const gchar *reason = soup_websocket_connection_get_close_data (ws);

  if (c->run->bench)
    return;
  printf ("closed %u %s\n", soup_websocket_connection_get_close_code (ws),
          reason ? reason : "");
  fflush (stdout);
  g_main_loop_quit (c->run->loop);
}

static gboolean
retry_cb (gpointer user_data)
{
  connect_now (user_data);
  return G_SOURCE_REMOVE;
}

/* A stalled viewer's receive window: small, so that the sink's send buffer
 * (not this client's) holds what it does not read. */
static void
shrink_rcvbuf (SoupWebsocketConnection *ws)
{
  GIOStream *io = soup_websocket_connection_get_io_stream (ws);
  GIOStream *base = NULL;

  if (g_object_class_find_property (G_OBJECT_GET_CLASS (io), "base-iostream"))
    g_object_get (io, "base-iostream", &base, NULL);
  if (base && G_IS_SOCKET_CONNECTION (base))
    g_socket_set_option (
        g_socket_connection_get_socket (G_SOCKET_CONNECTION (base)), SOL_SOCKET,
        SO_RCVBUF, 65536, NULL);
  g_clear_object (&base);
}

static void
connected_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Client *c = user_data;
  Run *r = c->run;
  g_autoptr (GError) error = NULL;

  c->ws
      = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &error);
  if (c->ws == NULL) {
    if (!r->bench && g_get_real_time () < r->deadline) {
      g_timeout_add (20, retry_cb, c);
      return;
    }
    fprintf (stderr, "vms-wsclient: client %u cannot connect to %s: %s\n",
             c->index, r->url, error->message);
    c->failed = TRUE;
    if (!r->bench)
      g_main_loop_quit (r->loop);
    return;
  }
  c->connected = TRUE;
  if (!r->bench) {
    printf ("connected %.1f\n", ms_since_t0 (r));
    fflush (stdout);
  }
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 64 << 20);
  if (c->stalled) {
    shrink_rcvbuf (c->ws);
    return;
  }
  g_signal_connect (c->ws, "message", G_CALLBACK (on_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (on_closed), c);
}

static void
connect_now (Client *c)
{
  Run *r = c->run;
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", r->url);
  const char *protocols[] = { "vmstream", NULL };

  if (msg == NULL) {
    fprintf (stderr, "vms-wsclient: bad URL %s\n", r->url);
    exit (2);
  }
  if (c->stalled) {
    /* its context is iterated only until the handshake is done */
    g_main_context_push_thread_default (r->stall_ctx);
    soup_session_websocket_connect_async (
        r->stall_session, msg, NULL, (char **)protocols, G_PRIORITY_DEFAULT,
        NULL, connected_cb, c);
    while (!c->connected && !c->failed)
      g_main_context_iteration (r->stall_ctx, TRUE);
    g_main_context_pop_thread_default (r->stall_ctx);
    return;
  }
  soup_session_websocket_connect_async (r->session, msg, NULL,
                                        (char **)protocols, G_PRIORITY_DEFAULT,
                                        NULL, connected_cb, c);
}

static gboolean
on_tcp_readable (GSocket *sock, GIOCondition cond, gpointer data)
{
  Client *c = data;
  static gchar buf[256 * 1024];
  gssize n = g_socket_receive (sock, buf, sizeof (buf), NULL, NULL);

  if (n <= 0)
    return G_SOURCE_REMOVE;
  if (in_window (c->run, g_get_real_time ()))
    c->bytes += n;
  return G_SOURCE_CONTINUE;
}

/* tcp:// (bench mode): a raw reader of tcpserversink's bytes. */
static void
connect_tcp (Client *c)
{
  g_autoptr (GSocketClient) sc = g_socket_client_new ();
  GSocket *sock;

  g_socket_client_set_enable_proxy (sc, FALSE);
  c->tcp = g_socket_client_connect_to_uri (sc, c->run->url, 0, NULL, NULL);
  if (!c->tcp) {
    c->failed = TRUE;
    return;
  }
  c->connected = TRUE;
  sock = g_socket_connection_get_socket (c->tcp);
  if (c->stalled) {
    g_socket_set_option (sock, SOL_SOCKET, SO_RCVBUF, 65536, NULL);
    return;
  }
  c->src = g_socket_create_source (sock, G_IO_IN, NULL);
  g_source_set_callback (c->src, (GSourceFunc)G_CALLBACK (on_tcp_readable), c,
                         NULL);
  g_source_attach (c->src, NULL);
}

static SoupSession *
new_session (Run *r, GError **error)
{
  g_autoptr (GProxyResolver) direct = g_simple_proxy_resolver_new (NULL, NULL);
  SoupSession *s;

  /* loopback only: no proxy lookup (libproxy is C++ and trips ASan) */
  if (r->unix_path) {
    g_autoptr (GSocketAddress) a = g_unix_socket_address_new (r->unix_path);
    s = soup_session_new_with_options ("remote-connectable", a, NULL);
  } else {
    s = soup_session_new_with_options ("proxy-resolver", direct, "max-conns",
                                       1000, "max-conns-per-host", 1000, NULL);
  }
  if (r->cafile) {
    g_autoptr (GTlsDatabase) db = g_tls_file_database_new (r->cafile, error);
    if (db == NULL) {
      g_object_unref (s);
      return NULL;
    }
    g_object_set (s, "tls-database", db, NULL);
  }
  return s;
}

static gboolean
quit_cb (gpointer user_data)
{
  Run *r = user_data;

  if (!r->bench)
    fprintf (stderr,
             "vms-wsclient: timeout after %" G_GUINT64_FORMAT " frames\n",
             r->clients[0].frames);
  g_main_loop_quit (r->loop);
  return G_SOURCE_REMOVE;
}

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

static gint
run_test (Run *r)
{
  Client *c = &r->clients[0];
  gint code;

  r->deadline = g_get_real_time () + (gint64)r->timeout_s * G_USEC_PER_SEC;
  g_timeout_add_seconds ((guint)r->timeout_s, quit_cb, r);
  connect_now (c);
  g_main_loop_run (r->loop);
  printf ("frames %" G_GUINT64_FORMAT "\n", c->frames);
  printf ("gaps %d\n", c->gaps);
  code = c->frames >= (guint64)r->want_frames ? 0 : 1;
  g_clear_object (&c->ws);
  return code;
}

static void
print_bench (Run *r, gdouble secs)
{
  guint readers = 0, connected = 0;
  guint64 frames = 0;
  gdouble sum_fps = 0, min_fps = G_MAXDOUBLE, sum_mbps = 0;
  guint m = r->lat->len;
  gint64 *v;

  for (gint i = 0; i < r->n_clients; i++) {
    Client *c = &r->clients[i];
    gdouble fps = c->frames / secs, mbps = c->bytes * 8 / secs / 1e6;
    printf ("client %2u %-8s %7.1f frames/s %7.2f Mbit/s%s\n", c->index,
            c->stalled ? "stalled" : "reader", fps, mbps,
            c->failed ? " (failed to connect)" : "");
    connected += c->connected;
    if (!c->stalled && !c->failed) {
      readers++;
      frames += c->frames;
      sum_fps += fps;
      sum_mbps += mbps;
      min_fps = MIN (min_fps, fps);
    }
  }
  printf ("SUMMARY readers=%u mean_fps=%.1f min_fps=%.1f mean_mbps=%.2f\n",
          readers, readers ? sum_fps / readers : 0, readers ? min_fps : 0,
          readers ? sum_mbps / readers : 0);
  g_array_sort (r->lat, cmp_i64);
  v = (gint64 *)(gpointer)r->lat->data;
  printf ("RESULT clients=%d connected=%u frames=%" G_GUINT64_FORMAT
          " fps_mean=%.1f p50_us=%" G_GINT64_FORMAT " p99_us=%" G_GINT64_FORMAT
          " max_us=%" G_GINT64_FORMAT "\n",
          r->n_clients, connected, frames,
          readers ? frames / secs / readers : 0, m ? v[m / 2] : 0,
          m ? v[MIN (m - 1, m * 99 / 100)] : 0, m ? v[m - 1] : 0);
  fflush (stdout);
}

static gint
run_bench (Run *r)
{
  gboolean tcp = g_str_has_prefix (r->url, "tcp://");
  gint64 t0, t1;
  guint failed = 0;

  for (gint i = 0; i < r->n_clients; i++) {
    if (tcp)
      connect_tcp (&r->clients[i]);
    else
      connect_now (&r->clients[i]);
  }
  for (gboolean all = FALSE; !all;) {
    all = TRUE;
    for (gint i = 0; i < r->n_clients; i++)
      all &= r->clients[i].connected || r->clients[i].failed;
    if (!all)
      g_main_context_iteration (NULL, TRUE);
  }
  /* the warm-up: connected, the first keyframe seen; then count */
  r->measure_from = g_get_real_time () + (gint64)r->warmup * G_USEC_PER_SEC;
  g_timeout_add_seconds ((guint)r->warmup, quit_cb, r);
  g_main_loop_run (r->loop);
  t0 = g_get_real_time ();
  g_timeout_add_seconds ((guint)r->seconds, quit_cb, r);
  g_main_loop_run (r->loop);
  t1 = r->measure_to = g_get_real_time ();
  print_bench (r, (t1 - MAX (t0, r->measure_from)) / 1e6);
  for (gint i = 0; i < r->n_clients; i++)
    failed += r->clients[i].failed;
  /* no tidy close: the benchmark ends here */
  return failed ? 1 : 0;
}

int
main (int argc, char **argv)
{
  Run r = { 0 };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  gint code;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &r.want_frames,
      "test mode: binary messages to wait for (default 1)", "N" },
    { "send", 0, 0, G_OPTION_ARG_STRING_ARRAY, &r.send,
      "test mode: text message to send after the first frame (repeatable)",
      "JSON" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &r.timeout_s,
      "test mode: give up after S seconds (connection retries included)", "S" },
    { "t0-us", 0, 0, G_OPTION_ARG_INT64, &r.t0,
      "test mode: reference time (g_get_real_time, microseconds) for the "
      "printed times",
      "US" },
    { "seconds", 's', 0, G_OPTION_ARG_INT, &r.seconds,
      "benchmark mode: count for S seconds", "S" },
    { "clients", 'c', 0, G_OPTION_ARG_INT, &r.n_clients,
      "benchmark mode: viewers (default 1)", "N" },
    { "stalled", 0, 0, G_OPTION_ARG_INT, &r.n_stalled,
      "benchmark mode: of them, viewers that never read (default 0)", "K" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &r.warmup,
      "benchmark mode: seconds after connecting before counting (default 2)",
      "S" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &r.dump_path,
      "benchmark mode: write \"seq arrival_us\" of the first reader's "
      "frames here",
      "FILE" },
    { "unix", 0, 0, G_OPTION_ARG_FILENAME, &r.unix_path,
      "connect to this Unix socket (the sink's own) instead of the URL's "
      "host",
      "PATH" },
    { "cafile", 0, 0, G_OPTION_ARG_FILENAME, &r.cafile,
      "trust (only) the certificates in this PEM file for wss://", "PEM" },
    { NULL }
  };

  r.timeout_s = 20;
  r.warmup = 2;
  ctx = g_option_context_new ("URL");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vms-wsclient: %s\n",
             error ? error->message : "one URL expected");
    return 2;
  }
  r.url = argv[1];
  r.bench = r.seconds > 0;
  r.want_frames = MAX (r.want_frames, 1);
  r.n_clients = r.bench ? MAX (r.n_clients, 1) : 1;
  r.n_stalled = r.bench ? CLAMP (r.n_stalled, 0, r.n_clients) : 0;
  r.t0 = r.t0 ? r.t0 : g_get_real_time ();
  r.loop = g_main_loop_new (NULL, FALSE);
  r.lat = g_array_new (FALSE, FALSE, sizeof (gint64));
  r.session = new_session (&r, &error);
  r.stall_ctx = g_main_context_new ();
  g_main_context_push_thread_default (r.stall_ctx);
  r.stall_session = r.session ? new_session (&r, &error) : NULL;
  g_main_context_pop_thread_default (r.stall_ctx);
  if (r.session == NULL || r.stall_session == NULL) {
    fprintf (stderr, "vms-wsclient: %s\n", error->message);
    return 2;
  }
  if (r.dump_path && (r.dump = fopen (r.dump_path, "w")) == NULL) {
    fprintf (stderr, "vms-wsclient: cannot write %s\n", r.dump_path);
    return 2;
  }
  r.clients = g_new0 (Client, r.n_clients);
  for (gint i = 0; i < r.n_clients; i++) {
    r.clients[i].run = &r;
    r.clients[i].index = i;
    r.clients[i].stalled = i < r.n_stalled;
  }
  code = r.bench ? run_bench (&r) : run_test (&r);
  if (r.dump)
    fclose (r.dump);
  if (r.bench)
    exit (code); /* the viewers' connections end with the process */
  g_object_unref (r.session);
  g_object_unref (r.stall_session);
  g_main_context_unref (r.stall_ctx);
  g_main_loop_unref (r.loop);
  g_array_unref (r.lat);
  g_strfreev (r.send);
  g_free (r.clients);
  g_free (r.unix_path);
  g_free (r.cafile);
  g_free (r.dump_path);
  return code;
}
