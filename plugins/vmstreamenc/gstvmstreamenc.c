/* vmstreamenc: H.264 encoder bin that picks the best encoder present here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-vmstreamenc
 * @title: vmstreamenc
 *
 * Encodes raw video once to H.264 access units for live viewers: picks the
 * best encoder installed (VideoToolbox on macOS, NVENC, VA-API, then
 * x264enc and openh264enc), configures it for low latency (no B-frames,
 * SPS/PPS with every keyframe, byte-stream access units) and falls through
 * to the next candidate when one cannot start. Force-key-unit events from
 * downstream (a new viewer) reach the encoder, and a copy goes on upstream
 * (a source that pushes only changed pictures then sends one for the
 * keyframe). #GstVmstreamEnc:quality switches from constant bitrate to
 * constant quality with the bitrate as a cap, for screen content.
 *
 * ## Example
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! \
 *     vmstreamenc encoder=auto bitrate=4000 ! tee name=t \
 *     t. ! queue ! wsh264sink port=8765 \
 *     t. ! queue ! rtsph264sink mount=/demo
 * ]|
 */

/* Inside: videoconvert ! video/x-raw,format={NV12,I420} ! <encoder> !
 *         h264parse config-interval=-1 !
 *         capsfilter caps=video/x-h264,stream-format=byte-stream,alignment=au
 *
 * The encoder is chosen when the bin goes from NULL to READY, from the
 * comma-separated preference list in the "encoder" property. Each candidate
 * that is installed gets the live low-latency settings of encoder_table below
 * and, unless probe=false, encodes one small test frame in a private pipeline
 * first: a candidate that is missing or cannot reach PLAYING there (no GPU,
 * no driver, no licence) falls through to the next one. The choice is posted
 * on the bus (GST_MESSAGE_INFO with a sentence, and an element message named
 * "vmstreamenc-selected") and logged. See docs/encoding.md.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstvmstreamenc.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vmstream_enc_debug);
#define GST_CAT_DEFAULT gst_vmstream_enc_debug

#define DEFAULT_ENCODER "auto"
#define DEFAULT_BITRATE 4000
#define DEFAULT_KEY_INT_MAX 60
#define DEFAULT_FALLBACK TRUE
#define DEFAULT_PROBE TRUE
#define PROBE_TIMEOUT (10 * GST_SECOND)

#define H264_OUTPUT_CAPS                                                       \
  "video/x-h264, stream-format=(string)byte-stream, alignment=(string)au"

/* One row per encoder element: how to make it a live, low-latency encoder.
 * bitrate_mult converts the bin's kbit/s into the element's unit.
 * settings is a space-separated list of property=value applied first (a
 * property this version of the element lacks is skipped with a log line).
 * The order of the rows is the "auto" order. */
typedef struct {
  const gchar *alias;
  const gchar *factory;
  const gchar *bitrate_prop;
  guint bitrate_mult;
  const gchar *keyint_prop;
  const gchar *settings;
  /* quality > 0: settings with %u the quality (0-51, lower is better),
   * bitrate then the cap; NULL: this encoder stays at constant bitrate */
  const gchar *quality_settings;
} VmsEncoderInfo;

static const VmsEncoderInfo encoder_table[] = {
  /* VideoToolbox (gst-plugins-bad sys/applemedia/vtenc.c): bitrate
   * in kbit/s, max-keyframe-interval in frames; realtime=true for live
   * output, allow-frame-reordering=false means no B-frames. The profile
   * comes from downstream caps (Main when they leave it open). Force-key-
   * unit events become kVTEncodeFrameOptionKey_ForceKeyFrame. vtenc_h264_hw
   * refuses to run without the hardware encoder; vtenc_h264 may fall back
   * to Apple's software encoder. */
  { "vtenc", "vtenc_h264_hw", "bitrate", 1, "max-keyframe-interval",
    "realtime=true allow-frame-reordering=false", NULL },
  { "vtenc", "vtenc_h264", "bitrate", 1, "max-keyframe-interval",
    "realtime=true allow-frame-reordering=false", NULL },
  { "nvenc", "nvh264enc", "bitrate", 1, "gop-size",
    "preset=low-latency-hq rc-mode=cbr zerolatency=true bframes=0", NULL },
  { "vaapi", "vah264enc", "bitrate", 1, "key-int-max",
    "rate-control=cbr b-frames=0 target-usage=7", NULL },
  { "vaapi", "vaapih264enc", "bitrate", 1, "keyframe-period",
    "rate-control=cbr max-bframes=0", NULL },
  /* pass=qual is x264's constant rate factor (quantizer = the CRF) with
   * bitrate as the VBV maximum: a still or slowly changing screen costs
   * next to nothing, a busy one at most the bitrate. me=umh finds a
   * scrolled text console where superfast's diamond search does not:
   * 2.9 KB instead of 10 KB a frame for the same CPU (docs/encoding.md) */
  { "x264", "x264enc", "bitrate", 1, "key-int-max",
    "tune=zerolatency speed-preset=superfast bframes=0 b-adapt=false "
    "rc-lookahead=0 byte-stream=true",
    "pass=qual quantizer=%u me=umh" },
  { "openh264", "openh264enc", "bitrate", 1000, "gop-size",
    "rate-control=bitrate usage-type=screen complexity=low",
    "rate-control=quality" },
};

