/* vmstreamenc: encoder selection, fallback, settings table, output format.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <gst/video/navigation.h>
#include <string.h>

#include "../vmstest.h"

/* ---- an encoder that is installed but cannot start (like nvh264enc on a
 * machine without a GPU) ---- */
typedef struct {
  GstElement parent;
} VmsTestBrokenEnc;
typedef struct {
  GstElementClass parent_class;
} VmsTestBrokenEncClass;

static GType vms_test_broken_enc_get_type (void);
G_DEFINE_TYPE (VmsTestBrokenEnc, vms_test_broken_enc, GST_TYPE_ELEMENT);

static GstStaticPadTemplate broken_sink = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));
static GstStaticPadTemplate broken_src = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-h264"));

static GstStateChangeReturn
broken_change_state (GstElement *element, GstStateChange transition)
{
  if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ_WRITE,
                       ("No encoder device (test)."), (NULL));
    return GST_STATE_CHANGE_FAILURE;
  }
  return GST_ELEMENT_CLASS (vms_test_broken_enc_parent_class)
      ->change_state (element, transition);
}

static void
vms_test_broken_enc_init (VmsTestBrokenEnc *self)
{
  gst_element_add_pad (GST_ELEMENT (self),
                       gst_pad_new_from_static_template (&broken_sink, "sink"));
  gst_element_add_pad (GST_ELEMENT (self),
                       gst_pad_new_from_static_template (&broken_src, "src"));
}

static void
vms_test_broken_enc_class_init (VmsTestBrokenEncClass *klass)
{
  GstElementClass *ec = GST_ELEMENT_CLASS (klass);

  ec->change_state = broken_change_state;
  gst_element_class_add_static_pad_template (ec, &broken_sink);
  gst_element_class_add_static_pad_template (ec, &broken_src);
  gst_element_class_set_static_metadata (ec, "broken test encoder",
                                         "Codec/Encoder/Video",
                                         "Fails to start", "vmstream tests");
}

/* ---- helpers ---- */

#define have vms_test_have_element

/* First factory of the software part of the auto order that exists here. */
static const gchar *
first_software_encoder (void)
{
  if (have ("x264enc"))
    return "x264enc";
  if (have ("openh264enc"))
    return "openh264enc";
  return NULL;
}

typedef struct {
  GstElement *pipeline;
  GstElement *enc;
  GstElement *sink;
} Pipe;

static Pipe
make_pipe (const gchar *encoder_prop, guint num_buffers)
{
  Pipe p;
  gchar *desc
      = g_strdup_printf ("videotestsrc num-buffers=%u ! "
                         "video/x-raw,width=320,height=240,framerate=30/1 ! "
                         "vmstreamenc name=enc encoder=%s ! "
                         "appsink name=sink sync=false wait-on-eos=false",
                         num_buffers, encoder_prop);
  GError *err = NULL;

  p.pipeline = gst_parse_launch (desc, &err);
  g_free (desc);
  fail_unless (p.pipeline != NULL, "parse: %s", err ? err->message : "?");
  p.enc = gst_bin_get_by_name (GST_BIN (p.pipeline), "enc");
  p.sink = gst_bin_get_by_name (GST_BIN (p.pipeline), "sink");
  return p;
}

static void
free_pipe (Pipe *p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_object_unref (p->enc);
  gst_object_unref (p->sink);
  gst_object_unref (p->pipeline);
}

/* Pops messages until the one of @type (or an error, or timeout). */
static GstMessage *
wait_for (GstElement *pipeline, GstMessageType type)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
                                              type | GST_MESSAGE_ERROR);

  gst_object_unref (bus);
  return m;
}

/* The "vmstreamenc-selected" element message, from the messages posted up
 * to EOS (or error). */
