/* Unit tests for wsh264sink: protocol helpers, and the element driven by
 * GstHarness with libsoup WebSocket clients in this process. */
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <gst/video/navigation.h>
#include <libsoup/soup.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <json-glib/json-glib.h>

#include "wsh264proto.h"
#include "vmstls.h"
#ifdef VMS_TEST_GNUTLS_STATIC_TLS
#include <gnutls/gnutls.h> /* see static_tls_gnutls_dep, tests/meson.build */
#endif

#define WAIT_TIMEOUT_S 20

/* ------------------------------------------------------------------ */
/* test data                                                           */

/* Encodes @n frames of I420 test video to H.264 access units. */
static GPtrArray *
encode_aus (guint n, guint key_int, gint width, gint height)
{
  GPtrArray *aus
      = g_ptr_array_new_with_free_func ((GDestroyNotify)gst_buffer_unref);
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=%u pattern=smpte horizontal-speed=2 ! "
      "video/x-raw,format=I420,width=%d,height=%d,framerate=30/1 ! "
      "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%u ! "
      "h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! "
      "appsink name=out sync=false",
      n, width, height, key_int);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *sink;
  GstSample *s;

  fail_unless (pipe != NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "out");
  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
                          GST_STATE_CHANGE_ASYNC);
  while ((s = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    g_ptr_array_add (aus, gst_buffer_ref (gst_sample_get_buffer (s)));
    gst_sample_unref (s);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  fail_unless_equals_int (aus->len, n);
  return aus;
}

static gboolean
au_is_key (GstBuffer *b)
{
  return !GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT);
}

/* Finds the first NAL unit of @type in @buf; returns a copy without start
 * code. */
static GBytes *
find_nal (GstBuffer *buf, guint type)
{
  GstH264NalParser *p = gst_h264_nal_parser_new ();
  GstH264NalUnit nalu;
  GstMapInfo map;
  GBytes *out = NULL;
  guint off = 0;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  while (gst_h264_parser_identify_nalu (p, map.data, off, map.size, &nalu)
             == GST_H264_PARSER_OK
         || nalu.size > 0) {
    if (nalu.type == type) {
      out = g_bytes_new (map.data + nalu.offset, nalu.size);
      break;
    }
    if (nalu.offset + nalu.size >= map.size)
      break;
    off = nalu.offset + nalu.size;
  }
  gst_buffer_unmap (buf, &map);
  gst_h264_nal_parser_free (p);
  return out;
}

static void
parse_sps_bytes (GBytes *nal, GstH264SPS *sps)
{
  GstH264NalParser *p = gst_h264_nal_parser_new ();
  GstH264NalUnit nalu;
  gsize size;
  const guint8 *data = g_bytes_get_data (nal, &size);
  g_autofree guint8 *withsc = g_malloc (size + 4);

  memcpy (withsc, "\0\0\0\1", 4);
  memcpy (withsc + 4, data, size);
  fail_unless (
      gst_h264_parser_identify_nalu_unchecked (p, withsc, 0, size + 4, &nalu)
      == GST_H264_PARSER_OK);
  fail_unless_equals_int (gst_h264_parser_parse_sps (p, &nalu, sps),
                          GST_H264_PARSER_OK);
  gst_h264_nal_parser_free (p);
}

/* ------------------------------------------------------------------ */
/* pure helpers                                                        */

GST_START_TEST (test_codec_string_and_init)
{
  g_autoptr (GPtrArray) aus = encode_aus (1, 30, 320, 240);
  g_autoptr (GBytes) nal = find_nal (g_ptr_array_index (aus, 0), 7);
  g_autofree gchar *codec = NULL, *expect = NULL, *init = NULL;
  const guint8 *b;
  GstH264SPS sps;
  g_autoptr (JsonParser) jp = json_parser_new ();
  JsonObject *o;

  fail_unless (nal != NULL);
  b = g_bytes_get_data (nal, NULL);
  parse_sps_bytes (nal, &sps);
  codec = wsh264_codec_string (&sps);
  /* RFC 6381: profile_idc, constraint byte, level_idc as in the SPS. */
  expect = g_strdup_printf ("avc1.%02x%02x%02x", b[1], b[2], b[3]);
  fail_unless_equals_string (codec, expect);

  init = wsh264_init_message (&sps, 30, 1, "sess\"1");
  fail_unless (json_parser_load_from_data (jp, init, -1, NULL));
  o = json_node_get_object (json_parser_get_root (jp));
  fail_unless_equals_string (json_object_get_string_member (o, "type"), "init");
  fail_unless_equals_int (json_object_get_int_member (o, "width"), 320);
  fail_unless_equals_int (json_object_get_int_member (o, "height"), 240);
  fail_unless_equals_string (json_object_get_string_member (o, "codec"),
                             expect);
  fail_unless_equals_float (json_object_get_double_member (o, "framerate"),
                            30.0);
  fail_unless_equals_string (json_object_get_string_member (o, "session"),
                             "sess\"1");
  gst_h264_sps_clear (&sps);
}

GST_END_TEST;

GST_START_TEST (test_frame_header_roundtrip)
{
  Wsh264FrameHeader in
      = { WSH264_FRAME_FLAG_KEY | WSH264_FRAME_FLAG_CONFIG, 0xdeadbeef,
          123456789, 1700000000000000ULL, 1700000000000123ULL },
      out;
  guint8 buf[WSH264_FRAME_HEADER_SIZE];

  wsh264_frame_header_write (&in, buf);
  fail_unless_equals_int (buf[0], 1);
  fail_unless_equals_int (GST_READ_UINT16_LE (buf + 2), 32);
  fail_unless (wsh264_frame_header_read (buf, sizeof (buf), &out));
  fail_unless_equals_int (out.flags, in.flags);
  fail_unless_equals_uint64 (out.seq, in.seq);
  fail_unless_equals_uint64 (out.pts_us, in.pts_us);
  fail_unless_equals_uint64 (out.capture_time_us, in.capture_time_us);
  fail_unless_equals_uint64 (out.send_time_us, in.send_time_us);
  fail_if (wsh264_frame_header_read (buf, 31, &out));
}

GST_END_TEST;

GST_START_TEST (test_sps_rewrite)
{
  g_autoptr (GPtrArray) aus = encode_aus (1, 30, 1920, 1080);
  g_autoptr (GBytes) nal = find_nal (g_ptr_array_index (aus, 0), 7);
  g_autoptr (GBytes) stripped = NULL, fixed = NULL;
  GstH264SPS orig, s1, s2;

  parse_sps_bytes (nal, &orig);
  /* Strip bitstream_restriction, as some encoders write it. */
  stripped = wsh264_sps_write (&orig, 3, FALSE);
  fail_unless (stripped != NULL);
  parse_sps_bytes (stripped, &s1);
  fail_if (wsh264_sps_is_low_delay (&s1));
  fail_unless_equals_int (s1.vui_parameters.bitstream_restriction_flag, 0);

  fixed = wsh264_sps_write (&s1, 3, TRUE);
  fail_unless (fixed != NULL);
  parse_sps_bytes (fixed, &s2);
  fail_unless (wsh264_sps_is_low_delay (&s2));
  fail_unless_equals_int (s2.vui_parameters.num_reorder_frames, 0);
  fail_unless (s2.vui_parameters.max_dec_frame_buffering >= 1);
  /* Everything else survives the round trip. */
  fail_unless_equals_int (s2.profile_idc, orig.profile_idc);
  fail_unless_equals_int (s2.level_idc, orig.level_idc);
  fail_unless_equals_int (s2.width, 1920);
  fail_unless_equals_int (s2.height, 1088);
  fail_unless_equals_int (s2.crop_rect_height, 1080);
  fail_unless_equals_int (s2.num_ref_frames, orig.num_ref_frames);
  fail_unless_equals_int (s2.pic_order_cnt_type, orig.pic_order_cnt_type);
  fail_unless_equals_int (s2.vui_parameters.timing_info_present_flag,
                          orig.vui_parameters.timing_info_present_flag);
  fail_unless_equals_int (s2.vui_parameters.time_scale,
                          orig.vui_parameters.time_scale);
  fail_unless_equals_int (s2.vui_parameters.video_full_range_flag,
                          orig.vui_parameters.video_full_range_flag);
  /* A writer fed its own output reproduces it byte for byte. */
  {
    g_autoptr (GBytes) again = wsh264_sps_write (&s2, 3, TRUE);
    fail_unless (g_bytes_equal (again, fixed));
  }
  gst_h264_sps_clear (&orig);
  gst_h264_sps_clear (&s1);
  gst_h264_sps_clear (&s2);
}

