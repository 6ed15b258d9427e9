/* encode-latency: glass-to-RTSP-client latency of vmstreamenc + rtsph264sink.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   [ENCODER_SETTINGS="prop=value ..."] encode-latency ENCODER WIDTH HEIGHT
 *       [ROUNDS]
 *
 * Server: videotestsrc (live, 30 fps) ! vmstreamenc encoder=ENCODER !
 *         rtsph264sink port=0.
 * Client (same process, same monotonic clock): rtspsrc latency=0 !
 *         rtph264depay ! avdec_h264 ! appsink.
 * Each round switches the source from black to white; "glass" is the moment
 * the first white frame leaves videotestsrc (pad probe), "client" the moment
 * the decoded frame reaches the appsink with a white centre. Prints one line:
 *   ENCODER WxH rounds=N median_ms=... min_ms=... max_ms=...
 * Built and run by bench/encode-bench.sh.
 */
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean want_white;     /* what the source shows now */
  gboolean switch_pending; /* waiting for the first frame after a switch */
  gint64 t_glass;          /* µs, monotonic */
  gint64 t_client;         /* µs, monotonic; 0 until seen */
  gboolean client_white;   /* last decoded centre luma state */
  guint frames;
} Lat;

/* TRUE if the centre pixel of a raw frame is bright (plane 0 = luma). */
static gboolean
centre_is_white (GstCaps *caps, GstBuffer *buf)
{
  GstVideoInfo vi;
  GstVideoFrame f;
  gboolean white = FALSE;

  if (caps && gst_video_info_from_caps (&vi, caps)
      && gst_video_frame_map (&f, &vi, buf, GST_MAP_READ)) {
    const guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (&f, 0);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0);
    white = y[(vi.height / 2) * stride + vi.width / 2] > 128;
    gst_video_frame_unmap (&f);
  }
  return white;
}

static GstPadProbeReturn
src_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Lat *l = data;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean white = centre_is_white (caps, GST_PAD_PROBE_INFO_BUFFER (info));

  gst_clear_caps (&caps);
  g_mutex_lock (&l->lock);
  /* the first frame that really shows the new pattern */
  if (l->switch_pending && white == l->want_white) {
    l->t_glass = g_get_monotonic_time ();
    l->switch_pending = FALSE;
  }
  g_mutex_unlock (&l->lock);
  return GST_PAD_PROBE_OK;
}

static GstFlowReturn
new_sample (GstAppSink *sink, gpointer data)
{
  Lat *l = data;
  GstSample *s = gst_app_sink_pull_sample (sink);
  gboolean white;

  if (!s)
    return GST_FLOW_EOS;
  white = centre_is_white (gst_sample_get_caps (s), gst_sample_get_buffer (s));
  gst_sample_unref (s);

  g_mutex_lock (&l->lock);
  l->frames++;
  if (white != l->client_white) {
    l->client_white = white;
    if (white == l->want_white && !l->t_client)
      l->t_client = g_get_monotonic_time ();
    g_cond_broadcast (&l->cond);
  }
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
  return GST_FLOW_OK;
}

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

static void
check_bus (GstElement *p, const gchar *what)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (m) {
    GError *err = NULL;
    gst_message_parse_error (m, &err, NULL);
    g_printerr ("%s error: %s\n", what, err->message);
    exit (1);
  }
  gst_object_unref (bus);
}