static GstStructure *
find_selected_message (GstElement *pipeline, gboolean *saw_warning)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstStructure *found = NULL;
  GstMessage *m;
  gboolean end = FALSE;

  *saw_warning = FALSE;
  while (!end && (m = gst_bus_timed_pop (bus, 30 * GST_SECOND))) {
    end = GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS
          || GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR;
    fail_if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR, "error on the bus");
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_message_has_name (m, "vmstreamenc-selected") && !found)
      found = gst_structure_copy (gst_message_get_structure (m));
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING)
      *saw_warning = TRUE;
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  return found;
}

static gchar *
selected (GstElement *enc)
{
  gchar *s = NULL;

  g_object_get (enc, "selected-encoder", &s, NULL);
  return s;
}

/* ---- tests ---- */

GST_START_TEST (test_auto_encodes_byte_stream_au)
{
  const gchar *expect = first_software_encoder ();
  Pipe p;
  GstSample *sample;
  GstCaps *caps;
  GstStructure *s, *sel;
  GstMapInfo map;
  gboolean warned, has_sps = FALSE, has_idr = FALSE;
  gchar *name;

  fail_unless (expect != NULL, "neither x264enc nor openh264enc is installed: "
                               "run tools/install-deps.sh");
  p = make_pipe ("auto", 5);
  fail_unless (gst_element_set_state (p.pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  name = selected (p.enc);
  /* no hardware encoder works on the test machines */
  if (!have ("nvh264enc") && !have ("vah264enc") && !have ("vaapih264enc")
      && !have ("vtenc_h264_hw") && !have ("vtenc_h264"))
    fail_unless_equals_string (name, expect);
  sel = find_selected_message (p.pipeline, &warned);
  fail_unless (sel != NULL, "no vmstreamenc-selected message on the bus");
  fail_unless_equals_string (gst_structure_get_string (sel, "encoder"), name);
  fail_unless_equals_string (gst_structure_get_string (sel, "requested"),
                             "auto");
  fail_if (warned, "auto selection must not warn");
  gst_structure_free (sel);
  g_free (name);

  sample = gst_app_sink_pull_sample (GST_APP_SINK (p.sink));
  fail_unless (sample != NULL);
  caps = gst_sample_get_caps (sample);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "video/x-h264"));
  fail_unless_equals_string (gst_structure_get_string (s, "stream-format"),
                             "byte-stream");
  fail_unless_equals_string (gst_structure_get_string (s, "alignment"), "au");

  /* first access unit: keyframe carrying SPS (7) and an IDR slice (5) */
  fail_if (GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (sample),
                                   GST_BUFFER_FLAG_DELTA_UNIT));
  fail_unless (
      gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ));
  for (gsize i = 0; i + 3 < map.size; i++) {
    if (map.data[i] == 0 && map.data[i + 1] == 0 && map.data[i + 2] == 1) {
      guint type = map.data[i + 3] & 0x1f;
      has_sps |= type == 7;
      has_idr |= type == 5;
    }
  }
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  fail_unless (has_sps && has_idr, "first AU lacks SPS or IDR");
  gst_sample_unref (sample);
  free_pipe (&p);
}

GST_END_TEST;

/* RGB desktops (ximagesrc gives BGRx) must still come out as a profile a
 * browser decodes: 8-bit 4:2:0, never High 4:4:4. */
GST_START_TEST (test_rgb_input_gives_browser_profile)
{
  const gchar *encoders[] = { "x264enc", "openh264enc" };
  const gchar *ok_profiles[]
      = { "constrained-baseline", "baseline", "main", "high", NULL };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (encoders); i++) {
    gchar *desc;
    GstElement *pipeline, *sink;
    GstSample *sample;
    const gchar *profile;

    if (!have (encoders[i]))
      continue;
    desc = g_strdup_printf (
        "videotestsrc num-buffers=2 ! "
        "video/x-raw,format=BGRx,width=320,height=240 ! vmstreamenc "
        "encoder=%s ! appsink name=sink",
        encoders[i]);
    pipeline = gst_parse_launch (desc, NULL);
    fail_unless (pipeline != NULL);
    sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    fail_unless (sample != NULL, "%s produced nothing", encoders[i]);
    profile = gst_structure_get_string (
        gst_caps_get_structure (gst_sample_get_caps (sample), 0), "profile");
    fail_unless (profile != NULL);
    fail_unless (g_strv_contains (ok_profiles, profile),
                 "%s made profile %s from BGRx", encoders[i], profile);
    gst_sample_unref (sample);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (sink);
    gst_object_unref (pipeline);
    g_free (desc);
  }
}