GST_END_TEST;

static const gchar *
nav_struct_string (GstEvent *ev, const gchar *field)
{
  return gst_structure_get_string (gst_event_get_structure (ev), field);
}

GST_START_TEST (test_navigation_json)
{
  GstEvent *ev;
  gdouble x, y, dx, dy;
  gint button;
  const gchar *key;
  const gchar *bad[] = {
    "",
    "null",
    "[]",
    "42",
    "{",
    "{\"type\":1}",
    "{\"type\":\"key\"}",
    "{\"type\":\"key\",\"action\":\"down\"}",
    "{\"type\":\"key\",\"action\":\"sideways\",\"code\":\"KeyA\"}",
    "{\"type\":\"key\",\"action\":\"down\",\"code\":\"\"}",
    /* lone surrogates (invalid UTF-8 once decoded), and non-code text */
    "{\"type\":\"key\",\"action\":\"down\",\"code\":\"\\u00e9\\ud83\"}",
    "{\"type\":\"key\",\"action\":\"down\",\"code\":\"Key A\"}",
    "{\"type\":\"pointer\",\"action\":\"move\",\"x\":\"1\",\"y\":2}",
    "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2}",
    "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,\"button\":-1}",
    "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,\"button\":1e9}",
    "{\"type\":\"wheel\",\"x\":1,\"y\":2,\"dx\":0}",
    "{\"type\":\"teleport\"}",
    "{\"type\":[\"key\"]}",
    "{\"type\":\"key\",\"action\":\"down\",\"code\":{\"a\":1}}",
  };
  guint i;

  ev = wsh264_navigation_event_from_json (
      "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}", -1, NULL);
  fail_unless (ev != NULL);
  fail_unless_equals_int (gst_navigation_event_get_type (ev),
                          GST_NAVIGATION_EVENT_KEY_PRESS);
  fail_unless (gst_navigation_event_parse_key_event (ev, &key));
  fail_unless_equals_string (key, "KeyA");
  gst_event_unref (ev);

  ev = wsh264_navigation_event_from_json (
      "{\"type\":\"key\",\"action\":\"up\",\"code\":\"Enter\"}", -1, NULL);
  fail_unless_equals_int (gst_navigation_event_get_type (ev),
                          GST_NAVIGATION_EVENT_KEY_RELEASE);
  gst_event_unref (ev);

  ev = wsh264_navigation_event_from_json (
      "{\"type\":\"pointer\",\"action\":"
      "\"down\",\"x\":10,\"y\":20,\"button\":2}",
      -1, NULL);
  fail_unless_equals_int (gst_navigation_event_get_type (ev),
                          GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS);
  fail_unless (
      gst_navigation_event_parse_mouse_button_event (ev, &button, &x, &y));
  fail_unless_equals_int (button, 3); /* DOM right (2) -> GStreamer 3 */
  fail_unless_equals_float (x, 10);
  fail_unless_equals_float (y, 20);
  gst_event_unref (ev);

  ev = wsh264_navigation_event_from_json (
      "{\"type\":\"pointer\",\"action\":"
      "\"up\",\"x\":1,\"y\":2,\"button\":0}",
      -1, NULL);
  fail_unless_equals_int (gst_navigation_event_get_type (ev),
                          GST_NAVIGATION_EVENT_MOUSE_BUTTON_RELEASE);
  fail_unless (
      gst_navigation_event_parse_mouse_button_event (ev, &button, &x, &y));
  fail_unless_equals_int (button, 1);
  gst_event_unref (ev);

  ev = wsh264_navigation_event_from_json ("{\"type\":\"pointer\",\"action\":"
                                          "\"move\",\"x\":639,\"y\":359}",
                                          -1, NULL);
  fail_unless_equals_int (gst_navigation_event_get_type (ev),
                          GST_NAVIGATION_EVENT_MOUSE_MOVE);
  fail_unless (gst_navigation_event_parse_mouse_move_event (ev, &x, &y));
  fail_unless_equals_float (x, 639);
  gst_event_unref (ev);

  ev = wsh264_navigation_event_from_json ("{\"type\":\"wheel\",\"x\":5,\"y\":6,"
                                          "\"dx\":0,\"dy\":-120.5}",
                                          -1, NULL);
  fail_unless_equals_int (gst_navigation_event_get_type (ev),
                          GST_NAVIGATION_EVENT_MOUSE_SCROLL);
  fail_unless (
      gst_navigation_event_parse_mouse_scroll_event (ev, &x, &y, &dx, &dy));
  fail_unless_equals_float (dy, -120.5);
  gst_event_unref (ev);

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) err = NULL;
    ev = wsh264_navigation_event_from_json (bad[i], -1, &err);
    fail_unless (ev == NULL, "accepted bad input %s", bad[i]);
    fail_unless (err != NULL, "no error for %s", bad[i]);
  }
  (void)nav_struct_string;
}

GST_END_TEST;

/* ------------------------------------------------------------------ */
/* WebSocket clients                                                   */

typedef struct {
  GMainContext *ctx;
  SoupSession *session;
  SoupWebsocketConnection *conn;
  guint status; /* HTTP status of the handshake */
  gboolean done;
  GQueue texts;  /* gchar* */
  GQueue frames; /* GBytes* */
  gboolean closed;
  guint frames_before_last_text; /* binary messages before the last text */
} Client;

static void
on_client_message (SoupWebsocketConnection *conn, gint type, GBytes *msg,
                   Client *c)
{
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    c->frames_before_last_text = g_queue_get_length (&c->frames);
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    g_queue_push_tail (&c->texts, g_strndup (g_bytes_get_data (msg, NULL),
                                             g_bytes_get_size (msg)));
  else
    g_queue_push_tail (&c->frames, g_bytes_ref (msg));
}

static void
on_client_closed (SoupWebsocketConnection *conn, Client *c)
{
  c->closed = TRUE;
}

static void
on_connected (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Client *c = user_data;
  GError *err = NULL;
  SoupMessage *msg
      = soup_session_get_async_result_message (SOUP_SESSION (src), res);

  c->conn
      = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &err);
  c->status = msg ? soup_message_get_status (msg) : 0;
  if (c->conn) {
    /* libsoup's default limit (128 KiB) is below a 1080p keyframe. */
    soup_websocket_connection_set_max_incoming_payload_size (c->conn, 0);
    g_signal_connect (c->conn, "message", G_CALLBACK (on_client_message), c);
    g_signal_connect (c->conn, "closed", G_CALLBACK (on_client_closed), c);
  }
  g_clear_error (&err);
  c->done = TRUE;
}

