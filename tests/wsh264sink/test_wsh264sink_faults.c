/* Fault tests for wsh264sink against a live encoding pipeline in this
 * process (videotestsrc is-live=true ! x264enc ! h264parse ! wsh264sink):
 *
 * - 20 WebSocket clients, 5 of which never read: the 15 readers get every
 *   access unit at the full rate, the stalled ones are handled by the
 *   slow-client policy (keyframe: skipped, with drops and recoveries in
 *   the stats and a bounded queue; disconnect: removed), and the process's
 *   memory stays bounded;
 * - a client sending 1 MB of garbage WebSocket frames, and one sending 1 MB
 *   of raw garbage after the handshake: the readers keep the full rate and
 *   the sink accepts and serves new clients afterwards;
 * - the largest input message nested as deep as it can be parses on a small
 *   stack (json-glib recurses per level).
 *
 * Readers are libsoup clients on this thread's main context; the stalled
 * clients are raw sockets with a tiny receive buffer that never read. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gst/check/gstcheck.h>
#include <libsoup/soup.h>

#include "wsh264proto.h"
#include "../vmstest.h"

#define WAIT_TIMEOUT_S 20
#define FPS 30
#define N_READERS 15
#define N_STALLED 5
#define WARMUP_MS 3000
#define WINDOW_MS 6000
/* Frames a reader may miss at the edges of the window (in flight when it
 * opens or closes; under ASan a libsoup reader runs several frames behind).
 * Frames skipped inside the window are caught by the sequence gap check,
 * which has no margin. */
#define WINDOW_MARGIN (g_getenv ("VMSTREAM_ASAN_PRELOAD") ? 10 : 3)
/* RSS growth allowed over the window. Unbounded queues for the stalled
 * clients would add 5 x 0.5 MB/s x 6 s = 15 MB. */
#define RSS_LIMIT_MIB 6
#define BITRATE_KBPS 4000

/* Snow does not compress, so x264 runs at the set bitrate (~17 KB per
 * access unit), and a keyframe every second. */
#define PIPELINE                                                               \
  "videotestsrc is-live=true pattern=snow ! "                                  \
  "video/x-raw,format=I420,width=640,height=360,framerate=30/1 ! "             \
  "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "            \
  "bitrate=" G_STRINGIFY (                                                     \
      BITRATE_KBPS) " ! h264parse ! "                                          \
                    "video/x-h264,stream-format=byte-stream,alignment=au ! "   \
                    "wsh264sink name=sink port=0 max-clients=32 "              \
                    "send-buffer-size=131072 "

/* ------------------------------------------------------------------ */
/* the pipeline                                                        */

typedef struct {
  GstElement *pipeline;
  GstElement *sink;
  guint port;
  GMutex lock;
  GCond cond;
  guint added, removed;
} Server;