GST_END_TEST;

GST_START_TEST (test_missing_encoder_falls_back)
{
  const gchar *expect = first_software_encoder ();
  Pipe p;
  GstStructure *sel;
  gboolean warned;
  gchar *name;

  fail_unless (expect != NULL, "neither x264enc nor openh264enc is installed: "
                               "run tools/install-deps.sh");
  if (have ("nvh264enc")) {
    /* not a failure, not a pass: this machine has NVENC, say so */
    g_print ("NOT APPLICABLE: test_nvenc_fallback needs nvh264enc absent\n");
    return;
  }
  p = make_pipe ("nvenc", 3);
  fail_unless (gst_element_set_state (p.pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  name = selected (p.enc);
  fail_unless_equals_string (name, expect);
  sel = find_selected_message (p.pipeline, &warned);
  fail_unless (sel != NULL);
  fail_unless (warned, "falling back from a named encoder must warn");
  fail_unless (strstr (gst_structure_get_string (sel, "rejected"),
                       "nvh264enc: not installed")
               != NULL);
  gst_structure_free (sel);
  g_free (name);
  free_pipe (&p);
}

GST_END_TEST;

GST_START_TEST (test_broken_encoder_falls_through)
{
  Pipe p;
  GstStructure *sel;
  gboolean warned;
  gchar *name;
  const gchar *next;

  fail_unless (have ("openh264enc") || have ("x264enc"),
               "neither x264enc nor openh264enc is installed: run "
               "tools/install-deps.sh");
  next = have ("openh264enc") ? "openh264enc" : "x264enc";
  /* installed but cannot reach PLAYING: skipped, the next one is used */
  p = make_pipe (have ("openh264enc") ? "vmstestbrokenenc,openh264"
                                      : "vmstestbrokenenc,x264",
                 3);
  fail_unless (gst_element_set_state (p.pipeline, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  name = selected (p.enc);
  fail_unless_equals_string (name, next);
  sel = find_selected_message (p.pipeline, &warned);
  fail_unless (sel != NULL);
  fail_unless (warned);
  fail_unless (strstr (gst_structure_get_string (sel, "rejected"),
                       "No encoder device (test)")
                   != NULL,
               "rejected: %s", gst_structure_get_string (sel, "rejected"));
  gst_structure_free (sel);
  g_free (name);
  free_pipe (&p);
}

GST_END_TEST;

GST_START_TEST (test_no_fallback_fails)
{
  Pipe p = make_pipe ("vmstestbrokenenc", 3);
  GstMessage *m;
  GError *err = NULL;

  g_object_set (p.enc, "fallback", FALSE, NULL);
  fail_unless_equals_int (gst_element_set_state (p.pipeline, GST_STATE_PLAYING),
                          GST_STATE_CHANGE_FAILURE);
  m = wait_for (p.pipeline, GST_MESSAGE_ERROR);
  fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR);
  gst_message_parse_error (m, &err, NULL);
  fail_unless (strstr (err->message, "No usable H.264 encoder") != NULL, "%s",
               err->message);
  g_error_free (err);
  gst_message_unref (m);
  free_pipe (&p);
}

GST_END_TEST;

GST_START_TEST (test_unknown_name_lists_available)
{
  Pipe p = make_pipe ("nosuchencoder", 3);
  GstMessage *m;
  GError *err = NULL;
  const gchar *present = first_software_encoder ();

  fail_unless_equals_int (gst_element_set_state (p.pipeline, GST_STATE_PLAYING),
                          GST_STATE_CHANGE_FAILURE);
  m = wait_for (p.pipeline, GST_MESSAGE_ERROR);
  fail_unless (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR);
  gst_message_parse_error (m, &err, NULL);
  fail_unless (strstr (err->message, "'nosuchencoder'") != NULL, "%s",
               err->message);
  if (present)
    fail_unless (strstr (err->message, present) != NULL, "%s", err->message);
  if (!have ("nvh264enc"))
    fail_unless (strstr (err->message, "Not installed here") != NULL
                     && strstr (err->message, "nvh264enc") != NULL,
                 "%s", err->message);
  g_error_free (err);
  gst_message_unref (m);
  fail_unless (selected (p.enc) == NULL);
  free_pipe (&p);
}

GST_END_TEST;

GST_START_TEST (test_explicit_order_and_settings)
{
  GstElement *enc, *inner;
  guint bitrate = 0, keyint = 0, bframes = 99;
  gint gop = 0;

  enc = gst_element_factory_make ("vmstreamenc", NULL);
  fail_unless (enc != NULL);
  g_object_set (enc, "bitrate", 1234, "key-int-max", 17, NULL);

  if (have ("x264enc")) {
    g_object_set (enc, "encoder", "x264", NULL);
    fail_unless (gst_element_set_state (enc, GST_STATE_READY)
                 == GST_STATE_CHANGE_SUCCESS);
    inner = gst_bin_get_by_name (GST_BIN (enc), "encoder");
    g_object_get (inner, "bitrate", &bitrate, "key-int-max", &keyint, "bframes",
                  &bframes, NULL);
    fail_unless_equals_int (bitrate, 1234);
    fail_unless_equals_int (keyint, 17);
    fail_unless_equals_int (bframes, 0);
    /* operator settings come after the table */
    {
      gint preset = 0;
      gst_element_set_state (enc, GST_STATE_NULL);
      g_object_set (enc, "encoder", "x264enc", "encoder-settings",
                    "speed-preset=ultrafast", NULL);
      fail_unless (gst_element_set_state (enc, GST_STATE_READY)
                   == GST_STATE_CHANGE_SUCCESS);
      gst_object_unref (inner);
      inner = gst_bin_get_by_name (GST_BIN (enc), "encoder");
      g_object_get (inner, "speed-preset", &preset, NULL);
      fail_unless_equals_int (preset, 1); /* ultrafast */
      g_object_set (enc, "encoder-settings", NULL, NULL);
    }
    /* bitrate follows while running */
    g_object_set (enc, "bitrate", 2500, NULL);
    g_object_get (inner, "bitrate", &bitrate, NULL);
    fail_unless_equals_int (bitrate, 2500);
    gst_object_unref (inner);
    gst_element_set_state (enc, GST_STATE_NULL);
  }

  if (have ("openh264enc")) {
    g_object_set (enc, "encoder", "openh264,x264", "bitrate", 1234, NULL);
    fail_unless (gst_element_set_state (enc, GST_STATE_READY)
                 == GST_STATE_CHANGE_SUCCESS);
    inner = gst_bin_get_by_name (GST_BIN (enc), "encoder");
    fail_unless_equals_string (
        GST_OBJECT_NAME (gst_element_get_factory (inner)), "openh264enc");
    g_object_get (inner, "bitrate", &bitrate, "gop-size", &gop, NULL);
    fail_unless_equals_int (bitrate, 1234000); /* openh264 counts bit/s */
    fail_unless_equals_int (gop, 17);
    gst_object_unref (inner);
    gst_element_set_state (enc, GST_STATE_NULL);
  }
  gst_object_unref (enc);
}

GST_END_TEST;

/* A downstream keyframe request (what rtsph264sink and wsh264sink send when
 * a client joins) must give a keyframe with SPS/PPS on the next frames. */
GST_START_TEST (test_force_key_unit_gives_keyframe)
{
  GstHarness *h;
  GstBuffer *out;
  guint i, key_at = 0, n_out = 0;

  fail_unless (first_software_encoder () != NULL,
               "neither x264enc nor openh264enc is installed: run "
               "tools/install-deps.sh");
  h = gst_harness_new ("vmstreamenc");
  gst_util_set_object_arg (G_OBJECT (h->element), "key-int-max", "1000");
  gst_harness_set_src_caps_str (
      h, "video/x-raw,format=I420,width=320,height=240,framerate=30/1");

  for (i = 0; i < 40; i++) {
    GstBuffer *in = gst_harness_create_buffer (h, 320 * 240 * 3 / 2);
    GST_BUFFER_PTS (in) = i * GST_SECOND / 30;
    GST_BUFFER_DURATION (in) = GST_SECOND / 30;
    gst_buffer_memset (in, 0, (guint8)(i * 5), 320 * 240 * 3 / 2);
    if (i == 20)
      fail_unless (gst_harness_push_upstream_event (
          h, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
                                                          TRUE, 1)));
    fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
    while ((out = gst_harness_try_pull (h))) {
      /* zerolatency encoders give one access unit per input frame */
      guint n = n_out++;
      if (!GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DELTA_UNIT) && n > 0
          && !key_at)
        key_at = n;
      gst_buffer_unref (out);
    }
  }
  fail_unless (key_at >= 20 && key_at <= 23,
               "keyframe after the request came at frame %u", key_at);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Upstream events from the sinks (navigation from wsh264sink per the input
 * contract, keyframe requests) pass through the bin to the source. */
GST_START_TEST (test_navigation_passes_upstream)
{
  GstHarness *h;
  GstEvent *ev;
  GstBuffer *in;
  gboolean got_nav = FALSE;

  fail_unless (first_software_encoder () != NULL,
               "neither x264enc nor openh264enc is installed: run "
               "tools/install-deps.sh");
  h = gst_harness_new ("vmstreamenc");
  gst_harness_set_src_caps_str (
      h, "video/x-raw,format=I420,width=320,height=240,framerate=30/1");
  in = gst_harness_create_buffer (h, 320 * 240 * 3 / 2);
  GST_BUFFER_PTS (in) = 0;
  gst_buffer_memset (in, 0, 0x80, 320 * 240 * 3 / 2);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  fail_unless (gst_harness_push_upstream_event (
      h, gst_navigation_event_new_mouse_button_press (
             1, 10.0, 20.0, GST_NAVIGATION_MODIFIER_NONE)));
  while ((ev = gst_harness_try_pull_upstream_event (h))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_NAVIGATION
        && gst_navigation_event_get_type (ev)
               == GST_NAVIGATION_EVENT_MOUSE_BUTTON_PRESS)
      got_nav = TRUE;
    gst_event_unref (ev);
  }
  fail_unless (got_nav, "navigation event did not reach the source side");
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
vmstreamenc_suite (void)
{
  Suite *s = suite_create ("vmstreamenc");
  TCase *tc = tcase_create ("general");

  gst_element_register (NULL, "vmstestbrokenenc", GST_RANK_NONE,
                        vms_test_broken_enc_get_type ());

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_auto_encodes_byte_stream_au);
  tcase_add_test (tc, test_missing_encoder_falls_back);
  tcase_add_test (tc, test_rgb_input_gives_browser_profile);
  tcase_add_test (tc, test_broken_encoder_falls_through);
  tcase_add_test (tc, test_no_fallback_fails);
  tcase_add_test (tc, test_unknown_name_lists_available);
  tcase_add_test (tc, test_explicit_order_and_settings);
  tcase_add_test (tc, test_force_key_unit_gives_keyframe);
  tcase_add_test (tc, test_navigation_passes_upstream);
  return s;
}

GST_CHECK_MAIN (vmstreamenc);
