/* Two-process integration tests: a real gst-launch-1.0 guest pipeline with
 * vsocksink, and a receiving vsocksrc pipeline in this process. */
#include "itest.h"
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <gio/gio.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define N_FRAMES 300
#define BALL_CAPS(w, h)                                                        \
  "video/x-raw,format=NV12,width=" #w ",height=" #h ",framerate=30/1"

/* 64-bit FNV-1a over 8-byte words: fast enough for 300 1080p frames. */
static guint64
frame_hash (GstBuffer *buf)
{
  GstMapInfo map;
  guint64 h = G_GUINT64_CONSTANT (1469598103934665603), w;
  gsize i;

  gst_buffer_map (buf, &map, GST_MAP_READ);
  for (i = 0; i + 8 <= map.size; i += 8) {
    memcpy (&w, map.data + i, 8);
    h = (h ^ w) * G_GUINT64_CONSTANT (1099511628211);
  }
  for (; i < map.size; i++)
    h = (h ^ map.data[i]) * G_GUINT64_CONSTANT (1099511628211);
  gst_buffer_unmap (buf, &map);
  return h;
}

/* ---- sender process ---- */

static GSubprocess *
spawn_sender (const gchar *description)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  const gchar *asan = g_getenv ("VMSTREAM_ASAN_PRELOAD");
  gchar **argv, *cmd;
  GError *err = NULL;
  GSubprocess *p;

  if (asan && *asan)
    g_subprocess_launcher_setenv (l, "LD_PRELOAD", asan, TRUE);
  cmd = g_strdup_printf ("gst-launch-1.0 -q %s", description);
  GST_INFO ("sender: %s", cmd);
  fail_unless (g_shell_parse_argv (cmd, NULL, &argv, NULL));
  p = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv, &err);
  fail_unless (p != NULL, "%s", err ? err->message : "");
  g_strfreev (argv);
  g_free (cmd);
  g_object_unref (l);
  return p;
}

static void
kill_sender (GSubprocess *p)
{
  g_subprocess_send_signal (p, SIGKILL);
  g_subprocess_wait (p, NULL, NULL);
  g_object_unref (p);
}

/* ---- receiver in this process ---- */

typedef struct {
  GstElement *pipeline;
  GstElement *src;
  GstElement *sink;
  GstBus *bus;
} Receiver;

/* @props: more vsocksrc properties ("" for none) */
static Receiver *
receiver_new_with (const gchar *uri, const gchar *props)
{
  Receiver *r = g_new0 (Receiver, 1);
  gchar *desc = g_strdup_printf ("vsocksrc name=src uri=%s %s ! "
                                 "appsink name=sink sync=false max-buffers=4",
                                 uri, props);
  GError *err = NULL;

  r->pipeline = gst_parse_launch (desc, &err);
  fail_unless (r->pipeline != NULL, "%s", err ? err->message : "");
  g_free (desc);
  r->src = gst_bin_get_by_name (GST_BIN (r->pipeline), "src");
  r->sink = gst_bin_get_by_name (GST_BIN (r->pipeline), "sink");
  r->bus = gst_element_get_bus (r->pipeline);
  fail_unless (gst_element_set_state (r->pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  return r;
}

static Receiver *
receiver_new (const gchar *uri)
{
  return receiver_new_with (uri, "");
}

/* Fails on any error message; returns the number of warnings seen. */
static guint
receiver_check_bus (Receiver *r)
{
  GstMessage *msg;
  guint warnings = 0;

  while ((msg = gst_bus_pop_filtered (r->bus,
                                      GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))
         != NULL) {
    GError *err = NULL;
    gchar *dbg = NULL;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &err, &dbg);
      fail ("receiver error: %s (%s)", err->message, dbg);
    }
    gst_message_parse_warning (msg, &err, &dbg);
    GST_INFO ("receiver warning: %s", err->message);
    g_clear_error (&err);
    g_free (dbg);
    gst_message_unref (msg);
    warnings++;
  }
  return warnings;
}

static GstSample *
receiver_pull (Receiver *r)
{
  GstSample *s
      = gst_app_sink_try_pull_sample (GST_APP_SINK (r->sink), 30 * GST_SECOND);
  fail_unless (s != NULL, "no frame within 30 s");
  return s;
}