static void
on_client_added (GstElement *sink, guint id, Server *s)
{
  g_mutex_lock (&s->lock);
  s->added++;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
on_client_removed (GstElement *sink, guint id, Server *s)
{
  g_mutex_lock (&s->lock);
  s->removed++;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static Server *
server_start (const gchar *extra_props)
{
  Server *s = g_new0 (Server, 1);
  g_autofree gchar *desc = g_strconcat (PIPELINE, extra_props, NULL);
  GError *err = NULL;

  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->pipeline = gst_parse_launch (desc, &err);
  fail_unless (s->pipeline != NULL, "pipeline: %s", err ? err->message : "?");
  s->sink = gst_bin_get_by_name (GST_BIN (s->pipeline), "sink");
  g_signal_connect (s->sink, "client-added", G_CALLBACK (on_client_added), s);
  g_signal_connect (s->sink, "client-removed", G_CALLBACK (on_client_removed),
                    s);
  fail_if (gst_element_set_state (s->pipeline, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (
      gst_element_get_state (s->pipeline, NULL, NULL, 10 * GST_SECOND),
      GST_STATE_CHANGE_SUCCESS);
  g_object_get (s->sink, "current-port", &s->port, NULL);
  fail_unless (s->port > 0);
  return s;
}

static void
server_wait_added (Server *s, guint n)
{
  gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&s->lock);
  while (s->added < n && g_cond_wait_until (&s->cond, &s->lock, end))
    ;
  g_mutex_unlock (&s->lock);
  fail_unless (s->added >= n, "sink accepted %u of %u clients", s->added, n);
}

static void
server_wait_removed (Server *s, guint n)
{
  gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&s->lock);
  while (s->removed < n && g_cond_wait_until (&s->cond, &s->lock, end))
    ;
  g_mutex_unlock (&s->lock);
  fail_unless (s->removed >= n, "sink removed %u of %u clients", s->removed, n);
}

static void
server_stop (Server *s)
{
  GstBus *bus = gst_element_get_bus (s->pipeline);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (m) {
    GError *err = NULL;
    gst_message_parse_error (m, &err, NULL);
    fail ("pipeline error: %s", err->message);
  }
  gst_object_unref (bus);
  fail_unless_equals_int (gst_element_set_state (s->pipeline, GST_STATE_NULL),
                          GST_STATE_CHANGE_SUCCESS);
  g_signal_handlers_disconnect_by_data (s->sink, s);
  gst_object_unref (s->sink);
  gst_object_unref (s->pipeline);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
}

static guint64
sink_frames_in (Server *s)
{
  GstStructure *st;
  guint64 frames = 0;

  g_object_get (s->sink, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, "frames", &frames));
  gst_structure_free (st);
  return frames;
}

/* Per-client stats of the client connected from local @port, or NULL. */
static GstStructure *
client_stats_by_port (Server *s, guint port)
{
  g_autofree gchar *addr = g_strdup_printf ("127.0.0.1:%u", port);
  GstStructure *st, *found = NULL;
  const GValue *arr;
  guint i;

  g_object_get (s->sink, "stats", &st, NULL);
  arr = gst_structure_get_value (st, "client-stats");
  for (i = 0; i < gst_value_array_get_size (arr); i++) {
    const GstStructure *cs
        = gst_value_get_structure (gst_value_array_get_value (arr, i));
    if (!g_strcmp0 (gst_structure_get_string (cs, "address"), addr))
      found = gst_structure_copy (cs);
  }
  gst_structure_free (st);
  return found;
}

static guint
stats_clients (Server *s)
{
  GstStructure *st;
  guint n = 0;

  g_object_get (s->sink, "stats", &st, NULL);
  gst_structure_get_uint (st, "clients", &n);
  gst_structure_free (st);
  return n;
}

/* ------------------------------------------------------------------ */
/* main context helpers                                                */

static gboolean
on_flag_timeout (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the thread-default context until @cond(@data) or @ms passed;
 * returns whether @cond held. @cond NULL: just run for @ms. */
static gboolean
iterate_until (gboolean (*cond) (gpointer), gpointer data, guint ms)
{
  GMainContext *ctx = g_main_context_get_thread_default ();
  gboolean expired = FALSE;
  GSource *t = g_timeout_source_new (ms);

  g_source_set_callback (t, on_flag_timeout, &expired, NULL);
  g_source_attach (t, ctx);
  while (!(cond && cond (data)) && !expired)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (t);
  g_source_unref (t);
  return cond && cond (data);
}

static guint64
rss_bytes (void)
{
  guint64 rss = vms_test_rss_bytes ();

  fail_unless (rss > 0, "cannot read /proc/self/statm");
  return rss;
}

/* ------------------------------------------------------------------ */
/* reading clients (libsoup)                                           */

typedef struct {
  SoupSession *session;
  SoupWebsocketConnection *conn;
  gboolean done;   /* handshake finished */
  gboolean closed; /* connection closed */
  gushort close_code;
  guint64 frames;
  guint64 window_frames;
  gboolean counting;
  guint64 gaps; /* seq jumps after the first frame */
  gint64 last_seq;
} Reader;

static void
on_reader_message (SoupWebsocketConnection *conn, gint type, GBytes *msg,
                   Reader *r)
{
  Wsh264FrameHeader hdr;
  gsize size;
  const guint8 *data = g_bytes_get_data (msg, &size);

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    return;
  fail_unless (wsh264_frame_header_read (data, size, &hdr));
  if (r->last_seq >= 0 && hdr.seq != (guint32)(r->last_seq + 1))
    r->gaps++;
  r->last_seq = hdr.seq;
  r->frames++;
  if (r->counting)
    r->window_frames++;
}

static void
on_reader_error (SoupWebsocketConnection *conn, GError *error, Reader *r)
{
  GST_INFO ("client connection error: %s", error->message);
}

static void
on_reader_closed (SoupWebsocketConnection *conn, Reader *r)
{
  GST_INFO ("client closed: code %u (%s)",
            soup_websocket_connection_get_close_code (conn),
            soup_websocket_connection_get_close_data (conn));
  r->closed = TRUE;
  r->close_code = soup_websocket_connection_get_close_code (conn);
}

static void
on_reader_connected (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Reader *r = user_data;
  GError *err = NULL;

  r->conn
      = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &err);
  if (r->conn) {
    /* libsoup's default limit (128 KiB) is below a keyframe. */
    soup_websocket_connection_set_max_incoming_payload_size (r->conn, 0);
    g_signal_connect (r->conn, "message", G_CALLBACK (on_reader_message), r);
    g_signal_connect (r->conn, "closed", G_CALLBACK (on_reader_closed), r);
    g_signal_connect (r->conn, "error", G_CALLBACK (on_reader_error), r);
  }
  g_clear_error (&err);
  r->done = TRUE;
}

static Reader *
reader_connect_async (guint port)
{
  Reader *r = g_new0 (Reader, 1);
  g_autofree gchar *url
      = g_strdup_printf ("ws://127.0.0.1:%u/stream/faults", port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  /* Direct connections: the default proxy resolver (libproxy) throws C++
   * exceptions internally, which ASan cannot intercept. */
  g_autoptr (GProxyResolver) direct = g_simple_proxy_resolver_new (NULL, NULL);

  r->last_seq = -1;
  r->session = soup_session_new_with_options ("proxy-resolver", direct, NULL);
  soup_session_websocket_connect_async (r->session, msg, NULL, NULL,
                                        G_PRIORITY_DEFAULT, NULL,
                                        on_reader_connected, r);
  return r;
}

static void
reader_free (Reader *r)
{
  if (r->conn) {
    g_signal_handlers_disconnect_by_data (r->conn, r);
    if (soup_websocket_connection_get_state (r->conn)
        == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (r->conn, SOUP_WEBSOCKET_CLOSE_NORMAL,
                                       NULL);
    g_object_unref (r->conn);
  }
  g_object_unref (r->session);
  g_free (r);
}

typedef struct {
  Reader **r;
  guint n;
} Readers;

static gboolean
readers_connected (gpointer data)
{
  Readers *rs = data;
  guint i;
  for (i = 0; i < rs->n; i++)
    if (!rs->r[i]->done)
      return FALSE;
  return TRUE;
}

static gboolean
readers_have_frames (gpointer data)
{
  Readers *rs = data;
  guint i;
  for (i = 0; i < rs->n; i++)
    if (rs->r[i]->frames == 0)
      return FALSE;
  return TRUE;
}

/* Connects @n readers and waits until each received its first frame. */
static Reader **
readers_start (Server *s, guint n)
{
  Reader **r = g_new0 (Reader *, n);
  Readers rs = { r, n };
  guint i;

  for (i = 0; i < n; i++)
    r[i] = reader_connect_async (s->port);
  fail_unless (iterate_until (readers_connected, &rs, WAIT_TIMEOUT_S * 1000),
               "WebSocket handshakes did not finish");
  for (i = 0; i < n; i++)
    fail_unless (r[i]->conn != NULL, "reader %u was refused", i);
  fail_unless (iterate_until (readers_have_frames, &rs, WAIT_TIMEOUT_S * 1000),
               "not every reader got a first frame");
  return r;
}

static void
readers_free (Reader **r, guint n)
{
  guint i;
  for (i = 0; i < n; i++)
    reader_free (r[i]);
  g_free (r);
  /* let libsoup finish the closes */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Runs the readers for WINDOW_MS, counting frames; returns the access
 * units the sink received meanwhile. */
static guint64
readers_window (Server *s, Reader **r, guint n)
{
  guint64 in0, in1;
  guint i;

  for (i = 0; i < n; i++) {
    r[i]->window_frames = 0;
    r[i]->counting = TRUE;
  }
  in0 = sink_frames_in (s);
  iterate_until (NULL, NULL, WINDOW_MS);
  in1 = sink_frames_in (s);
  for (i = 0; i < n; i++)
    r[i]->counting = FALSE;
  return in1 - in0;
}

/* Every reader got every access unit of the window, in order, and the
 * source ran at (nearly) the full rate. */
static void
readers_check_full_rate (Reader **r, guint n, guint64 frames_in)
{
  guint64 nominal = (guint64)FPS * WINDOW_MS / 1000;
  guint i;

  GST_INFO ("sink received %" G_GUINT64_FORMAT " access units in %u ms",
            frames_in, WINDOW_MS);
  fail_unless (frames_in >= nominal * 8 / 10,
               "the source produced only %" G_GUINT64_FORMAT
               " of %" G_GUINT64_FORMAT
               " frames in the window (machine overloaded?)",
               frames_in, nominal);
  for (i = 0; i < n; i++) {
    fail_if (r[i]->closed, "reader %u was disconnected (code %u)", i,
             r[i]->close_code);
    fail_unless (r[i]->window_frames + (guint64)WINDOW_MARGIN >= frames_in,
                 "reader %u got %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                 " frames in the window",
                 i, r[i]->window_frames, frames_in);
    fail_unless_equals_uint64 (r[i]->gaps, 0);
  }
}

/* ------------------------------------------------------------------ */
/* raw clients                                                         */

#define HANDSHAKE                                                              \
  "GET /stream/faults HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"                      \
  "Upgrade: websocket\r\nConnection: Upgrade\r\n"                              \
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                            \
  "Sec-WebSocket-Version: 13\r\n\r\n"

/* A connected WebSocket client on a raw socket with a @rcvbuf byte receive
 * buffer (0: default), after the 101 answer. Sets @local_port. */
static GSocket *
raw_client_connect (guint port, gint rcvbuf, guint *local_port)
{
  GError *err = NULL;
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, &err);
  g_autoptr (GInetAddress) lo
      = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, port);
  g_autoptr (GSocketAddress) local = NULL;
  g_autofree gchar *req = g_strdup_printf (HANDSHAKE, port);
  GString *answer = g_string_new (NULL);
  gchar c;

  fail_unless (sock != NULL);
  g_socket_set_timeout (sock, WAIT_TIMEOUT_S);
  if (rcvbuf > 0)
    fail_unless (
        g_socket_set_option (sock, SOL_SOCKET, SO_RCVBUF, rcvbuf, NULL));
  fail_unless (g_socket_connect (sock, addr, NULL, &err), "connect: %s",
               err ? err->message : "?");
  fail_unless_equals_int (g_socket_send (sock, req, strlen (req), NULL, NULL),
                          strlen (req));
  /* the answer header, a byte at a time so no frame is consumed */
  while (!g_str_has_suffix (answer->str, "\r\n\r\n")) {
    fail_unless_equals_int (g_socket_receive (sock, &c, 1, NULL, NULL), 1);
    g_string_append_c (answer, c);
  }
  fail_unless (g_str_has_prefix (answer->str, "HTTP/1.1 101"), "answer: %s",
               answer->str);
  g_string_free (answer, TRUE);
  local = g_socket_get_local_address (sock, NULL);
  *local_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return sock;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */

typedef struct {
  GSocket *sock;
  guint port;
} Stalled;

static void
check_many_clients (const gchar *policy)
{
  GMainContext *ctx = g_main_context_new ();
  gboolean disconnect = g_str_equal (policy, "disconnect");
  g_autofree gchar *props = g_strdup_printf ("recover-policy=%s", policy);
  Server *s;
  Reader **r;
  Stalled stalled[N_STALLED];
  guint64 frames_in, rss0, rss1;
  guint i;

  g_main_context_push_thread_default (ctx);
  s = server_start (props);
  r = readers_start (s, N_READERS);
  for (i = 0; i < N_STALLED; i++)
    stalled[i].sock = raw_client_connect (s->port, 4096, &stalled[i].port);
  server_wait_added (s, N_READERS + N_STALLED);

  /* The stalled clients fill their socket buffers and reach the lag
   * limit (1 s) during the warm-up; the readers keep reading. */
  iterate_until (NULL, NULL, WARMUP_MS);
  rss0 = rss_bytes ();
  frames_in = readers_window (s, r, N_READERS);
  rss1 = rss_bytes ();

  readers_check_full_rate (r, N_READERS, frames_in);

  for (i = 0; i < N_STALLED; i++) {
    GstStructure *cs = client_stats_by_port (s, stalled[i].port);
    if (disconnect) {
      fail_unless (cs == NULL,
                   "stalled client %u still served: %" GST_PTR_FORMAT, i, cs);
    } else {
      guint64 drops = 0, recoveries = 0, queued_bytes = 0;
      guint queued = 0;
      fail_unless (cs != NULL, "stalled client %u is gone", i);
      GST_INFO ("stalled client: %" GST_PTR_FORMAT, cs);
      fail_unless (gst_structure_get_uint64 (cs, "drops", &drops));
      fail_unless (gst_structure_get_uint64 (cs, "recoveries", &recoveries));
      fail_unless (gst_structure_get_uint (cs, "queued-frames", &queued));
      fail_unless (
          gst_structure_get_uint64 (cs, "queued-bytes", &queued_bytes));
      fail_unless (recoveries >= 1 && drops >= 1,
                   "stalled client %u was never skipped", i);
      /* max-client-lag 1 s: at most a second of frames plus one. */
      fail_unless (queued <= FPS + FPS / 3, "%u frames queued", queued);
      fail_unless (queued_bytes <= (guint64)BITRATE_KBPS * 1000 / 8 * 2,
                   "%" G_GUINT64_FORMAT " bytes queued", queued_bytes);
      gst_structure_free (cs);
    }
  }
  if (disconnect) {
    server_wait_removed (s, N_STALLED);
    fail_unless_equals_int (s->removed, N_STALLED);
    fail_unless_equals_int (stats_clients (s), N_READERS);
  } else {
    fail_unless_equals_int (s->removed, 0);
    fail_unless_equals_int (stats_clients (s), N_READERS + N_STALLED);
  }

  /* A bounded process: the stalled clients' queues stopped growing before
   * the window started. (ASan's quarantine makes RSS meaningless.) */
  GST_INFO ("RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB",
            rss0 / 1024, rss1 / 1024);
  if (!g_getenv ("VMSTREAM_ASAN_PRELOAD"))
    fail_unless (rss1 < rss0 + RSS_LIMIT_MIB * 1024 * 1024,
                 "RSS grew by %" G_GINT64_FORMAT " KiB in %u ms",
                 ((gint64)rss1 - (gint64)rss0) / 1024, WINDOW_MS);

  for (i = 0; i < N_STALLED; i++) {
    g_socket_close (stalled[i].sock, NULL);
    g_object_unref (stalled[i].sock);
  }
  readers_free (r, N_READERS);
  server_stop (s);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

GST_START_TEST (test_stalled_clients_keyframe)
{
  check_many_clients ("keyframe");
}

GST_END_TEST;

GST_START_TEST (test_stalled_clients_disconnect)
{
  check_many_clients ("disconnect");
}

GST_END_TEST;

/* Reads exactly @len bytes from a raw client. */
static void
raw_read_all (GSocket *sock, guint8 *buf, gsize len)
{
  gsize got = 0;
  while (got < len) {
    GError *err = NULL;
    gssize r
        = g_socket_receive (sock, (gchar *)buf + got, len - got, NULL, &err);
    fail_unless (r > 0, "read: %s", err ? err->message : "closed");
    got += (gsize)r;
  }
}

/* One unmasked server-to-client WebSocket message (the sink sends each
 * message in one frame): its opcode, and its payload in @payload. */
static guint
raw_read_message (GSocket *sock, GByteArray *payload)
{
  guint8 h[8];
  guint64 len;
  guint opcode;

  raw_read_all (sock, h, 2);
  opcode = h[0] & 0x0f;
  fail_unless (h[0] & 0x80, "fragmented message");
  fail_if (h[1] & 0x80, "the server masked a frame");
  len = h[1] & 0x7f;
  if (len == 126) {
    raw_read_all (sock, h, 2);
    len = GST_READ_UINT16_BE (h);
  } else if (len == 127) {
    raw_read_all (sock, h, 8);
    len = GST_READ_UINT64_BE (h);
  }
  fail_unless (len < 16 * 1024 * 1024, "message of %" G_GUINT64_FORMAT, len);
  g_byte_array_set_size (payload, (guint)len);
  raw_read_all (sock, payload->data, (gsize)len);
  return opcode;
}

static gboolean
client_recovered (gpointer data)
{
  gpointer *args = data;
  GstStructure *cs = client_stats_by_port (args[0], GPOINTER_TO_UINT (args[1]));
  guint64 recoveries = 0;

  if (cs) {
    gst_structure_get_uint64 (cs, "recoveries", &recoveries);
    gst_structure_free (cs);
  }
  return recoveries > 0;
}

/* A client that stalled until the sink skipped it to the next keyframe
 * resumes with the stream's init message and then a KEY frame, never a
 * delta frame a decoder cannot start from. */
GST_START_TEST (test_stalled_client_resumes_on_keyframe)
{
  GMainContext *ctx = g_main_context_new ();
  g_autoptr (GByteArray) msg = g_byte_array_new ();
  Server *s;
  GSocket *sock;
  guint port, inits = 0, frames = 0, resumed = 0;
  gboolean after_init = FALSE;
  gpointer args[2];

  g_main_context_push_thread_default (ctx);
  s = server_start ("recover-policy=keyframe");
  sock = raw_client_connect (s->port, 4096, &port);
  args[0] = s;
  args[1] = GUINT_TO_POINTER (port);
  fail_unless (iterate_until (client_recovered, args, WAIT_TIMEOUT_S * 1000),
               "the stalled client was never skipped");

  /* Now read: what the kernel held from before the skip, then the init
   * message the sink sends again, then the frame it resumed on. */
  while (resumed < 1 && frames < 20 * FPS) {
    guint op = raw_read_message (sock, msg);
    if (op == 1) {
      inits++;
      after_init = TRUE;
    } else if (op == 2) {
      Wsh264FrameHeader hdr;
      fail_unless (wsh264_frame_header_read (msg->data, msg->len, &hdr));
      frames++;
      if (after_init) {
        fail_unless (hdr.flags & WSH264_FRAME_FLAG_KEY,
                     "after init message %u the client got a delta frame "
                     "(seq %u)",
                     inits, hdr.seq);
        if (inits >= 2)
          resumed++;
      }
      after_init = FALSE;
    }
  }
  fail_unless (resumed >= 1, "the client never resumed after the skip");

  g_socket_close (sock, NULL);
  g_object_unref (sock);
  server_stop (s);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

GST_END_TEST;

/* Sends 1 MiB of garbage WebSocket messages in 4 KiB pieces (the sink's
 * input limit): binary messages of random bytes, then text messages of
 * random printable characters (never a valid input message), then one
 * message over the limit, which closes the connection. */
static void
send_garbage_messages (Reader *g)
{
  guint8 buf[WSH264_MAX_INPUT_MESSAGE];
  guint i, j;

  for (i = 0; i < 256; i++) {
    g_autoptr (GBytes) b = NULL;
    for (j = 0; j < sizeof (buf); j++)
      buf[j] = i < 128 ? g_random_int_range (0, 256)
                       : g_random_int_range (' ', '~' + 1);
    b = g_bytes_new (buf, sizeof (buf));
    soup_websocket_connection_send_message (
        g->conn,
        i < 128 ? SOUP_WEBSOCKET_DATA_BINARY : SOUP_WEBSOCKET_DATA_TEXT, b);
  }
  {
    g_autofree guint8 *big = g_malloc0 (64 * 1024);
    g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&big), 64 * 1024);
    soup_websocket_connection_send_message (g->conn, SOUP_WEBSOCKET_DATA_BINARY,
                                            b);
  }
}

typedef struct {
  guint8 *data;
  gsize size, sent;
} Junk;

static gboolean
on_raw_writable (GSocket *sock, GIOCondition cond, gpointer user_data)
{
  Junk *j = user_data;
  gssize w = g_socket_send (sock, (gchar *)j->data + j->sent, j->size - j->sent,
                            NULL, NULL);

  if (w <= 0)
    return G_SOURCE_REMOVE; /* closed by the server (or would block) */
  j->sent += w;
  return j->sent < j->size ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
reader_closed (gpointer data)
{
  return ((Reader *)data)->closed;
}

GST_START_TEST (test_garbage_client)
{
  GMainContext *ctx = g_main_context_new ();
  Server *s;
  Reader **r, *g;
  guint64 frames_in;
  guint raw_port, n = 5, i;
  GSocket *raw;
  Junk junk = { g_malloc (1024 * 1024), 1024 * 1024, 0 };
  GSource *src;
  GError *err = NULL;
  gssize got;
  guint8 c;

  g_main_context_push_thread_default (ctx);
  s = server_start ("");
  r = readers_start (s, n);
  g = reader_connect_async (s->port);
  fail_unless (iterate_until (readers_connected, &(Readers){ &g, 1 },
                              WAIT_TIMEOUT_S * 1000));
  fail_unless (g->conn != NULL);
  raw = raw_client_connect (s->port, 0, &raw_port);
  server_wait_added (s, n + 2);

  /* 1 MiB of WebSocket messages during the window... */
  send_garbage_messages (g);
  /* ...and 1 MiB of bytes that are no WebSocket framing at all (unmasked,
   * reserved opcodes, absurd lengths), written as the socket takes them
   * while the readers run; the server closes this one, so writes may stop
   * part way. */
  for (i = 0; i < junk.size; i++)
    junk.data[i] = g_random_int_range (0, 256);
  g_socket_set_blocking (raw, FALSE);
  src = g_socket_create_source (raw, G_IO_OUT, NULL);
  g_source_set_callback (src, (GSourceFunc)G_CALLBACK (on_raw_writable), &junk,
                         NULL);
  g_source_attach (src, ctx);
  frames_in = readers_window (s, r, n);
  readers_check_full_rate (r, n, frames_in);

  /* The message over the input limit made the server drop the garbage
   * client: libsoup sends a 1009 close frame, but closing a socket with
   * unread input makes the kernel reset it, so the client may see the
   * reset (code 0) instead. */
  fail_unless (iterate_until (reader_closed, g, WAIT_TIMEOUT_S * 1000),
               "the garbage client was not closed");
  fail_unless (g->close_code == 0
                   || g->close_code == SOUP_WEBSOCKET_CLOSE_TOO_BIG,
               "close code %u", g->close_code);
  /* the raw one was closed too: reads reach EOF or a reset, no timeout */
  g_source_destroy (src);
  g_source_unref (src);
  GST_INFO ("raw garbage: %" G_GSIZE_FORMAT " bytes written", junk.sent);
  fail_unless (junk.sent > 0);
  g_socket_set_blocking (raw, TRUE);
  while ((got = g_socket_receive (raw, (gchar *)&c, 1, NULL, &err)) > 0)
    ;
  fail_if (got < 0 && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT),
           "the server kept the raw garbage connection open");
  g_clear_error (&err);
  g_socket_close (raw, NULL);
  g_object_unref (raw);
  reader_free (g);

  /* both garbage clients are gone, the readers are still there, and a
   * new client is served */
  server_wait_removed (s, 2);
  fail_unless_equals_int (stats_clients (s), n);
  {
    Reader **again = readers_start (s, 1);
    readers_free (again, 1);
  }
  readers_free (r, n);
  server_stop (s);
  g_free (junk.data);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
}

GST_END_TEST;

/* 4 KiB (the input limit) of '[' took 256-512 KiB of stack in json-glib
 * before the sink refused deep nesting up front; parse it on a thread with
 * 128 KiB. */
static gpointer
parse_deep (gpointer data)
{
  GError *err = NULL;
  GstEvent *ev = wsh264_navigation_event_from_json (data, -1, &err);
  gboolean parsed = ev != NULL;

  if (ev)
    gst_event_unref (ev);
  g_clear_error (&err);
  return GINT_TO_POINTER (parsed);
}

GST_START_TEST (test_deeply_nested_input)
{
  const gchar *opens[] = { "[", "{\"a\":" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (opens); i++) {
    GString *msg = g_string_new (NULL);
    pthread_attr_t attr;
    pthread_t t;
    gpointer parsed = NULL;

    while (msg->len + strlen (opens[i]) <= WSH264_MAX_INPUT_MESSAGE)
      g_string_append (msg, opens[i]);
    fail_unless (pthread_attr_init (&attr) == 0);
    fail_unless (pthread_attr_setstacksize (&attr, 128 * 1024) == 0);
    fail_unless (pthread_create (&t, &attr, parse_deep, msg->str) == 0);
    fail_unless (pthread_join (t, &parsed) == 0);
    fail_if (GPOINTER_TO_INT (parsed), "accepted %u levels of nesting",
             msg->len / (guint)strlen (opens[i]));
    pthread_attr_destroy (&attr);
    g_string_free (msg, TRUE);
  }
  /* a real message still parses */
  fail_unless (GPOINTER_TO_INT (parse_deep (
      (gpointer) "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}")));
}

GST_END_TEST;

static Suite *
wsh264sink_faults_suite (void)
{
  Suite *s = suite_create ("wsh264sink-faults");
  TCase *tc = tcase_create ("faults");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_stalled_clients_keyframe);
  tcase_add_test (tc, test_stalled_clients_disconnect);
  tcase_add_test (tc, test_stalled_client_resumes_on_keyframe);
  tcase_add_test (tc, test_garbage_client);
  tcase_add_test (tc, test_deeply_nested_input);
  return s;
}

GST_CHECK_MAIN (wsh264sink_faults);