struct _GstVmstreamEnc {
  GstBin parent;

  GstElement *convert;
  GstElement *format;  /* capsfilter: 8-bit 4:2:0 into the encoder */
  GstElement *encoder; /* owned by the bin; NULL until selected */
  GstElement *parse;
  GstElement *capsfilter;
  const VmsEncoderInfo *encoder_info; /* NULL for a factory not in the table */

  /* properties, under the object lock */
  gchar *requested;
  guint bitrate;
  guint key_int_max;
  gboolean fallback;
  gboolean probe;
  guint quality;             /* 0: constant bitrate */
  gchar *extra_settings;     /* "prop=value ..." applied after the table */
  gchar *selected;           /* factory name of the chosen encoder */
  gchar *selected_requested; /* value of "encoder" it was chosen for */
};

enum {
  PROP_0,
  PROP_ENCODER,
  PROP_BITRATE,
  PROP_KEY_INT_MAX,
  PROP_FALLBACK,
  PROP_PROBE,
  PROP_QUALITY,
  PROP_ENCODER_SETTINGS,
  PROP_SELECTED_ENCODER,
};

#define ENCODER_INPUT_CAPS "video/x-raw, format=(string){ NV12, I420 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE (
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("video/x-raw"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE (
    "src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (H264_OUTPUT_CAPS));

G_DEFINE_TYPE (GstVmstreamEnc, gst_vmstream_enc, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (vmstreamenc, "vmstreamenc", GST_RANK_NONE,
                             GST_TYPE_VMSTREAM_ENC);

/* A candidate encoder: a table row, or any H.264 encoder factory by name. */
typedef struct {
  const VmsEncoderInfo *info;
  gchar *factory;
  gchar *alias;
  gboolean explicit;
} Candidate;

static void
candidate_free (gpointer data)
{
  Candidate *c = data;

  g_free (c->factory);
  g_free (c->alias);
  g_free (c);
}

static const VmsEncoderInfo *
find_info_by_factory (const gchar *factory)
{
  for (guint i = 0; i < G_N_ELEMENTS (encoder_table); i++)
    if (strcmp (encoder_table[i].factory, factory) == 0)
      return &encoder_table[i];
  return NULL;
}

static gboolean
alias_known (const gchar *alias)
{
  for (guint i = 0; i < G_N_ELEMENTS (encoder_table); i++)
    if (strcmp (encoder_table[i].alias, alias) == 0)
      return TRUE;
  return FALSE;
}

/* TRUE if @factory makes an H.264 video encoder (and is not this bin). */
static gboolean
factory_is_h264_encoder (GstElementFactory *factory)
{
  GstCaps *h264;
  gboolean ret;

  if (strcmp (GST_OBJECT_NAME (factory), "vmstreamenc") == 0)
    return FALSE;
  if (!gst_element_factory_list_is_type (
          factory, GST_ELEMENT_FACTORY_TYPE_VIDEO_ENCODER))
    return FALSE;
  h264 = gst_caps_new_empty_simple ("video/x-h264");
  ret = gst_element_factory_can_src_any_caps (factory, h264);
  gst_caps_unref (h264);
  return ret;
}

static void
add_candidate (GPtrArray *cands, const VmsEncoderInfo *info,
               const gchar *factory, const gchar *alias, gboolean explicit)
{
  Candidate *c;

  for (guint i = 0; i < cands->len; i++) {
    c = g_ptr_array_index (cands, i);
    if (strcmp (c->factory, factory) == 0)
      return;
  }
  c = g_new0 (Candidate, 1);
  c->info = info;
  c->factory = g_strdup (factory);
  c->alias = g_strdup (alias);
  c->explicit = explicit;
  g_ptr_array_add (cands, c);
}

static void
add_auto_candidates (GPtrArray *cands, gboolean explicit)
{
  for (guint i = 0; i < G_N_ELEMENTS (encoder_table); i++)
    add_candidate (cands, &encoder_table[i], encoder_table[i].factory,
                   encoder_table[i].alias, explicit);
}

/* A sentence listing the encoder names usable with this bin on this host. */
static gchar *
describe_available (void)
{
  GString *s = g_string_new ("Names known: auto");
  GString *missing = g_string_new (NULL);
  GList *factories, *l;
  gboolean first_other = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (encoder_table); i++) {
    GstElementFactory *f = gst_element_factory_find (encoder_table[i].factory);
    if (f) {
      g_string_append_printf (s, ", %s (%s)", encoder_table[i].alias,
                              encoder_table[i].factory);
      gst_object_unref (f);
    } else {
      g_string_append_printf (missing, "%s%s (%s)", missing->len ? ", " : "",
                              encoder_table[i].alias, encoder_table[i].factory);
    }
  }
  g_string_append (s, ".");

  factories = gst_element_factory_list_get_elements (
      GST_ELEMENT_FACTORY_TYPE_VIDEO_ENCODER, GST_RANK_NONE);
  for (l = factories; l; l = l->next) {
    GstElementFactory *f = l->data;
    if (!factory_is_h264_encoder (f)
        || find_info_by_factory (GST_OBJECT_NAME (f)))
      continue;
    g_string_append_printf (s, "%s%s",
                            first_other ? " Other H.264 encoder elements here "
                                          "(used with their own defaults): "
                                        : ", ",
                            GST_OBJECT_NAME (f));
    first_other = FALSE;
  }
  gst_plugin_feature_list_free (factories);
  if (!first_other)
    g_string_append (s, ".");
  if (missing->len)
    g_string_append_printf (s, " Not installed here: %s.", missing->str);
  g_string_free (missing, TRUE);
  return g_string_free (s, FALSE);
}

/* Turns the "encoder" property into an ordered candidate list. Returns FALSE
 * and sets @unknown to the first name that is neither an alias nor an H.264
 * encoder element. */
static gboolean
resolve_candidates (const gchar *requested, gboolean fallback, GPtrArray *cands,
                    gchar **unknown)
{
  gchar **names
      = g_strsplit (requested && *requested ? requested : "auto", ",", -1);
  gboolean only_auto = TRUE;

  for (gchar **n = names; *n; n++) {
    gchar *name = g_strstrip (*n);

    if (*name == '\0')
      continue;
    if (strcmp (name, "auto") == 0) {
      add_auto_candidates (cands, TRUE);
      continue;
    }
    only_auto = FALSE;
    if (alias_known (name)) {
      for (guint i = 0; i < G_N_ELEMENTS (encoder_table); i++)
        if (strcmp (encoder_table[i].alias, name) == 0)
          add_candidate (cands, &encoder_table[i], encoder_table[i].factory,
                         name, TRUE);
      continue;
    }
    if (find_info_by_factory (name)) {
      const VmsEncoderInfo *info = find_info_by_factory (name);
      add_candidate (cands, info, name, info->alias, TRUE);
      continue;
    } else {
      GstElementFactory *f = gst_element_factory_find (name);
      gboolean ok = f && factory_is_h264_encoder (f);

      if (f)
        gst_object_unref (f);
      if (!ok) {
        *unknown = g_strdup (name);
        g_strfreev (names);
        return FALSE;
      }
      add_candidate (cands, NULL, name, name, TRUE);
    }
  }
  g_strfreev (names);
  if (cands->len == 0 || (fallback && !only_auto))
    add_auto_candidates (cands, cands->len == 0);
  return TRUE;
}

static void
set_prop_from_string (GstVmstreamEnc *self, GstElement *enc, const gchar *prop,
                      const gchar *value)
{
  if (!g_object_class_find_property (G_OBJECT_GET_CLASS (enc), prop)) {
    GST_INFO_OBJECT (self, "%s has no property '%s' in this version, skipped",
                     GST_OBJECT_NAME (gst_element_get_factory (enc)), prop);
    return;
  }
  GST_DEBUG_OBJECT (self, "%s: %s=%s",
                    GST_OBJECT_NAME (gst_element_get_factory (enc)), prop,
                    value);
  gst_util_set_object_arg (G_OBJECT (enc), prop, value);
}

static void
apply_bitrate (GstVmstreamEnc *self, GstElement *enc,
               const VmsEncoderInfo *info, guint kbps)
{
  gchar *v;

  if (!info || !info->bitrate_prop)
    return;
  v = g_strdup_printf ("%" G_GUINT64_FORMAT,
                       (guint64)kbps * info->bitrate_mult);
  set_prop_from_string (self, enc, info->bitrate_prop, v);
  g_free (v);
}

/* Applies "prop=value prop=value" (space-separated). */
static void
apply_settings (GstVmstreamEnc *self, GstElement *enc, const gchar *list)
{
  gchar **settings;

  if (!list || !*list)
    return;
  settings = g_strsplit_set (list, " \t", -1);
  for (gchar **s = settings; *s; s++) {
    gchar *eq = strchr (*s, '=');
    if (!eq)
      continue;
    *eq = '\0';
    set_prop_from_string (self, enc, *s, eq + 1);
  }
  g_strfreev (settings);
}

static void
configure_encoder (GstVmstreamEnc *self, GstElement *enc,
                   const VmsEncoderInfo *info)
{
  guint bitrate, key_int_max, quality;
  gchar *extra;

  GST_OBJECT_LOCK (self);
  bitrate = self->bitrate;
  key_int_max = self->key_int_max;
  quality = self->quality;
  extra = g_strdup (self->extra_settings);
  GST_OBJECT_UNLOCK (self);

  if (info) {
    apply_settings (self, enc, info->settings);
    apply_bitrate (self, enc, info, bitrate);
    if (key_int_max > 0 && info->keyint_prop) {
      gchar *v = g_strdup_printf ("%u", key_int_max);
      set_prop_from_string (self, enc, info->keyint_prop, v);
      g_free (v);
    }
    if (quality > 0 && info->quality_settings) {
      gchar *q = g_strdup_printf (info->quality_settings, quality);
      apply_settings (self, enc, q);
      g_free (q);
    } else if (quality > 0) {
      GST_INFO_OBJECT (self, "%s has no quality mode here: constant bitrate",
                       info->factory);
    }
  }
  /* the operator's word comes last */
  apply_settings (self, enc, extra);
  g_free (extra);
}

/* Encodes one small frame with @enc in a private pipeline. On failure returns
 * FALSE with a reason. Leaves @enc in NULL state, unparented. */
static gboolean
probe_encoder (GstVmstreamEnc *self, GstElement *enc, gchar **reason)
{
  GstElement *pipeline, *src, *filter, *conv, *sink;
  GstCaps *caps;
  GstBus *bus;
  GstMessage *msg = NULL;
  gboolean ok = FALSE;

  pipeline = gst_pipeline_new ("vmstreamenc-probe");
  src = gst_element_factory_make ("videotestsrc", NULL);
  filter = gst_element_factory_make ("capsfilter", NULL);
  conv = gst_element_factory_make ("videoconvert", NULL);
  sink = gst_element_factory_make ("fakesink", NULL);
  if (!src || !filter || !conv || !sink) {
    *reason = g_strdup ("videotestsrc, capsfilter, videoconvert or fakesink "
                        "is missing, so the encoder could not be tested");
    gst_clear_object (&src);
    gst_clear_object (&filter);
    gst_clear_object (&conv);
    gst_clear_object (&sink);
    gst_object_unref (pipeline);
    return FALSE;
  }
  g_object_set (src, "num-buffers", 1, NULL);
  caps = gst_caps_from_string (
      "video/x-raw,width=320,height=240,framerate=30/1");
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  g_object_set (sink, "sync", FALSE, NULL);

  /* the caller keeps its own reference across the removal below */
  gst_bin_add_many (GST_BIN (pipeline), src, filter, conv, enc, sink, NULL);
  if (!gst_element_link_many (src, filter, conv, enc, sink, NULL)) {
    *reason = g_strdup ("it does not accept raw video or does not produce "
                        "H.264 that fakesink takes");
    goto done;
  }

  bus = gst_element_get_bus (pipeline);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  } else {
    msg = gst_bus_timed_pop_filtered (bus, PROBE_TIMEOUT,
                                      GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  }
  gst_object_unref (bus);

  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    ok = TRUE;
  } else if (msg) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    *reason
        = g_strdup_printf ("could not encode a test frame: %s", err->message);
    g_error_free (err);
  } else {
    *reason = g_strdup ("it failed to start (no error message) or did not "
                        "encode a test frame within 10 s");
  }
  gst_clear_message (&msg);

done:
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (pipeline), enc);
  gst_object_unref (pipeline);
  return ok;
}