static void
receiver_free (Receiver *r)
{
  GstState state;

  /* the pipeline is still PLAYING: nothing errored it out */
  gst_element_get_state (r->pipeline, &state, NULL, 5 * GST_SECOND);
  fail_unless_equals_int (state, GST_STATE_PLAYING);
  receiver_check_bus (r);
  gst_element_set_state (r->pipeline, GST_STATE_NULL);
  gst_object_unref (r->src);
  gst_object_unref (r->sink);
  gst_object_unref (r->bus);
  gst_object_unref (r->pipeline);
  g_free (r);
}

static gint
caps_width (GstSample *s)
{
  gint w = 0;
  gst_structure_get_int (gst_caps_get_structure (gst_sample_get_caps (s), 0),
                         "width", &w);
  return w;
}

/* The frames videotestsrc makes, hashed, to compare with what arrived. */
static guint64 *
reference_hashes (void)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (
      "videotestsrc pattern=ball num-buffers=" G_STRINGIFY (
          N_FRAMES) " ! " BALL_CAPS (1920,
                                     1080) " ! appsink name=sink sync=false",
      &err);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  guint64 *ref = g_new0 (guint64, N_FRAMES);
  guint i;

  gst_element_set_state (p, GST_STATE_PLAYING);
  for (i = 0; i < N_FRAMES; i++) {
    GstSample *s = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    fail_unless (s != NULL);
    ref[i] = frame_hash (gst_sample_get_buffer (s));
    gst_sample_unref (s);
  }
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  return ref;
}

/* Where a sender connects: @listen_uri, or for tcp://HOST:0 the port the
 * receiver @r bound (known once set_state() returned: the source listens
 * from READY up). */
static gchar *
sender_uri (Receiver *r, const gchar *listen_uri, gboolean tcp)
{
  guint port;

  if (!tcp)
    return g_strdup (listen_uri);
  g_object_get (r->src, "bound-port", &port, NULL);
  fail_unless (port > 0);
  return g_strdup_printf ("tcp://127.0.0.1:%u", port);
}

static void
check_300_frames (const gchar *listen_uri, gboolean tcp)
{
  guint64 *ref = reference_hashes ();
  Receiver *r = receiver_new (listen_uri);
  GSubprocess *sender;
  gchar *uri, *desc;
  guint i, distinct = 0;
  guint64 prev = 0;

  uri = sender_uri (r, listen_uri, tcp);
  desc = g_strdup_printf (
      "videotestsrc pattern=ball num-buffers=%d ! " BALL_CAPS (
          1920, 1080) " ! vsocksink uri=%s max-send-wait=-1",
      N_FRAMES, uri);
  sender = spawn_sender (desc);

  for (i = 0; i < N_FRAMES; i++) {
    GstSample *s = receiver_pull (r);
    GstBuffer *buf = gst_sample_get_buffer (s);
    GstVideoMeta *vmeta = gst_buffer_get_video_meta (buf);
    guint64 h = frame_hash (buf);

    /* every frame, in order, byte for byte */
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    fail_unless_equals_int (gst_buffer_get_size (buf), 1920 * 1080 * 3 / 2);
    fail_unless (h == ref[i], "frame %u differs from what was sent", i);
    fail_unless (vmeta != NULL && vmeta->stride[0] == 1920
                 && vmeta->offset[1] == 1920 * 1080);
    fail_unless (GST_BUFFER_PTS_IS_VALID (buf));
    if (i == 0)
      fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
    if (h != prev)
      distinct++;
    prev = h;
    gst_sample_unref (s);
  }
  /* the ball moves: the content is not one frame repeated */
  fail_unless (distinct > N_FRAMES / 2);
  fail_unless (g_subprocess_wait_check (sender, NULL, NULL));
  g_object_unref (sender);
  fail_unless_equals_uint64 (stat_u64 (r->src, "frames-received"), N_FRAMES);
  fail_unless_equals_int (receiver_check_bus (r), 0);
  receiver_free (r);
  g_free (desc);
  g_free (uri);
  g_free (ref);
}

GST_START_TEST (test_300_frames_unix)
{
  gchar *uri = g_strdup_printf ("unix://%s/guest.sock", tmpdir);
  check_300_frames (uri, FALSE);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_300_frames_tcp)
{
  check_300_frames ("tcp://127.0.0.1:0", TRUE);
}