int
main (int argc, char **argv)
{
  Lat l = { 0 };
  GstElement *server, *client, *src, *rtsp, *appsink;
  GstPad *pad;
  GError *err = NULL;
  gchar *desc, *url = NULL;
  guint rounds;
  gint64 *lat;
  guint n = 0;
  GstAppSinkCallbacks cb = { 0 };

  gst_init (&argc, &argv);
  if (argc < 4) {
    g_printerr ("usage: encode-latency ENCODER WIDTH HEIGHT [ROUNDS]\n");
    return 2;
  }
  rounds = argc > 4 ? (guint)atoi (argv[4]) : 20;
  lat = g_new0 (gint64, rounds);
  g_mutex_init (&l.lock);
  g_cond_init (&l.cond);

  desc = g_strdup_printf (
      "videotestsrc name=src is-live=true pattern=black ! "
      "video/x-raw,width=%s,height=%s,framerate=30/1 ! "
      "vmstreamenc encoder=%s encoder-settings=\"%s\" ! "
      "rtsph264sink name=rtsp port=0 mount=/lat",
      argv[2], argv[3], argv[1],
      g_getenv ("ENCODER_SETTINGS") ? g_getenv ("ENCODER_SETTINGS") : "");
  server = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!server) {
    g_printerr ("server: %s\n", err->message);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (server), "src");
  rtsp = gst_bin_get_by_name (GST_BIN (server), "rtsp");
  pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, src_probe, &l, NULL);
  gst_object_unref (pad);
  if (gst_element_set_state (server, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    check_bus (server, "server");
    return 1;
  }
  gst_element_get_state (server, NULL, NULL, 10 * GST_SECOND);
  g_object_get (rtsp, "url", &url, NULL);

  desc = g_strdup_printf (
      "rtspsrc location=%s latency=0 ! rtph264depay ! "
      "avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! "
      "appsink name=sink sync=false max-buffers=2 drop=true",
      url);
  client = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!client) {
    g_printerr ("client: %s\n", err->message);
    return 1;
  }
  appsink = gst_bin_get_by_name (GST_BIN (client), "sink");
  cb.new_sample = new_sample;
  gst_app_sink_set_callbacks (GST_APP_SINK (appsink), &cb, &l, NULL);
  gst_element_set_state (client, GST_STATE_PLAYING);

  /* wait for the first decoded frames */
  g_mutex_lock (&l.lock);
  while (l.frames < 30) {
    if (!g_cond_wait_until (&l.cond, &l.lock,
                            g_get_monotonic_time ()
                                + 20 * G_TIME_SPAN_SECOND)) {
      g_mutex_unlock (&l.lock);
      check_bus (server, "server");
      check_bus (client, "client");
      g_printerr ("client got no frames\n");
      return 1;
    }
  }
  g_mutex_unlock (&l.lock);

  for (guint r = 0; r < rounds * 2; r++) {
    gboolean white = (r % 2) == 0;
    gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

    g_mutex_lock (&l.lock);
    l.want_white = white;
    l.t_client = 0;
    l.t_glass = 0;
    l.switch_pending = TRUE;
    g_mutex_unlock (&l.lock);
    g_object_set (src, "pattern", white ? 3 : 2, NULL); /* white : black */

    g_mutex_lock (&l.lock);
    while (!(l.t_client && l.client_white == white))
      if (!g_cond_wait_until (&l.cond, &l.lock, deadline))
        break;
    if (white && l.t_client && l.t_glass)
      lat[n++] = l.t_client - l.t_glass;
    g_mutex_unlock (&l.lock);
    g_usleep (200 * 1000); /* let a few identical frames pass */
  }

  gst_element_set_state (client, GST_STATE_NULL);
  gst_element_set_state (server, GST_STATE_NULL);
  if (n == 0) {
    g_printerr ("no round completed\n");
    return 1;
  }
  qsort (lat, n, sizeof (gint64), cmp_i64);
  g_print ("%s %sx%s rounds=%u median_ms=%.1f min_ms=%.1f max_ms=%.1f\n",
           argv[1], argv[2], argv[3], n, lat[n / 2] / 1000.0, lat[0] / 1000.0,
           lat[n - 1] / 1000.0);

  gst_object_unref (appsink);
  gst_object_unref (src);
  gst_object_unref (rtsp);
  gst_object_unref (client);
  gst_object_unref (server);
  g_free (url);
  g_free (lat);
  return 0;
}