static void
remove_encoder (GstVmstreamEnc *self)
{
  if (!self->encoder)
    return;
  gst_element_set_state (self->encoder, GST_STATE_NULL);
  gst_element_unlink_many (self->format, self->encoder, self->parse, NULL);
  gst_bin_remove (GST_BIN (self), self->encoder);
  self->encoder = NULL;
  self->encoder_info = NULL;
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->selected, g_free);
  g_clear_pointer (&self->selected_requested, g_free);
  GST_OBJECT_UNLOCK (self);
}

/* Candidate @c made, configured, probed (when @probe) and linked between
 * the converter and the parser; NULL, with why appended to @rejected,
 * when it cannot be. */
static GstElement *
try_candidate (GstVmstreamEnc *self, const Candidate *c, gboolean probe,
               GString *rejected)
{
  GstElement *enc = gst_element_factory_make (c->factory, "encoder");
  gchar *reason = NULL;

  if (!enc) {
    GST_DEBUG_OBJECT (self, "%s is not installed", c->factory);
    g_string_append_printf (rejected, "%s%s: not installed",
                            rejected->len ? "; " : "", c->factory);
    return NULL;
  }
  gst_object_ref_sink (enc);
  configure_encoder (self, enc, c->info);
  if (probe && !probe_encoder (self, enc, &reason)) {
    GST_WARNING_OBJECT (self, "%s rejected: %s", c->factory, reason);
    g_string_append_printf (rejected, "%s%s: %s", rejected->len ? "; " : "",
                            c->factory, reason);
    g_free (reason);
    gst_object_unref (enc);
    return NULL;
  }

  gst_bin_add (GST_BIN (self), enc);
  if (!gst_element_link_many (self->format, enc, self->parse, NULL)) {
    g_string_append_printf (rejected,
                            "%s%s: cannot be linked between "
                            "videoconvert and h264parse",
                            rejected->len ? "; " : "", c->factory);
    gst_element_set_state (enc, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), enc);
    gst_object_unref (enc);
    return NULL;
  }
  gst_object_unref (enc); /* the bin holds it */
  return enc;
}