static gboolean
on_wait_timeout (gpointer data)
{
  *(gboolean *)data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @ctx until @cond(@data) holds; fails after WAIT_TIMEOUT_S. */
static void
wait_until (GMainContext *ctx, gboolean (*cond) (gpointer), gpointer data,
            const gchar *what)
{
  gboolean timed_out = FALSE;
  GSource *t = g_timeout_source_new_seconds (WAIT_TIMEOUT_S);

  g_source_set_callback (t, on_wait_timeout, &timed_out, NULL);
  g_source_attach (t, ctx);
  g_main_context_push_thread_default (ctx);
  while (!cond (data) && !timed_out)
    g_main_context_iteration (ctx, TRUE);
  g_main_context_pop_thread_default (ctx);
  g_source_destroy (t);
  g_source_unref (t);
  fail_if (timed_out, "timed out waiting for %s", what);
}

static gboolean
client_done (gpointer data)
{
  return ((Client *)data)->done;
}

/* Direct connections only: the default proxy resolver (libproxy) is C++
 * that throws internally, which ASan cannot intercept once loaded late. */
static SoupSession *
test_session_new (void)
{
  g_autoptr (GProxyResolver) direct = g_simple_proxy_resolver_new (NULL, NULL);
  return soup_session_new_with_options ("proxy-resolver", direct, NULL);
}

/* wss://: the sink's certificate is the one the test gave it, nothing
 * else (pinned, as a client of a self-signed server would) */
static gboolean
accept_pinned (SoupMessage *msg, GTlsCertificate *peer,
               GTlsCertificateFlags errors, GTlsCertificate *pinned)
{
  return pinned && g_tls_certificate_is_same (peer, pinned);
}

/* Connects a WebSocket client to @url on its own main context. @origin,
 * @protocol and @pinned (the certificate a wss:// server must show) may be
 * NULL. Returns the client with status set; conn is NULL when the
 * handshake failed. */
static Client *
client_connect_url (const gchar *url, const gchar *origin,
                    const gchar *protocol, GTlsCertificate *pinned)
{
  Client *c = g_new0 (Client, 1);
  SoupMessage *msg = soup_message_new ("GET", url);
  const gchar *protocols[] = { protocol, NULL };

  fail_unless (msg != NULL);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_pinned),
                    pinned);
  c->ctx = g_main_context_new ();
  g_main_context_push_thread_default (c->ctx);
  c->session = test_session_new ();
  g_queue_init (&c->texts);
  g_queue_init (&c->frames);
  soup_session_websocket_connect_async (
      c->session, msg, origin, protocol ? (char **)protocols : NULL,
      G_PRIORITY_DEFAULT, NULL, on_connected, c);
  g_main_context_pop_thread_default (c->ctx);
  wait_until (c->ctx, client_done, c, "the WebSocket handshake");
  g_object_unref (msg);
  return c;
}

static Client *
client_connect (guint port, const gchar *path_and_query, const gchar *origin,
                const gchar *protocol)
{
  g_autofree gchar *url
      = g_strdup_printf ("ws://127.0.0.1:%u%s", port, path_and_query);
  return client_connect_url (url, origin, protocol, NULL);
}

static void
client_free (Client *c)
{
  if (c->conn) {
    g_signal_handlers_disconnect_by_data (c->conn, c);
    g_object_unref (c->conn);
  }
  g_object_unref (c->session);
  while (g_main_context_iteration (c->ctx, FALSE))
    ;
  g_queue_clear_full (&c->texts, g_free);
  g_queue_clear_full (&c->frames, (GDestroyNotify)g_bytes_unref);
  g_main_context_unref (c->ctx);
  g_free (c);
}

typedef struct {
  Client *c;
  guint n;
} WaitCount;

static gboolean
frames_at_least (gpointer data)
{
  WaitCount *w = data;
  return g_queue_get_length (&w->c->frames) >= w->n;
}

static gboolean
texts_at_least (gpointer data)
{
  WaitCount *w = data;
  return g_queue_get_length (&w->c->texts) >= w->n;
}

static void
client_wait_frames (Client *c, guint n)
{
  WaitCount w = { c, n };
  wait_until (c->ctx, frames_at_least, &w, "frames");
}

static void
client_wait_texts (Client *c, guint n)
{
  WaitCount w = { c, n };
  wait_until (c->ctx, texts_at_least, &w, "text messages");
}

/* ------------------------------------------------------------------ */
/* element                                                             */

typedef struct {
  GMutex lock;
  GCond cond;
  guint added, removed;
} ClientCounter;

static void
on_client_added (GstElement *sink, guint id, ClientCounter *cc)
{
  g_mutex_lock (&cc->lock);
  cc->added++;
  g_cond_broadcast (&cc->cond);
  g_mutex_unlock (&cc->lock);
}

static void
on_client_removed (GstElement *sink, guint id, ClientCounter *cc)
{
  g_mutex_lock (&cc->lock);
  cc->removed++;
  g_cond_broadcast (&cc->cond);
  g_mutex_unlock (&cc->lock);
}

static void
counter_wait_added (ClientCounter *cc, guint n)
{
  gint64 end = g_get_monotonic_time () + WAIT_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&cc->lock);
  while (cc->added < n)
    if (!g_cond_wait_until (&cc->cond, &cc->lock, end))
      break;
  g_mutex_unlock (&cc->lock);
  fail_unless (cc->added >= n, "sink did not accept client %u", n);
}

static GstStaticPadTemplate h264_src = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-h264, stream-format=(string)byte-stream, "
                     "alignment=(string)au"));

/* A harness around a wsh264sink on a free port; @props is "key=value ...". */
static GstHarness *
sink_harness (const gchar *props, ClientCounter *cc, guint *port)
{
  GstElement *sink = gst_element_factory_make ("wsh264sink", NULL);
  g_auto (GStrv) kv = g_strsplit (props ? props : "", " ", -1);
  GstHarness *h;
  gchar **p;

  fail_unless (sink != NULL);
  g_object_set (sink, "port", 0, NULL);
  for (p = kv; *p; p++) {
    gchar *eq = strchr (*p, '=');
    if (!eq)
      continue;
    *eq = '\0';
    gst_util_set_object_arg (G_OBJECT (sink), *p, eq + 1);
  }
  h = gst_harness_new_empty ();
  gst_harness_add_element_full (h, sink, &h264_src, "sink", NULL, NULL);
  gst_object_unref (sink);
  g_mutex_init (&cc->lock);
  g_cond_init (&cc->cond);
  cc->added = cc->removed = 0;
  g_signal_connect (h->element, "client-added", G_CALLBACK (on_client_added),
                    cc);
  g_signal_connect (h->element, "client-removed",
                    G_CALLBACK (on_client_removed), cc);
  gst_harness_set_src_caps_str (
      h, "video/x-h264,stream-format=byte-stream,"
         "alignment=au,width=320,height=240,framerate=30/1");
  g_object_get (h->element, "current-port", port, NULL);
  fail_unless (*port > 0);
  return h;
}

static void
push_au (GstHarness *h, GstBuffer *au)
{
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (au)),
                          GST_FLOW_OK);
}

static void
frame_header (GBytes *frame, Wsh264FrameHeader *hdr)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (frame, &size);
  fail_unless (wsh264_frame_header_read (d, size, hdr));
}

/* Does the Annex-B payload after the header contain a NAL of @type? */
static gboolean
frame_has_nal (GBytes *frame, guint type)
{
  gsize size, i;
  const guint8 *d = g_bytes_get_data (frame, &size);
  for (i = WSH264_FRAME_HEADER_SIZE; i + 3 < size; i++)
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1
        && (d[i + 3] & 0x1f) == type)
      return TRUE;
  return FALSE;
}