GST_END_TEST;

/* Waits for @n frames of @width, returning how many carried DISCONT. */
static guint
wait_frames (Receiver *r, guint n, gint width)
{
  guint got = 0, disconts = 0, skipped = 0;

  while (got < n) {
    GstSample *s = receiver_pull (r);
    GstBuffer *buf = gst_sample_get_buffer (s);

    if (caps_width (s) != width) {
      /* frames of the previous sender still in flight */
      fail_unless (++skipped < 100);
      gst_sample_unref (s);
      continue;
    }
    if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT))
      disconts++;
    {
      GstVideoInfo info;
      fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (s)));
      fail_unless_equals_int (gst_buffer_get_size (buf), info.size);
    }
    got++;
    gst_sample_unref (s);
  }
  return disconts;
}

GST_START_TEST (test_guest_killed_and_restarted_with_new_resolution)
{
  gchar *uri = g_strdup_printf ("unix://%s/guest.sock", tmpdir);
  Receiver *r = receiver_new (uri);
  gchar *desc;
  GSubprocess *guest;

  desc
      = g_strdup_printf ("videotestsrc is-live=true pattern=ball ! " BALL_CAPS (
                             1280, 720) " ! vsocksink uri=%s",
                         uri);
  guest = spawn_sender (desc);
  g_free (desc);
  fail_unless_equals_int (wait_frames (r, 20, 1280), 1);

  /* the guest dies without a goodbye */
  kill_sender (guest);

  desc
      = g_strdup_printf ("videotestsrc is-live=true pattern=ball ! " BALL_CAPS (
                             1920, 1080) " ! vsocksink uri=%s",
                         uri);
  guest = spawn_sender (desc);
  g_free (desc);
  /* the receiver renegotiated; the new stream starts with DISCONT */
  fail_unless_equals_int (wait_frames (r, 20, 1920), 1);
  kill_sender (guest);

  fail_unless_equals_uint64 (stat_u64 (r->src, "connections"), 2);
  fail_unless (stat_u64 (r->src, "caps-changes") >= 2);
  receiver_free (r);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_caps_change_mid_stream)
{
  gchar *uri = g_strdup_printf ("unix://%s/guest.sock", tmpdir);
  Receiver *r = receiver_new (uri);
  gchar *desc = g_strdup_printf (
      "videotestsrc is-live=true pattern=ball ! "
      "capsfilter name=cf caps=\"" BALL_CAPS (1280, 720) "\" ! "
                                                         "vsocksink uri=%s",
      uri);
  GstElement *guest = gst_parse_launch (desc, NULL);
  GstElement *cf = gst_bin_get_by_name (GST_BIN (guest), "cf");
  GstCaps *caps;

  gst_element_set_state (guest, GST_STATE_PLAYING);
  wait_frames (r, 10, 1280);
  caps = gst_caps_from_string (BALL_CAPS (1920, 1080));
  g_object_set (cf, "caps", caps, NULL);
  gst_caps_unref (caps);
  /* same connection, a CAPS message, no DISCONT needed */
  wait_frames (r, 10, 1920);
  fail_unless_equals_uint64 (stat_u64 (r->src, "connections"), 1);
  fail_unless (stat_u64 (r->src, "caps-changes") >= 2);

  gst_element_set_state (guest, GST_STATE_NULL);
  gst_object_unref (cf);
  gst_object_unref (guest);
  receiver_free (r);
  g_free (desc);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_garbage_client)
{
  gchar *path = g_strdup_printf ("%s/guest.sock", tmpdir);
  gchar *uri = g_strdup_printf ("unix://%s", path);
  Receiver *r = receiver_new (uri);
  struct sockaddr_un sun = { AF_UNIX };
  guint8 *junk = g_malloc (1 << 20);
  gchar *desc;
  GSubprocess *guest;
  GstMessage *msg;
  gsize i, done = 0;
  gint fd;

  for (i = 0; i < (1 << 20); i++)
    junk[i] = g_random_int ();
  g_strlcpy (sun.sun_path, path, sizeof (sun.sun_path));
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  fail_unless (connect (fd, (struct sockaddr *)&sun, sizeof (sun)) == 0);
  /* the receiver may close before it read it all */
  while (done < (1 << 20)) {
    ssize_t n = send (fd, junk + done, (1 << 20) - done, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    done += n;
  }
  msg = gst_bus_timed_pop_filtered (r->bus, 10 * GST_SECOND,
                                    GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING);
  gst_message_unref (msg);
  close (fd);

  /* a real guest after it is served */
  desc = g_strdup_printf ("videotestsrc is-live=true ! " BALL_CAPS (
                              1280, 720) " ! vsocksink uri=%s",
                          uri);
  guest = spawn_sender (desc);
  wait_frames (r, 10, 1280);
  kill_sender (guest);
  fail_unless_equals_uint64 (stat_u64 (r->src, "rejected"), 1);
  receiver_free (r);
  g_free (desc);
  g_free (junk);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

/* The host receiver goes away and comes back at the same address; the
 * guest's sender sees its connection close, drops frames meanwhile and
 * reconnects, on any socket transport. @listen_uri is where the receiver
 * listens; with @tcp the guest connects to the port the first receiver
 * bound (tcp://127.0.0.1:0) and the second listens there again. */
static void
check_host_restart (const gchar *listen_uri, gboolean tcp)
{
  /* tcp: the first receiver picks the port; unix: the guest comes first */
  Receiver *r = tcp ? receiver_new (listen_uri) : NULL;
  gchar *uri, *desc;
  GstElement *guest, *sink;
  GstBus *gbus;
  GstState state;

  uri = sender_uri (r, listen_uri, tcp);
  desc = g_strdup_printf (
      "videotestsrc is-live=true ! " BALL_CAPS (
          320, 240) " ! vsocksink name=sink uri=%s "
                    "reconnect-interval=20 max-reconnect-interval=100",
      uri);
  guest = gst_parse_launch (desc, NULL);
  sink = gst_bin_get_by_name (GST_BIN (guest), "sink");
  gbus = gst_element_get_bus (guest);

  if (!tcp) {
    /* the guest starts first: no host yet */
    GstMessage *msg;
    gst_element_set_state (guest, GST_STATE_PLAYING);
    msg = gst_bus_timed_pop_filtered (gbus, 10 * GST_SECOND,
                                      GST_MESSAGE_WARNING);
    fail_unless (msg != NULL);
    gst_message_unref (msg);
    r = receiver_new (uri);
  } else {
    gst_element_set_state (guest, GST_STATE_PLAYING);
  }
  wait_frames (r, 5, 320);
  receiver_free (r);      /* host goes away */
  r = receiver_new (uri); /* and comes back at the same address */
  wait_frames (r, 5, 320);
  receiver_free (r);

  gst_element_get_state (guest, &state, NULL, 5 * GST_SECOND);
  fail_unless_equals_int (state, GST_STATE_PLAYING);
  fail_unless (gst_bus_pop_filtered (gbus, GST_MESSAGE_ERROR) == NULL);
  fail_unless (stat_u64 (sink, "connects") >= 2);
  fail_unless (stat_u64 (sink, "frames-dropped") > 0);
  gst_element_set_state (guest, GST_STATE_NULL);
  gst_object_unref (gbus);
  gst_object_unref (sink);
  gst_object_unref (guest);
  g_free (desc);
  g_free (uri);
}

GST_START_TEST (test_host_restarts_guest_keeps_going)
{
  gchar *uri = g_strdup_printf ("unix://%s/guest.sock", tmpdir);

  check_host_restart (uri, FALSE);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_host_restarts_guest_keeps_going_tcp)
{
  check_host_restart ("tcp://127.0.0.1:0", TRUE);
}

GST_END_TEST;

/* ---- the desktop path: BGRx as captured, sent on damage, repeated here ----
 */

#define DESK_CAPS(w, h) "video/x-raw,format=BGRx,width=" #w ",height=" #h

/* An in-process guest that sends only when told (its screen changed). */
static GstElement *
damage_sender_new (const gchar *uri, const gchar *caps, GstElement **appsrc)
{
  gchar *desc = g_strdup_printf ("appsrc name=a is-live=true format=time "
                                 "caps=\"%s,framerate=0/1\" ! "
                                 "vsocksink name=vs uri=%s max-send-wait=-1",
                                 caps, uri);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);

  fail_unless (p != NULL, "%s", err ? err->message : "");
  *appsrc = gst_bin_get_by_name (GST_BIN (p), "a");
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  g_free (desc);
  return p;
}

/* A frame of @size bytes that differs from frames of other @seed values,
 * with capture time @seed seconds after 2026-01-01 (a timestamp/x-unix
 * meta, which vsocksink sends as the capture time). */
static GstBuffer *
damage_frame (gsize size, guint seed)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstCaps *unix_caps = gst_caps_new_empty_simple ("timestamp/x-unix");
  GstMapInfo map;

  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < size; i++)
    map.data[i] = (guint8)(i * 7 + seed * 31 + (i >> 12));
  gst_buffer_unmap (buf, &map);
  gst_buffer_add_reference_timestamp_meta (
      buf, unix_caps, (G_GUINT64_CONSTANT (1767225600) + seed) * GST_SECOND,
      GST_CLOCK_TIME_NONE);
  gst_caps_unref (unix_caps);
  return buf;
}