/* @enc (of candidate @c) is the encoder now: kept, and said on the bus
 * (info, a warning when it is not the one asked for, the element message,
 * notify::selected-encoder). */
static void
use_encoder (GstVmstreamEnc *self, GstElement *enc, const Candidate *c,
             const gchar *requested, GString *rejected,
             const Candidate *first_explicit)
{
  self->encoder = enc;
  self->encoder_info = c->info;
  GST_OBJECT_LOCK (self);
  self->selected = g_strdup (c->factory);
  self->selected_requested = g_strdup (requested);
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "selected H.264 encoder %s (%s) for '%s'%s%s",
                   c->factory, c->alias, requested,
                   rejected->len ? "; skipped: " : "", rejected->str);
  /* gst-launch-1.0 prints only the debug part of an INFO message */
  GST_ELEMENT_INFO (
      self, STREAM, ENCODE,
      ("Using H.264 encoder %s (%s).", c->factory, c->alias),
      ("Using H.264 encoder %s (%s) for encoder='%s'; skipped: %s", c->factory,
       c->alias, requested, rejected->len ? rejected->str : "none"));
  if (first_explicit && first_explicit != c
      && strcmp (requested, "auto") != 0) {
    GST_ELEMENT_WARNING (
        self, STREAM, ENCODE,
        ("The requested H.264 encoder '%s' is not usable here; using %s "
         "instead.",
         requested, c->factory),
        ("%s", rejected->str));
  }
  gst_element_post_message (
      GST_ELEMENT (self),
      gst_message_new_element (
          GST_OBJECT (self),
          gst_structure_new (GST_VMSTREAM_ENC_MESSAGE_SELECTED, "encoder",
                             G_TYPE_STRING, c->factory, "alias", G_TYPE_STRING,
                             c->alias, "requested", G_TYPE_STRING, requested,
                             "rejected", G_TYPE_STRING, rejected->str, NULL)));
  g_object_notify (G_OBJECT (self), "selected-encoder");
}