static GstStructure *
client_stats (GstElement *sink, guint index)
{
  GstStructure *stats, *cs;
  const GValue *arr;

  g_object_get (sink, "stats", &stats, NULL);
  arr = gst_structure_get_value (stats, "client-stats");
  fail_unless (index < gst_value_array_get_size (arr));
  cs = gst_structure_copy (
      gst_value_get_structure (gst_value_array_get_value (arr, index)));
  gst_structure_free (stats);
  return cs;
}

GST_START_TEST (test_init_and_keyframe_on_join)
{
  g_autoptr (GPtrArray) aus = encode_aus (50, 20, 320, 240);
  ClientCounter cc;
  guint port, i;
  GstHarness *h = sink_harness ("session-id=s1", &cc, &port);
  Client *c;
  GstEvent *ev;
  Wsh264FrameHeader hdr;
  g_autoptr (JsonParser) jp = json_parser_new ();
  JsonObject *o;
  GstClockTime running_time, timestamp;
  gboolean all_headers;
  guint count;

  /* Half a GOP before anybody watches: the sink caches SPS/PPS. */
  for (i = 0; i < 5; i++)
    push_au (h, g_ptr_array_index (aus, i));

  c = client_connect (port, "/stream/s1", NULL, NULL);
  fail_unless (c->conn != NULL, "handshake failed with %u", c->status);
  counter_wait_added (&cc, 1);

  /* The init message comes at once, from the cached SPS. */
  client_wait_texts (c, 1);
  fail_unless (
      json_parser_load_from_data (jp, g_queue_peek_head (&c->texts), -1, NULL));
  o = json_node_get_object (json_parser_get_root (jp));
  fail_unless_equals_string (json_object_get_string_member (o, "type"), "init");
  fail_unless_equals_int (json_object_get_int_member (o, "width"), 320);
  fail_unless_equals_int (json_object_get_int_member (o, "height"), 240);
  fail_unless (
      g_str_has_prefix (json_object_get_string_member (o, "codec"), "avc1.42"));
  fail_unless_equals_float (json_object_get_double_member (o, "framerate"),
                            30.0);

  /* Joining asks upstream for a key unit. */
  do {
    ev = gst_harness_pull_upstream_event (h);
    fail_unless (ev != NULL, "no upstream event");
    if (gst_video_event_is_force_key_unit (ev))
      break;
    gst_event_unref (ev);
  } while (TRUE);
  fail_unless (gst_video_event_parse_upstream_force_key_unit (
      ev, &running_time, &all_headers, &count));
  fail_unless (all_headers);
  gst_event_unref (ev);

  /* Deltas before the next keyframe are not sent to the new client. */
  for (i = 5; i < 20; i++) {
    fail_if (au_is_key (g_ptr_array_index (aus, i)));
    push_au (h, g_ptr_array_index (aus, i));
  }
  fail_unless (au_is_key (g_ptr_array_index (aus, 20)));
  for (i = 20; i < 30; i++) {
    if (i == 21) {
      /* Capture time as vsocksrc attaches it. */
      GstBuffer *b = gst_buffer_copy (g_ptr_array_index (aus, i));
      GstCaps *unix_caps = gst_caps_new_empty_simple ("timestamp/x-unix");
      gst_buffer_add_reference_timestamp_meta (
          b, unix_caps, G_GUINT64_CONSTANT (1700000000123456789),
          GST_CLOCK_TIME_NONE);
      gst_caps_unref (unix_caps);
      fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
      continue;
    }
    push_au (h, g_ptr_array_index (aus, i));
  }
  client_wait_frames (c, 10);
  fail_unless_equals_int (g_queue_get_length (&c->frames), 10);

  frame_header (g_queue_peek_nth (&c->frames, 0), &hdr);
  fail_unless (hdr.flags & WSH264_FRAME_FLAG_KEY);
  fail_unless (hdr.flags & WSH264_FRAME_FLAG_CONFIG);
  fail_unless_equals_int (hdr.seq, 20);
  fail_unless (frame_has_nal (g_queue_peek_nth (&c->frames, 0), 7));
  fail_unless (frame_has_nal (g_queue_peek_nth (&c->frames, 0), 8));
  fail_unless (frame_has_nal (g_queue_peek_nth (&c->frames, 0), 5));
  timestamp = GST_BUFFER_PTS (g_ptr_array_index (aus, 20));
  fail_unless_equals_uint64 (hdr.pts_us, timestamp / 1000);
  fail_unless (hdr.send_time_us > 0);
  fail_unless_equals_uint64 (hdr.capture_time_us, 0);
  for (i = 1; i < 10; i++) {
    frame_header (g_queue_peek_nth (&c->frames, i), &hdr);
    fail_if (hdr.flags & WSH264_FRAME_FLAG_KEY);
    fail_unless_equals_int (hdr.seq, 20 + i);
    fail_unless_equals_uint64 (hdr.capture_time_us,
                               i == 1 ? G_GUINT64_CONSTANT (1700000000123456)
                                      : 0);
  }

  /* A second client joining mid-GOP also gets init, then starts at the
   * next keyframe (AU 40), which carries SPS/PPS. */
  {
    Client *c2 = client_connect (port, "/stream/s1", NULL, NULL);
    fail_unless (c2->conn != NULL);
    counter_wait_added (&cc, 2);
    client_wait_texts (c2, 1);
    for (i = 30; i < 50; i++)
      push_au (h, g_ptr_array_index (aus, i));
    client_wait_frames (c2, 10);
    frame_header (g_queue_peek_head (&c2->frames), &hdr);
    fail_unless (hdr.flags & WSH264_FRAME_FLAG_KEY);
    fail_unless_equals_int (hdr.seq, 40);
    fail_unless (frame_has_nal (g_queue_peek_head (&c2->frames), 7));
    client_free (c2);
  }

  /* A wrong session name is refused. */
  {
    Client *bad = client_connect (port, "/stream/other", NULL, NULL);
    fail_unless (bad->conn == NULL);
    fail_unless_equals_int (bad->status, 404);
    client_free (bad);
  }

  client_free (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_resolution_change_new_init)
{
  g_autoptr (GPtrArray) small = encode_aus (10, 30, 320, 240);
  g_autoptr (GPtrArray) big = encode_aus (5, 30, 640, 480);
  ClientCounter cc;
  guint port, i;
  GstHarness *h = sink_harness (NULL, &cc, &port);
  Client *c = client_connect (port, "/stream/x", NULL, NULL);
  g_autoptr (JsonParser) jp = json_parser_new ();
  JsonObject *o;
  Wsh264FrameHeader hdr;

  fail_unless (c->conn != NULL);
  counter_wait_added (&cc, 1);
  for (i = 0; i < 10; i++)
    push_au (h, g_ptr_array_index (small, i));
  client_wait_frames (c, 10);
  fail_unless_equals_int (g_queue_get_length (&c->texts), 1);
  fail_unless_equals_int (c->frames_before_last_text, 0);

  /* The encoder restarts at 640x480 (as after a desktop resize). */
  gst_harness_set_src_caps_str (
      h, "video/x-h264,stream-format=byte-stream,"
         "alignment=au,width=640,height=480,framerate=30/1");
  for (i = 0; i < 5; i++)
    push_au (h, g_ptr_array_index (big, i));
  client_wait_frames (c, 15);
  client_wait_texts (c, 2);
  /* The new init came right before the first 640x480 frame. */
  fail_unless_equals_int (c->frames_before_last_text, 10);
  fail_unless (
      json_parser_load_from_data (jp, g_queue_peek_tail (&c->texts), -1, NULL));
  o = json_node_get_object (json_parser_get_root (jp));
  fail_unless_equals_int (json_object_get_int_member (o, "width"), 640);
  fail_unless_equals_int (json_object_get_int_member (o, "height"), 480);
  frame_header (g_queue_peek_nth (&c->frames, 10), &hdr);
  fail_unless (hdr.flags & WSH264_FRAME_FLAG_KEY);
  client_free (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Listening beyond loopback without a token warns; with a token it does
 * not. */
GST_START_TEST (test_non_loopback_warning)
{
  const gchar *tokens[] = { NULL, "t0ken" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (tokens); i++) {
    GstElement *sink = gst_element_factory_make ("wsh264sink", NULL);
    GstBus *bus = gst_bus_new ();
    GstMessage *m;
    GstHarness *h;
    gboolean warned = FALSE;

    g_object_set (sink, "port", 0, "address", "0.0.0.0", "token", tokens[i],
                  NULL);
    gst_element_set_bus (sink, bus);
    h = gst_harness_new_empty ();
    gst_harness_add_element_full (h, sink, &h264_src, "sink", NULL, NULL);
    while ((m = gst_bus_pop (bus))) {
      if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING)
        warned = TRUE;
      gst_message_unref (m);
    }
    fail_unless_equals_int (warned, tokens[i] == NULL);
    gst_harness_teardown (h);
    gst_element_set_bus (sink, NULL);
    gst_object_unref (sink);
    gst_object_unref (bus);
  }
}

GST_END_TEST;

/* A synthetic access unit of about @size bytes: SPS+PPS+IDR for a key,
 * one non-IDR slice otherwise. The sink never decodes slices, so filler
 * bytes (no start codes) are enough to load the network path. */
static GstBuffer *
synthetic_au (GBytes *sps, GBytes *pps, gboolean key, gsize size,
              GstClockTime pts)
{
  GByteArray *a = g_byte_array_sized_new (size + 64);
  static const guint8 sc[4] = { 0, 0, 0, 1 };
  guint8 slice_hdr = key ? 0x65 : 0x41;
  GstBuffer *b;
  gsize fill, len;

  if (key) {
    g_byte_array_append (a, sc, 4);
    g_byte_array_append (a, g_bytes_get_data (sps, NULL),
                         g_bytes_get_size (sps));
    g_byte_array_append (a, sc, 4);
    g_byte_array_append (a, g_bytes_get_data (pps, NULL),
                         g_bytes_get_size (pps));
  }
  g_byte_array_append (a, sc, 4);
  g_byte_array_append (a, &slice_hdr, 1);
  fill = size > a->len ? size - a->len : 16;
  g_byte_array_set_size (a, a->len + fill);
  memset (a->data + a->len - fill, 0xab, fill);
  len = a->len;
  b = gst_buffer_new_wrapped (g_byte_array_free (a, FALSE), len);
  GST_BUFFER_PTS (b) = pts;
  if (!key)
    GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DELTA_UNIT);
  return b;
}

GST_START_TEST (test_slow_client_skips_to_keyframe)
{
  g_autoptr (GPtrArray) aus = encode_aus (1, 30, 320, 240);
  g_autoptr (GBytes) sps = find_nal (g_ptr_array_index (aus, 0), 7);
  g_autoptr (GBytes) pps = find_nal (g_ptr_array_index (aus, 0), 8);
  const gsize au_size = 256 * 1024, limit = 2 * 1024 * 1024;
  const guint n = 240, gop = 10;
  g_autofree gchar *props = g_strdup_printf ("unit-format=bytes "
                                             "max-client-lag=%" G_GSIZE_FORMAT,
                                             limit);
  ClientCounter cc;
  guint port, i, seq_expect = 0;
  GstHarness *h = sink_harness (props, &cc, &port);
  Client *reader, *stalled;
  GstStructure *st;
  guint64 drops, recoveries, queued_bytes, frames;
  Wsh264FrameHeader hdr;

  reader = client_connect (port, "/stream/x", NULL, NULL);
  stalled = client_connect (port, "/stream/x", NULL, NULL);
  fail_unless (reader->conn && stalled->conn);
  counter_wait_added (&cc, 2);

  /* 60 MB through the sink; the stalled client's context is never run
   * again, so its socket fills and then its queue hits the limit. The
   * reader keeps up and must see every frame. */
  for (i = 0; i < n; i++) {
    GstBuffer *b
        = synthetic_au (sps, pps, i % gop == 0, au_size, i * GST_SECOND / 30);
    fail_unless_equals_int (gst_harness_push (h, b), GST_FLOW_OK);
    client_wait_frames (reader, i + 1);
  }

  for (i = 0; i < n; i++) {
    frame_header (g_queue_peek_nth (&reader->frames, i), &hdr);
    fail_unless_equals_int (hdr.seq, seq_expect++);
  }

  st = client_stats (h->element, 1);
  fail_unless (gst_structure_get_uint64 (st, "drops", &drops));
  fail_unless (gst_structure_get_uint64 (st, "recoveries", &recoveries));
  fail_unless (gst_structure_get_uint64 (st, "queued-bytes", &queued_bytes));
  fail_unless (gst_structure_get_uint64 (st, "frames", &frames));
  GST_INFO ("stalled client: %" GST_PTR_FORMAT, st);
  fail_unless (drops > 0, "the stalled client never dropped");
  fail_unless (recoveries > 0);
  /* Bounded: at most the limit plus one access unit (+ headers). */
  fail_unless (queued_bytes <= limit + au_size + 4096,
               "stalled client queues %" G_GUINT64_FORMAT " bytes",
               queued_bytes);
  fail_unless (frames < n);
  gst_structure_free (st);

  st = client_stats (h->element, 0);
  fail_unless (gst_structure_get_uint64 (st, "drops", &drops));
  fail_unless (gst_structure_get_uint64 (st, "frames", &frames));
  fail_unless_equals_uint64 (drops, 0);
  fail_unless_equals_uint64 (frames, n);
  gst_structure_free (st);

  client_free (stalled);
  client_free (reader);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_disconnect_policy)
{
  g_autoptr (GPtrArray) aus = encode_aus (1, 30, 320, 240);
  g_autoptr (GBytes) sps = find_nal (g_ptr_array_index (aus, 0), 7);
  g_autoptr (GBytes) pps = find_nal (g_ptr_array_index (aus, 0), 8);
  ClientCounter cc;
  guint port, i;
  GstHarness *h = sink_harness ("unit-format=buffers max-client-lag=5 "
                                "recover-policy=disconnect",
                                &cc, &port);
  Client *stalled = client_connect (port, "/stream/x", NULL, NULL);
  gint64 end;

  fail_unless (stalled->conn != NULL);
  counter_wait_added (&cc, 1);
  for (i = 0; i < 400; i++)
    fail_unless_equals_int (
        gst_harness_push (h, synthetic_au (sps, pps, i % 10 == 0, 128 * 1024,
                                           i * GST_SECOND / 30)),
        GST_FLOW_OK);
  /* The sink closes the lagging client. */
  end = g_get_monotonic_time () + WAIT_TIMEOUT_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&cc.lock);
  while (cc.removed < 1)
    if (!g_cond_wait_until (&cc.cond, &cc.lock, end))
      break;
  g_mutex_unlock (&cc.lock);
  fail_unless_equals_int (cc.removed, 1);
  client_free (stalled);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_token)
{
  ClientCounter cc;
  guint port;
  GstHarness *h = sink_harness ("token=s3cret", &cc, &port);
  Client *c;

  c = client_connect (port, "/stream/x", NULL, NULL);
  fail_unless (c->conn == NULL);
  fail_unless_equals_int (c->status, 401);
  client_free (c);

  c = client_connect (port, "/stream/x?token=wrong", NULL, NULL);
  fail_unless_equals_int (c->status, 401);
  client_free (c);

  c = client_connect (port, "/stream/x?token=s3cre", NULL, NULL);
  fail_unless_equals_int (c->status, 401);
  client_free (c);

  c = client_connect (port, "/stream/x?token=s3cret", NULL, NULL);
  fail_unless (c->conn != NULL, "status %u", c->status);
  client_free (c);

  c = client_connect (port, "/stream/x", NULL, "token.s3cret");
  fail_unless (c->conn == NULL, "only a token protocol, no vmstream");
  client_free (c);

  /* Browsers: new WebSocket(url, ["vmstream", "token.<token>"]) */
  {
    Client *p = g_new0 (Client, 1);
    g_autofree gchar *url
        = g_strdup_printf ("ws://127.0.0.1:%u/stream/x", port);
    SoupMessage *msg = soup_message_new ("GET", url);
    const gchar *protocols[] = { "vmstream", "token.s3cret", NULL };
    p->ctx = g_main_context_new ();
    g_main_context_push_thread_default (p->ctx);
    p->session = test_session_new ();
    g_queue_init (&p->texts);
    g_queue_init (&p->frames);
    soup_session_websocket_connect_async (
        p->session, msg, NULL, (char **)protocols, G_PRIORITY_DEFAULT, NULL,
        on_connected, p);
    g_main_context_pop_thread_default (p->ctx);
    wait_until (p->ctx, client_done, p, "handshake");
    fail_unless (p->conn != NULL, "status %u", p->status);
    fail_unless_equals_string (soup_websocket_connection_get_protocol (p->conn),
                               "vmstream");
    g_object_unref (msg);
    client_free (p);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_origin)
{
  ClientCounter cc;
  guint port;
  GstHarness *h = sink_harness (NULL, &cc, &port);
  g_autofree gchar *same = NULL;
  Client *c;

  /* Default: only the element's own pages (and non-browsers). */
  c = client_connect (port, "/stream/x", "http://evil.example", NULL);
  fail_unless_equals_int (c->status, 403);
  client_free (c);
  same = g_strdup_printf ("http://127.0.0.1:%u", port);
  c = client_connect (port, "/stream/x", same, NULL);
  fail_unless (c->conn != NULL, "status %u", c->status);
  client_free (c);

  g_object_set (h->element, "allowed-origins",
                "https://a.example, http://good.example", NULL);
  c = client_connect (port, "/stream/x", "http://good.example", NULL);
  fail_unless (c->conn != NULL, "status %u", c->status);
  client_free (c);
  c = client_connect (port, "/stream/x", "http://evil.example", NULL);
  fail_unless_equals_int (c->status, 403);
  client_free (c);
  c = client_connect (port, "/stream/x", same, NULL);
  fail_unless_equals_int (c->status, 403);
  client_free (c);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_max_clients)
{
  ClientCounter cc;
  guint port;
  GstHarness *h = sink_harness ("max-clients=1", &cc, &port);
  Client *a = client_connect (port, "/stream/x", NULL, NULL);
  Client *b;

  fail_unless (a->conn != NULL);
  counter_wait_added (&cc, 1);
  b = client_connect (port, "/stream/x", NULL, NULL);
  fail_unless_equals_int (b->status, 503);
  client_free (b);
  client_free (a);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_input_to_navigation)
{
  ClientCounter cc;
  guint port;
  GstHarness *h = sink_harness (NULL, &cc, &port);
  GstBus *bus = gst_bus_new ();
  Client *c = client_connect (port, "/stream/x", NULL, NULL);
  const gchar *msgs[] = {
    "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}",
    "not json at all",
    "{\"type\":\"pointer\",\"action\":\"down\",\"x\":3,\"y\":4,\"button\":0}",
    "{\"type\":\"wheel\",\"x\":1,\"y\":1,\"dx\":0,\"dy\":3}",
  };
  GstNavigationEventType expect[] = {
    GST_NAVIGATION_EVENT_KEY_PRESS,
    GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS,
    GST_NAVIGATION_EVENT_MOUSE_SCROLL,
  };
  guint i, got = 0;
  GstMessage *m;

  gst_element_set_bus (h->element, bus);
  fail_unless (c->conn != NULL);
  counter_wait_added (&cc, 1);
  for (i = 0; i < G_N_ELEMENTS (msgs); i++)
    soup_websocket_connection_send_text (c->conn, msgs[i]);
  while (g_main_context_iteration (c->ctx, FALSE))
    ;

  /* Each valid message: an upstream navigation event... */
  while (got < G_N_ELEMENTS (expect)) {
    GstEvent *ev = gst_harness_pull_upstream_event (h);
    fail_unless (ev != NULL);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_NAVIGATION) {
      fail_unless_equals_int (gst_navigation_event_get_type (ev), expect[got]);
      if (got == 1) {
        gint button;
        gdouble x, y;
        fail_unless (gst_navigation_event_parse_mouse_button_event (ev, &button,
                                                                    &x, &y));
        fail_unless_equals_int (button, 1);
        fail_unless_equals_float (x, 3);
      }
      got++;
    }
    gst_event_unref (ev);
  }
  /* ...and a navigation message on the bus. */
  for (i = 0; i < G_N_ELEMENTS (expect); i++) {
    GstEvent *ev = NULL;
    m = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND, GST_MESSAGE_ELEMENT);
    fail_unless (m != NULL);
    fail_unless_equals_int (gst_navigation_message_get_type (m),
                            GST_NAVIGATION_MESSAGE_EVENT);
    fail_unless (gst_navigation_message_parse_event (m, &ev));
    fail_unless_equals_int (gst_navigation_event_get_type (ev), expect[i]);
    gst_event_unref (ev);
    gst_message_unref (m);
  }
  client_free (c);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Raw bytes to the port: bad HTTP, bad WebSocket frames, oversized input.
 * The element must survive and serve the next client. */
