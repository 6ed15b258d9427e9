/* Fault tests of the vsock path: many sender restarts with flat memory,
 * half-open connections, and a resolution change every 10 frames. */
#include "itest.h"
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmsprotocol.h"
#include "../vmstest.h"

static GstElement *
launch (const gchar *desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  fail_unless (p != NULL, "%s: %s", desc, err ? err->message : "");
  return p;
}

static GstElement *
by_name (GstElement *p, const gchar *name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p), name);
  fail_unless (e != NULL);
  return e;
}

static GstSample *
pull (GstElement *appsink)
{
  GstSample *s
      = gst_app_sink_try_pull_sample (GST_APP_SINK (appsink), 20 * GST_SECOND);
  fail_unless (s != NULL, "no frame within 20 s");
  return s;
}

static glong
rss_kib (void)
{
  gchar *status = NULL, *line;
  glong kib = 0;

  g_file_get_contents ("/proc/self/status", &status, NULL, NULL);
  line = status ? strstr (status, "VmRSS:") : NULL;
  if (line)
    kib = strtol (line + 6, NULL, 10);
  g_free (status);
  return kib;
}

static void
no_errors (GstElement *p)
{
  GstState state;

  VMS_ASSERT_NO_BUS_ERROR (p);
  gst_element_get_state (p, &state, NULL, 5 * GST_SECOND);
  fail_unless_equals_int (state, GST_STATE_PLAYING);
}

GST_START_TEST (test_100_sender_restarts_memory_flat)
{
  gchar *uri = g_strdup_printf ("unix://%s/g.sock", tmpdir);
  gchar *rxd = g_strdup_printf ("vsocksrc name=src uri=%s ! appsink "
                                "name=sink sync=false max-buffers=2",
                                uri);
  gchar *txd = g_strdup_printf (
      "videotestsrc is-live=true ! "
      "video/x-raw,format=NV12,width=320,height=240,framerate=100/1 ! "
      "vsocksink uri=%s",
      uri);
  GstElement *rx = launch (rxd), *src = by_name (rx, "src");
  GstElement *sink = by_name (rx, "sink");
  glong rss_20 = 0, rss_100;
  guint i;

  gst_element_set_state (rx, GST_STATE_PLAYING);
  for (i = 1; i <= 100; i++) {
    GstElement *tx = launch (txd);
    GstSample *s;

    gst_element_set_state (tx, GST_STATE_PLAYING);
    /* a frame of this sender: the first after a connection is DISCONT */
    do {
      s = pull (sink);
      if (GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (s),
                                  GST_BUFFER_FLAG_DISCONT)
          && stat_u64 (src, "connections") == i) {
        gst_sample_unref (s);
        break;
      }
      gst_sample_unref (s);
    } while (TRUE);
    /* the sender goes away abruptly, mid-stream */
    gst_element_set_state (tx, GST_STATE_NULL);
    gst_object_unref (tx);
    if (i == 20)
      rss_20 = rss_kib ();
  }
  rss_100 = rss_kib ();
  GST_INFO ("RSS after 20 restarts %ld KiB, after 100 %ld KiB", rss_20,
            rss_100);
  fail_unless_equals_uint64 (stat_u64 (src, "connections"), 100);
  /* No growth beyond noise. Under ASan the allocator quarantine grows
   * by design; LeakSanitizer checks leaks there instead. */
  if (g_getenv ("VMSTREAM_ASAN_PRELOAD") == NULL)
    fail_unless (rss_100 - rss_20 < 8 * 1024,
                 "RSS grew from %ld to %ld KiB over 80 restarts", rss_20,
                 rss_100);
  no_errors (rx);

  gst_element_set_state (rx, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (rx);
  g_free (rxd);
  g_free (txd);
  g_free (uri);
}

GST_END_TEST;

static gint
raw_connect (const gchar *path)
{
  struct sockaddr_un sun = { AF_UNIX };
  gint fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (sun.sun_path, path, sizeof (sun.sun_path));
  fail_unless (connect (fd, (struct sockaddr *)&sun, sizeof (sun)) == 0);
  return fd;
}

/* A sender that handshakes, optionally sends part of a frame, and then
 * never says anything again (a guest that froze, a half-open connection). */
static gint
frozen_sender (const gchar *path, gboolean mid_frame)
{
  const gchar *caps = "video/x-raw,format=NV12,width=320,height=240,"
                      "framerate=30/1";
  guint8 hello[VMS_HELLO_SIZE], welcome[VMS_WELCOME_SIZE];
  /* version 1, no CHALLENGE: a receiver without a secret still serves it */
  VmsHello h = { 1, 0, strlen (caps) };
  gint fd = raw_connect (path);
  gsize got = 0;

  vms_hello_write (hello, &h);
  fail_unless (write (fd, hello, sizeof (hello)) == sizeof (hello));
  fail_unless (write (fd, caps, strlen (caps)) == (ssize_t)strlen (caps));
  while (got < sizeof (welcome)) {
    ssize_t n = read (fd, welcome + got, sizeof (welcome) - got);
    fail_unless (n > 0);
    got += n;
  }
  if (mid_frame) {
    guint8 hdr_buf[VMS_MSG_HEADER_SIZE], half[1000] = { 0 };
    VmsMsgHeader hdr = { 0 };
    hdr.type = VMS_MSG_FRAME;
    hdr.size = 320 * 240 * 3 / 2;
    vms_msg_header_write (hdr_buf, &hdr);
    fail_unless (write (fd, hdr_buf, sizeof (hdr_buf)) == sizeof (hdr_buf));
    fail_unless (write (fd, half, sizeof (half)) == sizeof (half));
  }
  return fd;
}