static gboolean
select_encoder (GstVmstreamEnc *self)
{
  gchar *requested, *unknown = NULL;
  gboolean fallback, probe, ok = FALSE;
  GPtrArray *cands;
  GString *rejected;
  const Candidate *first_explicit = NULL;

  GST_OBJECT_LOCK (self);
  requested = g_strdup (self->requested);
  fallback = self->fallback;
  probe = self->probe;
  if (self->encoder && g_strcmp0 (requested, self->selected_requested) == 0) {
    GST_OBJECT_UNLOCK (self);
    g_free (requested);
    return TRUE;
  }
  GST_OBJECT_UNLOCK (self);
  remove_encoder (self);

  cands = g_ptr_array_new_with_free_func (candidate_free);
  if (!resolve_candidates (requested, fallback, cands, &unknown)) {
    gchar *avail = describe_available ();
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
                       ("Unknown H.264 encoder '%s'. %s", unknown, avail),
                       ("encoder property: '%s'", requested));
    g_free (avail);
    g_free (unknown);
    g_ptr_array_unref (cands);
    g_free (requested);
    return FALSE;
  }

  rejected = g_string_new (NULL);
  for (guint i = 0; i < cands->len && !ok; i++) {
    const Candidate *c = g_ptr_array_index (cands, i);
    GstElement *enc;

    if (c->explicit && !first_explicit)
      first_explicit = c;
    enc = try_candidate (self, c, probe, rejected);
    if (enc) {
      use_encoder (self, enc, c, requested, rejected, first_explicit);
      ok = TRUE;
    }
  }

  if (!ok) {
    gchar *avail = describe_available ();
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
                       ("No usable H.264 encoder for '%s'. Tried: %s. %s",
                        requested, rejected->str, avail),
                       ("Install gstreamer1.0-plugins-ugly (x264enc) or "
                        "gstreamer1.0-plugins-bad (openh264enc)."));
    g_free (avail);
  }
  g_string_free (rejected, TRUE);
  g_ptr_array_unref (cands);
  g_free (requested);
  return ok;
}