static GstClockTime
capture_time_of (GstBuffer *buf)
{
  GstCaps *unix_caps = gst_caps_new_empty_simple ("timestamp/x-unix");
  GstReferenceTimestampMeta *m
      = gst_buffer_get_reference_timestamp_meta (buf, unix_caps);

  gst_caps_unref (unix_caps);
  return m ? m->timestamp : GST_CLOCK_TIME_NONE;
}

/* Pulls until a frame other than @prev_hash arrives; every one before it
 * must be @prev_hash again (a repeat) stamped later than the one before.
 * Returns the new frame's sample; *repeats counts the repeats seen. */
static GstSample *
pull_next_distinct (Receiver *r, guint64 prev_hash, guint *repeats,
                    GstClockTime *last_pts)
{
  for (guint n = 0; n < 200; n++) {
    GstSample *s = receiver_pull (r);
    GstBuffer *b = gst_sample_get_buffer (s);

    fail_unless (GST_BUFFER_PTS_IS_VALID (b));
    if (GST_CLOCK_TIME_IS_VALID (*last_pts))
      fail_unless (GST_BUFFER_PTS (b) > *last_pts,
                   "timestamps do not increase");
    *last_pts = GST_BUFFER_PTS (b);
    if (frame_hash (b) != prev_hash)
      return s;
    (*repeats)++;
    gst_sample_unref (s);
  }
  fail ("200 repeats and no new frame");
  return NULL;
}