static void
check_half_open (gboolean mid_frame)
{
  gchar *path = g_strdup_printf ("%s/g.sock", tmpdir);
  gchar *rxd = g_strdup_printf ("vsocksrc name=src uri=unix://%s ! appsink "
                                "name=sink sync=false",
                                path);
  gchar *txd = g_strdup_printf (
      "videotestsrc is-live=true ! "
      "video/x-raw,format=NV12,width=320,height=240 ! vsocksink "
      "uri=unix://%s",
      path);
  GstElement *rx = launch (rxd), *sink = by_name (rx, "sink");
  GstElement *src = by_name (rx, "src"), *tx;
  GstSample *s;
  gint frozen;

  gst_element_set_state (rx, GST_STATE_PLAYING);
  frozen = frozen_sender (path, mid_frame);

  /* the guest comes back on a new connection: its frames flow */
  tx = launch (txd);
  gst_element_set_state (tx, GST_STATE_PLAYING);
  s = pull (sink);
  fail_unless_equals_int (gst_buffer_get_size (gst_sample_get_buffer (s)),
                          320 * 240 * 3 / 2);
  gst_sample_unref (s);
  fail_unless_equals_uint64 (stat_u64 (src, "connections"), 2);
  no_errors (rx);

  gst_element_set_state (tx, GST_STATE_NULL);
  gst_element_set_state (rx, GST_STATE_NULL);
  close (frozen);
  gst_object_unref (tx);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (rx);
  g_free (rxd);
  g_free (txd);
  g_free (path);
}

GST_START_TEST (test_half_open_between_frames)
{
  check_half_open (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_half_open_mid_frame)
{
  check_half_open (TRUE);
}

GST_END_TEST;

/* Every 10 frames the sender switches between two resolutions; every
 * frame must arrive with its own caps and its own bytes. */
GST_START_TEST (test_resolution_change_every_10_frames)
{
  gchar *uri = g_strdup_printf ("unix://%s/g.sock", tmpdir);
  gchar *rxd = g_strdup_printf ("vsocksrc uri=%s ! appsink name=sink "
                                "sync=false",
                                uri);
  gchar *txd = g_strdup_printf ("appsrc name=src format=time ! vsocksink "
                                "uri=%s max-send-wait=-1",
                                uri);
  GstElement *rx = launch (rxd), *sink = by_name (rx, "sink");
  GstElement *tx = launch (txd), *appsrc = by_name (tx, "src");
  GstCaps *caps[2];
  guint i;

  caps[0] = gst_caps_from_string ("video/x-raw,format=NV12,width=320,"
                                  "height=240,framerate=30/1");
  caps[1] = gst_caps_from_string ("video/x-raw,format=NV12,width=640,"
                                  "height=480,framerate=30/1");
  gst_element_set_state (rx, GST_STATE_PLAYING);
  gst_element_set_state (tx, GST_STATE_PLAYING);

  for (i = 0; i < 100; i++) {
    GstCaps *c = caps[(i / 10) % 2];
    GstVideoInfo info;
    GstBuffer *buf;
    GstSample *sample;

    gst_video_info_from_caps (&info, c);
    buf = gst_buffer_new_allocate (NULL, info.size, NULL);
    gst_buffer_memset (buf, 0, (guint8)i, info.size);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    sample = gst_sample_new (buf, c, NULL, NULL);
    fail_unless_equals_int (
        gst_app_src_push_sample (GST_APP_SRC (appsrc), sample), GST_FLOW_OK);
    gst_sample_unref (sample);
    gst_buffer_unref (buf);
  }

  for (i = 0; i < 100; i++) {
    GstSample *s = pull (sink);
    GstBuffer *buf = gst_sample_get_buffer (s);
    GstVideoInfo info;
    GstMapInfo map;

    fail_unless (
        gst_caps_is_equal (gst_sample_get_caps (s), caps[(i / 10) % 2]),
        "frame %u has the wrong caps", i);
    gst_video_info_from_caps (&info, gst_sample_get_caps (s));
    gst_buffer_map (buf, &map, GST_MAP_READ);
    fail_unless_equals_int (map.size, info.size);
    fail_unless_equals_int (map.data[0], (guint8)i);
    fail_unless_equals_int (map.data[map.size - 1], (guint8)i);
    gst_buffer_unmap (buf, &map);
    gst_sample_unref (s);
  }
  no_errors (rx);

  gst_element_set_state (tx, GST_STATE_NULL);
  gst_element_set_state (rx, GST_STATE_NULL);
  gst_caps_unref (caps[0]);
  gst_caps_unref (caps[1]);
  gst_object_unref (appsrc);
  gst_object_unref (sink);
  gst_object_unref (tx);
  gst_object_unref (rx);
  g_free (rxd);
  g_free (txd);
  g_free (uri);
}

GST_END_TEST;

static Suite *
faults_suite (void)
{
  Suite *s = suite_create ("faults");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_100_sender_restarts_memory_flat);
  tcase_add_test (tc, test_half_open_between_frames);
  tcase_add_test (tc, test_half_open_mid_frame);
  tcase_add_test (tc, test_resolution_change_every_10_frames);
  return s;
}

GST_CHECK_MAIN (faults);
