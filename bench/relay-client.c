/* relay-client: N WebSocket viewers of one wsh264sink stream, either
 * through the supervisor's relay (a ws:// URL) or straight to the sink's
 * Unix socket (--unix PATH, the same URL's path), for bench/relay.sh.
 * Per frame it takes the latency from the sink's send time (frame header,
 * bytes 24..31, Unix µs; docs/websocket.md) to its arrival here, after a
 * warm-up, and prints one line:
 *
 *   RESULT clients=N frames=F fps_mean=X p50_us=A p99_us=B max_us=C
 *
 * --dump FILE writes "seq arrival_us" per frame of the first viewer, so
 * that the script can pair the same frame's arrival on both paths.
 *
 * A wss:// URL is verified against --cafile (e.g. the supervisor's
 * HELIX_TLS_CERT) instead of the system's CAs.
 *
 *   relay-client [--unix PATH] [--cafile PEM] [-n N] [-s SECONDS] [-w WARMUP]
 *                [--dump F] URL
 */
#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  GArray *lat; /* gint64 µs, after the warm-up */
  gint64 measure_from;
  guint64 frames;
  guint connected;
  FILE *dump; /* "seq arrival_us" of the first viewer's frames, or NULL */
  SoupWebsocketConnection *first;
} Stats;

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message,
            gpointer user_data)
{
  Stats *st = user_data;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);
  gint64 now = g_get_real_time ();
  guint64 send_us;

  if (type != SOUP_WEBSOCKET_DATA_BINARY || len < 32 || now < st->measure_from)
    return;
  memcpy (&send_us, data + 24, 8);
  send_us = GUINT64_FROM_LE (send_us);
  st->frames++;
  if (st->dump && ws == st->first) {
    guint32 seq;
    memcpy (&seq, data + 4, 4);
    fprintf (st->dump, "%u %" G_GINT64_FORMAT "\n", GUINT32_FROM_LE (seq), now);
  }
  if (send_us > 0) {
    gint64 l = now - (gint64)send_us;
    g_array_append_val (st->lat, l);
  }
}

static void
connected_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Stats *st = user_data;
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws
      = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &error);

  if (ws == NULL) {
    fprintf (stderr, "relay-client: %s\n", error->message);
    exit (1);
  }
  soup_websocket_connection_set_max_incoming_payload_size (ws, 64 << 20);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), st);
  if (st->connected++ == 0)
    st->first = ws;
  /* the connection lives until the process exits */
}

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

static gboolean
done_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gchar *unix_path = NULL;
  gint n = 1, secs = 8, warmup = 2;
  gchar *dump = NULL;
  gchar *cafile = NULL;
  GOptionEntry entries[] = {
    { "cafile", 0, 0, G_OPTION_ARG_FILENAME, &cafile,
      "trust (only) the certificates in this PEM file for wss://", "PEM" },
    { "unix", 0, 0, G_OPTION_ARG_FILENAME, &unix_path,
      "connect to this Unix socket (the sink's own) instead of the "
      "URL's host",
      "PATH" },
    { "clients", 'n', 0, G_OPTION_ARG_INT, &n, "viewers (default 1)", "N" },
    { "seconds", 's', 0, G_OPTION_ARG_INT, &secs, "measured window (default 8)",
      "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
      "seconds before measuring (default 2)", "S" },
    { "dump", 0, 0, G_OPTION_ARG_FILENAME, &dump,
      "write \"seq arrival_us\" of the first viewer's frames here", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("URL");
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (SoupSession) session = NULL;
  const char *protocols[] = { "vmstream", NULL };
  Stats st = { 0 };
  gint64 *v;
  guint m;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "relay-client: %s\n",
             error ? error->message : "one URL expected");
    return 2;
  }
  if (unix_path) {
    g_autoptr (GSocketAddress) a = g_unix_socket_address_new (unix_path);
    session = soup_session_new_with_options ("remote-connectable", a, NULL);
  } else {
    session = soup_session_new ();
  }
  if (cafile) {
    g_autoptr (GTlsDatabase) db = g_tls_file_database_new (cafile, &error);
    if (db == NULL) {
      fprintf (stderr, "relay-client: %s\n", error->message);
      return 2;
    }
    g_object_set (session, "tls-database", db, NULL);
  }
  st.lat = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (dump && (st.dump = fopen (dump, "w")) == NULL) {
    fprintf (stderr, "relay-client: cannot write %s\n", dump);
    return 2;
  }
  for (gint i = 0; i < n; i++) {
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", argv[1]);
    if (msg == NULL) {
      fprintf (stderr, "relay-client: bad URL %s\n", argv[1]);
      return 2;
    }
    soup_session_websocket_connect_async (
        session, msg, NULL, (char **)protocols, G_PRIORITY_DEFAULT, NULL,
        connected_cb, &st);
  }
  st.measure_from = g_get_real_time () + (gint64)warmup * G_USEC_PER_SEC;
  g_timeout_add_seconds ((guint)(warmup + secs), done_cb, loop);
  g_main_loop_run (loop);

  m = st.lat->len;
  g_array_sort (st.lat, cmp_i64);
  v = (gint64 *)(gpointer)st.lat->data;
  printf ("RESULT clients=%d connected=%u frames=%" G_GUINT64_FORMAT
          " fps_mean=%.1f p50_us=%" G_GINT64_FORMAT " p99_us=%" G_GINT64_FORMAT
          " max_us=%" G_GINT64_FORMAT "\n",
          n, st.connected, st.frames, st.frames / (gdouble)secs / MAX (n, 1),
          m ? v[m / 2] : 0, m ? v[MIN (m - 1, m * 99 / 100)] : 0,
          m ? v[m - 1] : 0);
  g_array_unref (st.lat);
  if (st.dump)
    fclose (st.dump);
  g_free (dump);
  g_free (unix_path);
  g_free (cafile);
  return st.connected == (guint)n ? 0 : 1;
}