static GstStateChangeReturn
gst_vmstream_enc_change_state (GstElement *element, GstStateChange transition)
{
  GstVmstreamEnc *self = GST_VMSTREAM_ENC (element);

  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !select_encoder (self))
    return GST_STATE_CHANGE_FAILURE;

  return GST_ELEMENT_CLASS (gst_vmstream_enc_parent_class)
      ->change_state (element, transition);
}

static void
gst_vmstream_enc_set_property (GObject *object, guint prop_id,
                               const GValue *value, GParamSpec *pspec)
{
  GstVmstreamEnc *self = GST_VMSTREAM_ENC (object);

  switch (prop_id) {
    case PROP_ENCODER:
      GST_OBJECT_LOCK (self);
      g_free (self->requested);
      self->requested = g_value_dup_string (value);
      if (!self->requested)
        self->requested = g_strdup (DEFAULT_ENCODER);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_BITRATE:
      GST_OBJECT_LOCK (self);
      self->bitrate = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      /* x264enc and openh264enc take a new bitrate while playing */
      if (self->encoder)
        apply_bitrate (self, self->encoder, self->encoder_info,
                       g_value_get_uint (value));
      break;
    case PROP_KEY_INT_MAX:
      GST_OBJECT_LOCK (self);
      self->key_int_max = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FALLBACK:
      GST_OBJECT_LOCK (self);
      self->fallback = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_PROBE:
      GST_OBJECT_LOCK (self);
      self->probe = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_QUALITY:
      GST_OBJECT_LOCK (self);
      self->quality = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_ENCODER_SETTINGS:
      GST_OBJECT_LOCK (self);
      g_free (self->extra_settings);
      self->extra_settings = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_vmstream_enc_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
{
  GstVmstreamEnc *self = GST_VMSTREAM_ENC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENCODER:
      g_value_set_string (value, self->requested);
      break;
    case PROP_BITRATE:
      g_value_set_uint (value, self->bitrate);
      break;
    case PROP_KEY_INT_MAX:
      g_value_set_uint (value, self->key_int_max);
      break;
    case PROP_FALLBACK:
      g_value_set_boolean (value, self->fallback);
      break;
    case PROP_PROBE:
      g_value_set_boolean (value, self->probe);
      break;
    case PROP_QUALITY:
      g_value_set_uint (value, self->quality);
      break;
    case PROP_ENCODER_SETTINGS:
      g_value_set_string (value, self->extra_settings);
      break;
    case PROP_SELECTED_ENCODER:
      g_value_set_string (value, self->selected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vmstream_enc_finalize (GObject *object)
{
  GstVmstreamEnc *self = GST_VMSTREAM_ENC (object);

  g_free (self->requested);
  g_free (self->selected);
  g_free (self->selected_requested);
  g_free (self->extra_settings);
  G_OBJECT_CLASS (gst_vmstream_enc_parent_class)->finalize (object);
}

static GstElement *
make_internal (GstVmstreamEnc *self, const gchar *factory, const gchar *name)
{
  GstElement *e = gst_element_factory_make (factory, name);

  if (e)
    gst_bin_add (GST_BIN (self), e);
  else
    GST_ERROR_OBJECT (self, "%s is missing; vmstreamenc cannot work", factory);
  return e;
}

/* The encoder answers a viewer's force-key-unit request and keeps it;
 * a copy goes on upstream so that a source that pushes only new pictures
 * (qemudisplaysrc new-pictures-only) sends one now for that keyframe. The
 * request is delivered to the encoder first (upstream events travel in
 * the caller's thread, so it is registered when gst_pad_send_event()
 * returns), and only then the copy: the other way round the source's
 * picture could pass the encoder before its request and come out a delta
 * frame, and an idle source sends no other (seen under AddressSanitizer). */
static GstPadProbeReturn
forward_key_request (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  GstPad *sink = user_data;
  GstPad *target;
  GstEvent *copy;

  if (GST_EVENT_TYPE (ev) != GST_EVENT_CUSTOM_UPSTREAM
      || !gst_event_has_name (ev, "GstForceKeyUnit"))
    return GST_PAD_PROBE_OK;
  target = gst_ghost_pad_get_target (GST_GHOST_PAD (pad));
  if (target == NULL)
    return GST_PAD_PROBE_OK;
  copy = gst_event_new_custom (
      GST_EVENT_CUSTOM_UPSTREAM,
      gst_structure_copy (gst_event_get_structure (ev)));
  /* HANDLED: the probe owns @ev; the target gets it, then the copy goes */
  gst_pad_send_event (target, ev);
  gst_object_unref (target);
  gst_pad_push_event (sink, copy);
  return GST_PAD_PROBE_HANDLED;
}

static void
gst_vmstream_enc_init (GstVmstreamEnc *self)
{
  GstPad *target, *ghost, *sinkghost;
  GstCaps *caps;

  self->requested = g_strdup (DEFAULT_ENCODER);
  self->bitrate = DEFAULT_BITRATE;
  self->key_int_max = DEFAULT_KEY_INT_MAX;
  self->fallback = DEFAULT_FALLBACK;
  self->probe = DEFAULT_PROBE;

  self->convert = make_internal (self, "videoconvert", "convert");
  self->format = make_internal (self, "capsfilter", "format");
  self->parse = make_internal (self, "h264parse", "parse");
  self->capsfilter = make_internal (self, "capsfilter", "caps");

  if (self->parse)
    g_object_set (self->parse, "config-interval", -1, NULL);
  if (self->capsfilter) {
    caps = gst_caps_from_string (H264_OUTPUT_CAPS);
    g_object_set (self->capsfilter, "caps", caps, NULL);
    gst_caps_unref (caps);
  }
  if (self->parse && self->capsfilter)
    gst_element_link (self->parse, self->capsfilter);
  /* Browsers decode 8-bit 4:2:0 only (Baseline/Main/High); left free,
   * x264enc picks High 4:4:4 for RGB sources such as ximagesrc. */
  if (self->format) {
    caps = gst_caps_from_string (ENCODER_INPUT_CAPS);
    g_object_set (self->format, "caps", caps, NULL);
    gst_caps_unref (caps);
  }
  if (self->convert && self->format)
    gst_element_link (self->convert, self->format);

  target = self->convert ? gst_element_get_static_pad (self->convert, "sink")
                         : NULL;
  ghost = gst_ghost_pad_new_from_template (
      "sink", target, gst_static_pad_template_get (&sink_template));
  gst_element_add_pad (GST_ELEMENT (self), ghost);
  gst_clear_object (&target);
  sinkghost = ghost;

  target = self->capsfilter
               ? gst_element_get_static_pad (self->capsfilter, "src")
               : NULL;
  ghost = gst_ghost_pad_new_from_template (
      "src", target, gst_static_pad_template_get (&src_template));
  gst_element_add_pad (GST_ELEMENT (self), ghost);
  gst_pad_add_probe (ghost, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
                     forward_key_request, sinkghost, NULL);
  gst_clear_object (&target);
}

static void
gst_vmstream_enc_class_init (GstVmstreamEncClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_vmstream_enc_set_property;
  gobject_class->get_property = gst_vmstream_enc_get_property;
  gobject_class->finalize = gst_vmstream_enc_finalize;

  g_object_class_install_property (
      gobject_class, PROP_ENCODER,
      g_param_spec_string (
          "encoder", "Encoder",
          "Which H.264 encoder to use, as a comma-separated preference list. "
          "Each item is 'auto' (vtenc, nvenc, vaapi, x264, openh264 in that "
          "order), one of those names, or an H.264 encoder element factory "
          "name such as x264enc. Read when going from NULL to READY; an "
          "unknown name is an error that lists the encoders present here",
          DEFAULT_ENCODER,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_BITRATE,
      g_param_spec_uint (
          "bitrate", "Bitrate",
          "Target bitrate in kbit/s, converted to the unit of the chosen "
          "encoder (openh264enc counts bit/s). Can be changed while playing "
          "when the encoder allows it",
          1, 2000000, DEFAULT_BITRATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (
      gobject_class, PROP_KEY_INT_MAX,
      g_param_spec_uint (
          "key-int-max", "Maximum keyframe interval",
          "Largest distance between two keyframes, in frames (0 = the "
          "encoder's own default). Each keyframe carries SPS/PPS; clients "
          "joining also get a keyframe on request, see rtsph264sink and "
          "wsh264sink",
          0, G_MAXINT, DEFAULT_KEY_INT_MAX,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_FALLBACK,
      g_param_spec_boolean (
          "fallback", "Fallback",
          "When none of the encoders named in 'encoder' works here, go on "
          "with the 'auto' order instead of failing (a bus warning says so)",
          DEFAULT_FALLBACK,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_PROBE,
      g_param_spec_boolean (
          "probe", "Probe",
          "Encode one 320x240 test frame with each candidate in a private "
          "pipeline before choosing it, so that an encoder that is installed "
          "but cannot run here (no GPU, no driver) falls through to the next",
          DEFAULT_PROBE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_QUALITY,
      g_param_spec_uint (
          "quality", "Quality",
          "0: constant bitrate (the bitrate property). 1-51: constant "
          "quality for screen content, lower is better (x264enc: its CRF, "
          "pass=qual quantizer=N me=umh, with bitrate as the cap; openh264enc: "
          "rate-control=quality); a still screen then costs almost no bits. "
          "Hardware encoders stay at constant bitrate",
          0, 51, 0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_ENCODER_SETTINGS,
      g_param_spec_string (
          "encoder-settings", "Encoder settings",
          "Extra property=value pairs for the chosen encoder, separated by "
          "spaces, applied after the built-in low-latency table (e.g. "
          "\"speed-preset=ultrafast\" for x264enc). A property the chosen "
          "element does not have is skipped with a log line",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
              | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (
      gobject_class, PROP_SELECTED_ENCODER,
      g_param_spec_string (
          "selected-encoder", "Selected encoder",
          "Element factory name of the encoder in use (NULL until the bin "
          "reached READY). Also posted on the bus as an element message "
          "named " GST_VMSTREAM_ENC_MESSAGE_SELECTED,
          NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  element_class->change_state
      = GST_DEBUG_FUNCPTR (gst_vmstream_enc_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (
      element_class, "vmstream H.264 encoder", "Codec/Encoder/Video/Bin",
      "Encodes raw video to H.264 access units for live streaming with the "
      "best encoder present (hardware first, then x264enc, openh264enc), "
      "configured for low latency: no B-frames, SPS/PPS with every keyframe",
      "vmstream");

  GST_DEBUG_CATEGORY_INIT (gst_vmstream_enc_debug, "vmstreamenc", 0,
                           "vmstream H.264 encoder bin");
}

static gboolean
plugin_init (GstPlugin *plugin)
{
  return GST_ELEMENT_REGISTER (vmstreamenc, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vmstreamenc,
                   "H.264 encoder selection with fallback for vmstream",
                   plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME,
                   GST_PACKAGE_ORIGIN)
