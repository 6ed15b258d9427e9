/* shot-bench: the session's screenshot path (supervisor/snapshot.c:
 * GstVideoConverter + pngenc compression-level=1 / jpegenc) side by side
 * with GStreamer's own one-call way, gst_video_convert_sample(), on the
 * same raw frame, interleaved in one run; prints ms per picture and the
 * ratios. bench/screenshot.sh runs it and the end-to-end API timing.
 *
 *   shot-bench [WIDTH HEIGHT [ROUNDS [FORMAT]]]   (default 1920 1080 10 I420)
 *
 * The frame is desktop-like: a flat background, a ball and a clock
 * (videotestsrc pattern=ball + timeoverlay, as pipelines/demo-local.txt). */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapshot.h"

static GstSample *
desktop_frame (gint w, gint h, const gchar *format)
{
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc num-buffers=1 pattern=ball background-color=0xff2b4a6f "
      "foreground-color=0xffe8e8e8 ! video/x-raw,width=%d,height=%d ! "
      "timeoverlay font-desc=\"Sans 24\" ! videoconvert ! "
      "video/x-raw,format=%s ! appsink name=sink",
      w, h, format);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstSample *s;

  gst_element_set_state (p, GST_STATE_PLAYING);
  s = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  return s;
}

static gdouble
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

int
main (int argc, char **argv)
{
  gint w = argc > 2 ? atoi (argv[1]) : 1920,
       h = argc > 2 ? atoi (argv[2]) : 1080;
  gint rounds = argc > 3 ? atoi (argv[3]) : 10;
  const gchar *format = argc > 4 ? argv[4] : "I420";
  GstSample *frame;
  gdouble ours_png = 0, peer_png = 0, ours_jpg = 0, peer_jpg = 0;
  gsize ours_png_bytes = 0, peer_png_bytes = 0;
  GstCaps *png_caps, *jpg_caps;

  gst_init (&argc, &argv);
  frame = desktop_frame (w, h, format);
  if (frame == NULL) {
    g_printerr ("shot-bench: no frame\n");
    return 1;
  }
  png_caps = gst_caps_new_empty_simple ("image/png");
  jpg_caps = gst_caps_new_empty_simple ("image/jpeg");
  for (gint i = 0; i < rounds + 1; i++) {
    GError *error = NULL;
    gint64 t0;
    GBytes *b;
    GstSample *s;
    gdouble a, c, d, e;

    /* interleaved: ours, the peer, ours, the peer (round 0 warms up) */
    t0 = g_get_monotonic_time ();
    b = vms_shot_encode (frame, VMS_IMAGE_PNG, 0, &error);
    a = ms_since (t0);
    g_assert (b);
    ours_png_bytes = g_bytes_get_size (b);
    g_bytes_unref (b);
    t0 = g_get_monotonic_time ();
    s = gst_video_convert_sample (frame, png_caps, 10 * GST_SECOND, &error);
    c = ms_since (t0);
    g_assert (s);
    peer_png_bytes = gst_buffer_get_size (gst_sample_get_buffer (s));
    gst_sample_unref (s);
    t0 = g_get_monotonic_time ();
    b = vms_shot_encode (frame, VMS_IMAGE_JPEG, 0, &error);
    d = ms_since (t0);
    g_bytes_unref (b);
    t0 = g_get_monotonic_time ();
    s = gst_video_convert_sample (frame, jpg_caps, 10 * GST_SECOND, &error);
    e = ms_since (t0);
    gst_sample_unref (s);
    if (i > 0) {
      ours_png += a;
      peer_png += c;
      ours_jpg += d;
      peer_jpg += e;
    }
  }
  printf ("frame %dx%d %s, %d rounds (ms per picture, mean)\n", w, h, format,
          rounds);
  printf ("png   ours %.1f ms (%zu bytes)  gst_video_convert_sample %.1f ms "
          "(%zu bytes)  ratio %.2fx\n",
          ours_png / rounds, ours_png_bytes, peer_png / rounds, peer_png_bytes,
          peer_png / ours_png);
  printf ("jpeg  ours %.1f ms  gst_video_convert_sample %.1f ms  ratio "
          "%.2fx\n",
          ours_jpg / rounds, peer_jpg / rounds, peer_jpg / ours_jpg);
  gst_caps_unref (png_caps);
  gst_caps_unref (jpg_caps);
  gst_sample_unref (frame);
  return 0;
}