/* The sample holds exactly @sent's bytes and capture time, as BGRx WxH. */
static void
check_same_frame (GstSample *s, GstBuffer *sent, gint w)
{
  GstBuffer *b = gst_sample_get_buffer (s);
  GstStructure *st = gst_caps_get_structure (gst_sample_get_caps (s), 0);

  fail_unless_equals_string (gst_structure_get_string (st, "format"), "BGRx");
  fail_unless_equals_int (caps_width (s), w);
  fail_unless_equals_int (gst_buffer_get_size (b), gst_buffer_get_size (sent));
  fail_unless (frame_hash (b) == frame_hash (sent), "bytes differ");
  fail_unless_equals_uint64 (capture_time_of (b), capture_time_of (sent));
}

/* Pulls @n repeats of @sent (the sender is quiet), stamped later each. */
static void
check_repeats (Receiver *r, GstBuffer *sent, gint w, guint n,
               GstClockTime *last_pts)
{
  for (guint i = 0; i < n; i++) {
    GstSample *s = receiver_pull (r);
    GstBuffer *b = gst_sample_get_buffer (s);

    check_same_frame (s, sent, w);
    fail_unless (GST_BUFFER_PTS (b) > *last_pts, "repeat %u not later", i);
    fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    *last_pts = GST_BUFFER_PTS (b);
    gst_sample_unref (s);
  }
}

