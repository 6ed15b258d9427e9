/* e2e-launch: gst-launch-1.0 for bench/e2e-latency.sh. Runs one pipeline
 * description until SIGINT/SIGTERM or EOS, prints "port N" when a
 * wsh264sink in it listens, and with --stamp NAME attaches the capture
 * time to every buffer leaving element NAME the way vsocksrc does after a
 * vsock hop: a GstReferenceTimestampMeta with caps timestamp/x-unix, the
 * Unix time at which the live source captured the frame (now minus the
 * buffer's age on the pipeline clock, as vsocksink computes it). That
 * makes the one-process peer report capture->decode like the vsock path.
 *
 *   e2e-launch [--stamp NAME] PIPELINE-DESCRIPTION...
 */
#include "vmslaunch.h"

#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

static GstElement *pipeline;
static GstCaps *unix_ts_caps;
static GstSegment segment;
static int exit_code;

static GstPadProbeReturn
on_event (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

  if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
    const GstSegment *s;
    gst_event_parse_segment (ev, &s);
    gst_segment_copy_into (s, &segment);
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstClock *clock;
  guint64 real = (guint64)g_get_real_time () * GST_USECOND;

  if (gst_buffer_get_reference_timestamp_meta (buf, unix_ts_caps))
    return GST_PAD_PROBE_OK;
  clock = gst_element_get_clock (pipeline);
  if (clock && GST_BUFFER_PTS_IS_VALID (buf)) {
    GstClockTime rt = gst_segment_to_running_time (&segment, GST_FORMAT_TIME,
                                                   GST_BUFFER_PTS (buf));
    GstClockTime now = gst_clock_get_time (clock);
    GstClockTime base = gst_element_get_base_time (pipeline);
    if (GST_CLOCK_TIME_IS_VALID (rt) && now >= base + rt
        && now - base - rt < 10 * GST_SECOND)
      real -= now - base - rt;
  }
  if (clock)
    gst_object_unref (clock);
  buf = gst_buffer_make_writable (buf);
  gst_buffer_add_reference_timestamp_meta (buf, unix_ts_caps, real,
                                           GST_CLOCK_TIME_NONE);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static void
on_element (GstMessage *msg, gpointer user_data)
{
  const GstStructure *s = gst_message_get_structure (msg);
  guint port;

  if (s && gst_structure_has_name (s, "wsh264sink-listening")
      && gst_structure_get_uint (s, "port", &port)) {
    printf ("port %u\n", port);
    fflush (stdout);
  }
}

int
main (int argc, char **argv)
{
  const gchar *stamp = NULL;
  GError *err = NULL;
  gchar *desc;
  int first = 1;

  gst_init (&argc, &argv);
  if (argc > 2 && strcmp (argv[1], "--stamp") == 0) {
    stamp = argv[2];
    first = 3;
  }
  if (first >= argc) {
    fprintf (stderr, "usage: %s [--stamp NAME] PIPELINE...\n", argv[0]);
    return 2;
  }
  desc = g_strjoinv (" ", argv + first);
  pipeline = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!pipeline) {
    fprintf (stderr, "e2e-launch: %s\n", err->message);
    return 1;
  }
  unix_ts_caps = gst_caps_new_empty_simple ("timestamp/x-unix");
  gst_segment_init (&segment, GST_FORMAT_TIME);
  if (stamp) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), stamp);
    GstPad *pad = e ? gst_element_get_static_pad (e, "src") : NULL;
    if (!pad) {
      fprintf (stderr, "e2e-launch: no element \"%s\" with a src pad\n", stamp);
      return 1;
    }
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_event, NULL,
                       NULL);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, NULL, NULL);
    gst_object_unref (pad);
    gst_object_unref (e);
  }
  exit_code = vms_launch_run (pipeline, "e2e-launch", on_element, NULL);
  gst_object_unref (pipeline);
  gst_caps_unref (unix_ts_caps);
  return exit_code;
}