GST_START_TEST (test_malformed_input)
{
  ClientCounter cc;
  guint port, i;
  GstHarness *h = sink_harness (NULL, &cc, &port);
  const gchar *garbage[] = {
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /* TLS hello */
    "GET / HTTP/1.1\r\nHost x\r\nno colon here\r\n\r\n",
    "GET /stream/x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: short\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n",
    "GARBAGE\r\n\r\n",
    "GET /stream/x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
    "\x81\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04", /* 2^64 */
    "GET /stream/x HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
    "\x81\x05hello", /* unmasked client frame */
  };

  for (i = 0; i < G_N_ELEMENTS (garbage); i++) {
    GSocketClient *sc = g_socket_client_new ();
    g_socket_client_set_enable_proxy (sc, FALSE);
    g_autoptr (GSocketConnection) conn
        = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, NULL);
    GOutputStream *os;
    GInputStream *is;
    gchar buf[512];

    fail_unless (conn != NULL);
    os = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    is = g_io_stream_get_input_stream (G_IO_STREAM (conn));
    g_output_stream_write_all (os, garbage[i], strlen (garbage[i]), NULL, NULL,
                               NULL);
    g_socket_shutdown (g_socket_connection_get_socket (conn), FALSE, TRUE,
                       NULL);
    /* Read until the server closes. */
    while (g_input_stream_read (is, buf, sizeof (buf), NULL, NULL) > 0)
      ;
    g_object_unref (sc);
  }

  {
    Client *c = client_connect (port, "/stream/x", NULL, NULL);
    fail_unless (c->conn != NULL, "sink stopped serving after bad input");
    client_free (c);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* One HTTP request over a raw connection (so Host is exactly what a
 * browser on a rebound name would send); returns the reply up to the end
 * of its headers plus whatever body came with them. */
static gchar *raw_http_to (GSocketConnectable *to, const gchar *host,
                           const gchar *path, const gchar *origin,
                           gboolean websocket);

static gchar *
raw_http (guint port, const gchar *host, const gchar *path, const gchar *origin,
          gboolean websocket)
{
  g_autoptr (GSocketConnectable) to = g_network_address_new ("127.0.0.1", port);
  return raw_http_to (to, host, path, origin, websocket);
}

/* raw_http() to any address (a Unix socket's too) */
static gchar *
raw_http_to (GSocketConnectable *to, const gchar *host, const gchar *path,
             const gchar *origin, gboolean websocket)
{
  GSocketClient *sc = g_socket_client_new ();
  GSocketConnection *conn;
  GInputStream *is;
  GString *reply = g_string_new (NULL);
  gchar *req, buf[1024];
  gssize n;

  g_socket_client_set_enable_proxy (sc, FALSE);
  g_socket_client_set_timeout (sc, 10);
  conn = g_socket_client_connect (sc, to, NULL, NULL);
  fail_unless (conn != NULL);
  req = g_strdup_printf (
      "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%s%s\r\n", path, host,
      origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "",
      websocket ? "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Protocol: vmstream\r\n"
                : "Connection: close\r\n");
  fail_unless (g_output_stream_write_all (
      g_io_stream_get_output_stream (G_IO_STREAM (conn)), req, strlen (req),
      NULL, NULL, NULL));
  is = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  /* the headers, then Content-Length bytes of body (none after 101) */
  while ((n = g_input_stream_read (is, buf, sizeof (buf), NULL, NULL)) > 0) {
    const gchar *end, *cl;
    gsize want = 0;

    g_string_append_len (reply, buf, n);
    end = strstr (reply->str, "\r\n\r\n");
    if (end == NULL)
      continue;
    cl = g_strstr_len (reply->str, end - reply->str, "Content-Length:");
    if (cl)
      want = strtoul (cl + 15, NULL, 10);
    if (reply->len - (end + 4 - reply->str) >= want)
      break;
  }
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  g_object_unref (conn);
  g_object_unref (sc);
  g_free (req);
  return g_string_free (reply, FALSE);
}

static void
assert_status (const gchar *reply, const gchar *status, const gchar *what)
{
  fail_unless (g_str_has_prefix (reply, status), "%s: %s", what, reply);
}

/* socket-path: the sink serves a Unix socket (the supervisor's relay), mode
 * 0600, replacing a stale socket file; there Host is the relay's business
 * (a foreign name is served) while the token still applies; the file is
 * gone after stop. */
GST_START_TEST (test_socket_path)
{
  g_autofree gchar *dir = g_dir_make_tmp ("wsh264sink-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "ws.sock", NULL);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  GstElement *sink = gst_element_factory_make ("wsh264sink", NULL);
  GSocket *stale;
  GstHarness *h;
  GStatBuf st;
  gchar *r;

  fail_unless (dir != NULL && sink != NULL);
  /* a socket file nobody listens on, as a killed session leaves it */
  stale = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                        G_SOCKET_PROTOCOL_DEFAULT, NULL);
  fail_unless (g_socket_bind (stale, addr, FALSE, NULL));
  g_object_unref (stale);
  fail_unless (g_file_test (path, G_FILE_TEST_EXISTS));

  g_object_set (sink, "socket-path", path, "session-id", "s1", "token", "t0ken",
                NULL);
  h = gst_harness_new_empty ();
  gst_harness_add_element_full (h, sink, &h264_src, "sink", NULL, NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (
      h, "video/x-h264,stream-format=byte-stream,"
         "alignment=au,width=320,height=240,framerate=30/1");
  fail_unless (g_stat (path, &st) == 0);
  fail_unless (S_ISSOCK (st.st_mode), "not a socket: %o", st.st_mode);
  fail_unless_equals_int (st.st_mode & 0777, 0600);

  r = raw_http_to (G_SOCKET_CONNECTABLE (addr), "rebind.example",
                   "/config.json", "http://elsewhere.example", FALSE);
  assert_status (r, "HTTP/1.1 200", "a foreign Host on the socket");
  fail_unless (strstr (r, "/stream/s1") != NULL, "config: %s", r);
  g_free (r);
  r = raw_http_to (G_SOCKET_CONNECTABLE (addr), "rebind.example", "/stream/s1",
                   "http://elsewhere.example", TRUE);
  assert_status (r, "HTTP/1.1 401", "no token on the socket");
  g_free (r);
  r = raw_http_to (G_SOCKET_CONNECTABLE (addr), "rebind.example",
                   "/stream/s1?token=t0ken", "http://elsewhere.example", TRUE);
  assert_status (r, "HTTP/1.1 101", "the token on the socket");
  g_free (r);

  gst_harness_teardown (h);
  fail_if (g_file_test (path, G_FILE_TEST_EXISTS), "%s left behind", path);
  g_rmdir (dir);
}

GST_END_TEST;

/* DNS rebinding: a page on http://rebind.example:PORT whose name now
 * resolves to 127.0.0.1 sends Host and Origin with its own name, equal to
 * each other. Refused (421, with a sentence) for the player page and the
 * stream; IP literals and localhost names are served; public-names adds
 * names. */
GST_START_TEST (test_host_allow_list)
{
  ClientCounter cc;
  guint port;
  GstHarness *h = sink_harness (NULL, &cc, &port);
  g_autofree gchar *evil = NULL, *evil_origin = NULL, *ip = NULL;
  g_autofree gchar *ip_origin = NULL, *v6 = NULL, *lh = NULL, *pub = NULL;
  g_autofree gchar *pub_origin = NULL;
  gchar *r;

  evil = g_strdup_printf ("rebind.example:%u", port);
  evil_origin = g_strdup_printf ("http://rebind.example:%u", port);
  ip = g_strdup_printf ("127.0.0.1:%u", port);
  ip_origin = g_strdup_printf ("http://127.0.0.1:%u", port);
  v6 = g_strdup_printf ("[::1]:%u", port);
  lh = g_strdup_printf ("localhost:%u", port);
  pub = g_strdup_printf ("Stream.Example.org:%u", port);
  pub_origin = g_strdup_printf ("http://Stream.Example.org:%u", port);

  r = raw_http (port, evil, "/stream/x", evil_origin, TRUE);
  assert_status (r, "HTTP/1.1 421", "rebound name, WebSocket");
  fail_unless (strstr (r, "public-names") != NULL, "no sentence: %s", r);
  g_free (r);
  r = raw_http (port, evil, "/", NULL, FALSE);
  assert_status (r, "HTTP/1.1 421", "rebound name, player page");
  g_free (r);
  r = raw_http (port, evil, "/config.json", evil_origin, FALSE);
  assert_status (r, "HTTP/1.1 421", "rebound name, config.json");
  g_free (r);
  r = raw_http (port, "", "/", NULL, FALSE);
  fail_if (g_str_has_prefix (r, "HTTP/1.1 200"), "empty Host: %s", r);
  g_free (r);

  r = raw_http (port, ip, "/stream/x", ip_origin, TRUE);
  assert_status (r, "HTTP/1.1 101", "IP Host with its own origin");
  g_free (r);
  r = raw_http (port, ip, "/stream/x", evil_origin, TRUE);
  assert_status (r, "HTTP/1.1 403", "IP Host, foreign origin");
  g_free (r);
  r = raw_http (port, v6, "/", NULL, FALSE);
  assert_status (r, "HTTP/1.1 200", "[::1] Host");
  g_free (r);
  r = raw_http (port, lh, "/", NULL, FALSE);
  assert_status (r, "HTTP/1.1 200", "localhost Host");
  g_free (r);

  r = raw_http (port, pub, "/", NULL, FALSE);
  assert_status (r, "HTTP/1.1 421", "a name not listed yet");
  g_free (r);
  g_object_set (h->element, "public-names",
                " other.example, stream.example.org", NULL);
  r = raw_http (port, pub, "/", NULL, FALSE);
  assert_status (r, "HTTP/1.1 200", "a listed name (any case)");
  g_free (r);
  r = raw_http (port, pub, "/stream/x", pub_origin, TRUE);
  assert_status (r, "HTTP/1.1 101", "a listed name, WebSocket");
  g_free (r);
  r = raw_http (port, evil, "/stream/x", evil_origin, TRUE);
  assert_status (r, "HTTP/1.1 421", "still not the rebound name");
  g_free (r);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* A certificate and key (common/vmstls, made with openssl) in a fresh
 * folder; NULL (the test skips) without the openssl command. */
static gchar *
tls_pair (const gchar *dir, GTlsCertificate **cert)
{
  const gchar *names[] = { "127.0.0.1", "vmstream.test", NULL };
  g_autoptr (GError) err = NULL;

  *cert = vms_tls_certificate_self_signed (dir, names, NULL, &err);
  fail_unless (*cert != NULL, "%s", err ? err->message : "?");
  return g_build_filename (dir, VMS_TLS_SELF_SIGNED_CERT, NULL);
}

/* tls-certificate + tls-key: the stream is WSS (a client pinning the
 * certificate gets the same access units that went in), plain ws:// gets
 * nothing; bad files fail the start with an element error naming them. */
GST_START_TEST (test_tls)
{
  g_autofree gchar *openssl = g_find_program_in_path ("openssl");
  g_autofree gchar *tmp = NULL;
  g_autofree gchar *dir_a = NULL, *dir_b = NULL;
  g_autofree gchar *crt = NULL, *key = NULL, *crt_b = NULL, *key_b = NULL;
  g_autofree gchar *props = NULL, *url = NULL;
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autoptr (GTlsCertificate) cert_b = NULL;
  g_autoptr (GPtrArray) aus = encode_aus (20, 10, 320, 240);
  ClientCounter cc;
  GstHarness *h;
  Client *c;
  guint port, i;

#ifdef VMS_TEST_GNUTLS_STATIC_TLS
  g_message ("GnuTLS %s linked in (static TLS under ASan)",
             gnutls_check_version (NULL));
#endif
  if (openssl == NULL) {
    GST_WARNING ("no openssl command: skipped");
    return;
  }
  tmp = g_dir_make_tmp ("wsh264-tls-XXXXXX", NULL);
  dir_a = g_build_filename (tmp, "a", NULL);
  dir_b = g_build_filename (tmp, "b", NULL);
  fail_unless (g_mkdir (dir_a, 0700) == 0 && g_mkdir (dir_b, 0700) == 0);
  crt = tls_pair (dir_a, &cert);
  key = g_build_filename (dir_a, VMS_TLS_SELF_SIGNED_KEY, NULL);
  crt_b = tls_pair (dir_b, &cert_b);
  key_b = g_build_filename (dir_b, VMS_TLS_SELF_SIGNED_KEY, NULL);

  props = g_strdup_printf ("session-id=s1 tls-certificate=%s tls-key=%s", crt,
                           key);
  h = sink_harness (props, &cc, &port);
  url = g_strdup_printf ("wss://127.0.0.1:%u/stream/s1", port);
  c = client_connect_url (url, NULL, NULL, cert);
  fail_unless (c->conn != NULL, "WSS handshake failed with %u", c->status);
  counter_wait_added (&cc, 1);
  for (i = 0; i < 20; i++)
    push_au (h, g_ptr_array_index (aus, i));
  client_wait_frames (c, 20);
  /* the delta frames arrive byte for byte (keyframes may carry SPS/PPS) */
  for (i = 1; i < 10; i++) {
    GstBuffer *au = g_ptr_array_index (aus, i);
    gsize size;
    const guint8 *d
        = g_bytes_get_data (g_queue_peek_nth (&c->frames, i), &size);
    GstMapInfo map;

    fail_unless (gst_buffer_map (au, &map, GST_MAP_READ));
    fail_unless_equals_uint64 (size - WSH264_FRAME_HEADER_SIZE, map.size);
    fail_unless (memcmp (d + WSH264_FRAME_HEADER_SIZE, map.data, map.size)
                 == 0);
    gst_buffer_unmap (au, &map);
  }
  client_free (c);
  /* the certificate of another server is not accepted by the client */
  c = client_connect_url (url, NULL, NULL, cert_b);
  fail_unless (c->conn == NULL);
  client_free (c);
  /* ws:// to the HTTPS port: no WebSocket */
  c = client_connect (port, "/stream/s1", NULL, NULL);
  fail_unless (c->conn == NULL);
  client_free (c);
  gst_harness_teardown (h);

  /* refused at start, with an element error that names the file */
  {
    const gchar *cases[][3] = {
      { crt, key_b, "does not belong" }, /* another certificate's key */
      { crt, NULL, "without its private key" },
      { crt, tmp, "cannot read" }, /* a folder: unreadable as a file */
      { key, key, "no usable PEM certificate" },
    };
    for (i = 0; i < G_N_ELEMENTS (cases); i++) {
      GstElement *sink = gst_element_factory_make ("wsh264sink", NULL);
      g_autoptr (GstBus) bus = gst_bus_new ();
      g_autoptr (GstMessage) m = NULL;
      g_autoptr (GError) err = NULL;

      g_object_set (sink, "port", 0, "tls-certificate", cases[i][0], "tls-key",
                    cases[i][1], NULL);
      gst_element_set_bus (sink, bus);
      fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
                              GST_STATE_CHANGE_FAILURE);
      m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
      fail_unless (m != NULL, "no error message for case %u", i);
      gst_message_parse_error (m, &err, NULL);
      GST_INFO ("refused: %s", err->message);
      fail_unless (strstr (err->message, cases[i][2]) != NULL, "%s",
                   err->message);
      fail_unless (strstr (err->message, "Cannot serve HTTPS") != NULL);
      gst_element_set_state (sink, GST_STATE_NULL);
      gst_element_set_bus (sink, NULL);
      gst_object_unref (sink);
    }
  }
  {
    g_autofree gchar *cmd = g_strdup_printf ("rm -rf '%s'", tmp);
    fail_unless (system (cmd) == 0);
  }
}

GST_END_TEST;

static Suite *
wsh264sink_suite (void)
{
  Suite *s = suite_create ("wsh264sink");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_codec_string_and_init);
  tcase_add_test (tc, test_frame_header_roundtrip);
  tcase_add_test (tc, test_sps_rewrite);
  tcase_add_test (tc, test_navigation_json);
  tcase_add_test (tc, test_init_and_keyframe_on_join);
  tcase_add_test (tc, test_resolution_change_new_init);
  tcase_add_test (tc, test_slow_client_skips_to_keyframe);
  tcase_add_test (tc, test_disconnect_policy);
  tcase_add_test (tc, test_token);
  tcase_add_test (tc, test_origin);
  tcase_add_test (tc, test_host_allow_list);
  tcase_add_test (tc, test_tls);
  tcase_add_test (tc, test_socket_path);
  tcase_add_test (tc, test_max_clients);
  tcase_add_test (tc, test_non_loopback_warning);
  tcase_add_test (tc, test_input_to_navigation);
  tcase_add_test (tc, test_malformed_input);
  return s;
}

GST_CHECK_MAIN (wsh264sink);