GST_START_TEST (test_bgrx_sent_on_damage_repeated_by_host)
{
  gchar *uri = g_strdup_printf ("unix://%s/guest.sock", tmpdir);
  Receiver *r = receiver_new_with (uri, "repeat-interval=50");
  GstElement *appsrc,
      *guest = damage_sender_new (uri, DESK_CAPS (320, 200), &appsrc);
  GstClockTime pts = GST_CLOCK_TIME_NONE;
  GstBuffer *sent[5];
  guint64 prev = 0;
  guint repeats = 0;

  /* three screen changes: each arrives byte for byte, in order */
  for (guint i = 0; i < 3; i++) {
    GstSample *s;

    sent[i] = damage_frame (320 * 200 * 4, i + 1);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (appsrc),
                                                     gst_buffer_ref (sent[i])),
                            GST_FLOW_OK);
    s = pull_next_distinct (r, prev, &repeats, &pts);
    check_same_frame (s, sent[i], 320);
    prev = frame_hash (gst_sample_get_buffer (s));
    gst_sample_unref (s);
  }
  /* a still screen: the guest sends nothing, the host repeats frame 3 with
   * its bytes and capture time, stamped now */
  check_repeats (r, sent[2], 320, 5, &pts);
  fail_unless_equals_uint64 (stat_u64 (r->src, "frames-received"), 3);
  fail_unless (stat_u64 (r->src, "repeats") >= 5);

  /* the next change gets through at once, repeats or not */
  sent[3] = damage_frame (320 * 200 * 4, 4);
  gst_app_src_push_buffer (GST_APP_SRC (appsrc), gst_buffer_ref (sent[3]));
  {
    GstSample *s = pull_next_distinct (r, prev, &repeats, &pts);
    check_same_frame (s, sent[3], 320);
    gst_sample_unref (s);
  }
  /* the guest goes away: viewers keep the last picture */
  gst_element_set_state (guest, GST_STATE_NULL);
  gst_object_unref (appsrc);
  gst_object_unref (guest);
  check_repeats (r, sent[3], 320, 3, &pts);

  /* a new guest with another size: no frame of the old size follows */
  guest = damage_sender_new (uri, DESK_CAPS (160, 100), &appsrc);
  sent[4] = damage_frame (160 * 100 * 4, 5);
  gst_app_src_push_buffer (GST_APP_SRC (appsrc), gst_buffer_ref (sent[4]));
  {
    GstSample *s = pull_next_distinct (r, frame_hash (sent[3]), &repeats, &pts);
    check_same_frame (s, sent[4], 160);
    gst_sample_unref (s);
  }
  check_repeats (r, sent[4], 160, 3, &pts);

  gst_element_set_state (guest, GST_STATE_NULL);
  gst_object_unref (appsrc);
  gst_object_unref (guest);
  receiver_free (r);
  for (guint i = 0; i < G_N_ELEMENTS (sent); i++)
    gst_buffer_unref (sent[i]);
  g_free (uri);
}

GST_END_TEST;

/* Without repeat-interval (the default) a quiet sender means no buffers. */
GST_START_TEST (test_no_repeats_by_default)
{
  gchar *uri = g_strdup_printf ("unix://%s/guest.sock", tmpdir);
  Receiver *r = receiver_new (uri);
  GstElement *appsrc,
      *guest = damage_sender_new (uri, DESK_CAPS (320, 200), &appsrc);
  GstBuffer *sent = damage_frame (320 * 200 * 4, 1);
  GstSample *s;

  gst_app_src_push_buffer (GST_APP_SRC (appsrc), gst_buffer_ref (sent));
  s = receiver_pull (r);
  check_same_frame (s, sent, 320);
  gst_sample_unref (s);
  s = gst_app_sink_try_pull_sample (GST_APP_SINK (r->sink), GST_SECOND / 2);
  fail_unless (s == NULL, "a buffer nobody sent");
  fail_unless_equals_uint64 (stat_u64 (r->src, "repeats"), 0);

  gst_element_set_state (guest, GST_STATE_NULL);
  gst_object_unref (appsrc);
  gst_object_unref (guest);
  receiver_free (r);
  gst_buffer_unref (sent);
  g_free (uri);
}

GST_END_TEST;

static Suite *
stream_suite (void)
{
  Suite *s = suite_create ("stream");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_300_frames_unix);
  tcase_add_test (tc, test_300_frames_tcp);
  tcase_add_test (tc, test_guest_killed_and_restarted_with_new_resolution);
  tcase_add_test (tc, test_caps_change_mid_stream);
  tcase_add_test (tc, test_garbage_client);
  tcase_add_test (tc, test_host_restarts_guest_keeps_going);
  tcase_add_test (tc, test_host_restarts_guest_keeps_going_tcp);
  tcase_add_test (tc, test_bgrx_sent_on_damage_repeated_by_host);
  tcase_add_test (tc, test_no_repeats_by_default);
  return s;
}

GST_CHECK_MAIN (stream);
