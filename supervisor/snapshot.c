/* vmstream-session: the latest raw frame before the encoder, as an image
 * (see snapshot.h). */
#include "snapshot.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (vms_shot_debug);
#define GST_CAT_DEFAULT vms_shot_debug

struct _VmsShot {
  GstPad *pad; /* the encoder's sink pad, probed */
  gulong probe_id;
  GMutex lock;
  GstCaps *caps;      /* lock: the caps of the stream at the pad */
  GstBuffer *last;    /* lock: the last raw frame */
  GstCaps *last_caps; /* lock: the caps of @last */
};

static GstPadProbeReturn
shot_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  VmsShot *shot = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    g_mutex_lock (&shot->lock);
    /* a reference, not a copy: the frame is freed when the next arrives */
    gst_buffer_replace (&shot->last, buf);
    gst_caps_replace (&shot->last_caps, shot->caps);
    g_mutex_unlock (&shot->lock);
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps (ev, &caps);
      g_mutex_lock (&shot->lock);
      gst_caps_replace (&shot->caps, caps);
      g_mutex_unlock (&shot->lock);
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_FLUSH_STOP) {
      g_mutex_lock (&shot->lock);
      gst_buffer_replace (&shot->last, NULL);
      g_mutex_unlock (&shot->lock);
    }
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
is_encoder (GstElement *e, gboolean vmstreamenc_only)
{
  GstElementFactory *f = gst_element_get_factory (e);

  if (f == NULL)
    return FALSE;
  if (vmstreamenc_only)
    return strcmp (GST_OBJECT_NAME (f), "vmstreamenc") == 0;
  return gst_element_factory_list_is_type (
      f,
      GST_ELEMENT_FACTORY_TYPE_ENCODER | GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO);
}

/* The element named "shot", else the outermost vmstreamenc, else the first
 * video encoder; a new reference. */
static GstElement *
find_encoder (GstElement *pipeline)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), "shot");

  for (gint pass = 0; e == NULL && pass < 2; pass++) {
    GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
    GValue v = G_VALUE_INIT;
    while (e == NULL && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
      GstElement *c = g_value_get_object (&v);
      if (is_encoder (c, pass == 0))
        e = gst_object_ref (c);
      g_value_reset (&v);
    }
    g_value_unset (&v);
    gst_iterator_free (it);
  }
  return e;
}

VmsShot *
vms_shot_new (GstElement *pipeline)
{
  g_autoptr (GstElement) enc = NULL;
  GstPad *pad;
  VmsShot *shot;

  GST_DEBUG_CATEGORY_INIT (vms_shot_debug, "vmstream-shot", 0,
                           "vmstream session screenshots");
  enc = find_encoder (pipeline);
  if (enc == NULL)
    return NULL;
  pad = gst_element_get_static_pad (enc, "sink");
  if (pad == NULL)
    return NULL;
  shot = g_new0 (VmsShot, 1);
  g_mutex_init (&shot->lock);
  shot->pad = pad;
  shot->probe_id = gst_pad_add_probe (
      pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
      shot_probe, shot, NULL);
  GST_INFO ("screenshots from the input of %s", GST_OBJECT_NAME (enc));
  return shot;
}

void
vms_shot_free (VmsShot *shot)
{
  if (shot == NULL)
    return;
  gst_pad_remove_probe (shot->pad, shot->probe_id);
  gst_object_unref (shot->pad);
  gst_buffer_replace (&shot->last, NULL);
  gst_caps_replace (&shot->caps, NULL);
  gst_caps_replace (&shot->last_caps, NULL);
  g_mutex_clear (&shot->lock);
  g_free (shot);
}

GstSample *
vms_shot_latest (VmsShot *shot)
{
  GstSample *sample = NULL;

  g_mutex_lock (&shot->lock);
  if (shot->last && shot->last_caps)
    sample = gst_sample_new (shot->last, shot->last_caps, NULL, NULL);
  g_mutex_unlock (&shot->lock);
  return sample;
}

/* @in converted and scaled to @out_info in one pass (GstVideoConverter,
 * threads: a 1080p frame is ~3 ms on two cores). */
static GstBuffer *
convert (GstBuffer *in, GstVideoInfo *in_info, GstVideoInfo *out_info,
         GError **error)
{
  GstVideoFrame src, dst;
  GstBuffer *out = gst_buffer_new_allocate (NULL, out_info->size, NULL);
  GstVideoConverter *conv;
  guint threads = MIN (g_get_num_processors (), 4);

  if (!gst_video_frame_map (&src, in_info, in, GST_MAP_READ)) {
    gst_buffer_unref (out);
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "the last frame cannot be read (its size does not match "
                 "its caps)");
    return NULL;
  }
  gst_video_frame_map (&dst, out_info, out, GST_MAP_WRITE);
  conv = gst_video_converter_new (
      in_info, out_info,
      gst_structure_new ("options", GST_VIDEO_CONVERTER_OPT_THREADS,
                         G_TYPE_UINT, threads, NULL));
  gst_video_converter_frame (conv, &src, &dst);
  gst_video_converter_free (conv);
  gst_video_frame_unmap (&dst);
  gst_video_frame_unmap (&src);
  return out;
}

/* One raw picture through pngenc or jpegenc (appsrc ! enc ! appsink). */
static GBytes *
encode (GstBuffer *rgb, GstCaps *caps, VmsImageFormat format, GError **error)
{
  g_autoptr (GstElement) pipe = gst_pipeline_new ("vmstream-screenshot");
  GstElement *src = gst_element_factory_make ("appsrc", NULL);
  GstElement *enc = gst_element_factory_make (
      format == VMS_IMAGE_JPEG ? "jpegenc" : "pngenc", NULL);
  GstElement *sink = gst_element_factory_make ("appsink", NULL);
  g_autoptr (GstSample) out = NULL;
  GBytes *bytes = NULL;

  if (!src || !enc || !sink) {
    g_clear_object (&src);
    g_clear_object (&enc);
    g_clear_object (&sink);
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                 "cannot encode a screenshot: appsrc, appsink and %s "
                 "(gstreamer1.0-plugins-base and -good) are needed",
                 format == VMS_IMAGE_JPEG ? "jpegenc" : "pngenc");
    gst_buffer_unref (rgb);
    return NULL;
  }
  /* zlib level 1: a desktop compresses nearly as well, several times
   * faster than pngenc's default 6 (docs/performance.md) */
  if (format == VMS_IMAGE_PNG)
    g_object_set (enc, "compression-level", 1, NULL);
  g_object_set (src, "caps", caps, "format", GST_FORMAT_TIME, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, enc, sink, NULL);
  gst_element_link_many (src, enc, sink, NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  /* @rgb may be the stream's own frame: read only, its timestamps kept */
  gst_app_src_push_buffer (GST_APP_SRC (src), rgb);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  out = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
  if (out && gst_sample_get_buffer (out)) {
    GstBuffer *b = gst_sample_get_buffer (out);
    GstMapInfo map;
    if (gst_buffer_map (b, &map, GST_MAP_READ)) {
      bytes = g_bytes_new (map.data, map.size);
      gst_buffer_unmap (b, &map);
    }
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  if (bytes == NULL)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
                 "the %s encoder gave no picture",
                 format == VMS_IMAGE_JPEG ? "JPEG" : "PNG");
  return bytes;
}

GBytes *
vms_shot_encode (GstSample *sample, VmsImageFormat format, gint width,
                 GError **error)
{
  GstVideoInfo in_info, out_info;
  GstBuffer *rgb;
  g_autoptr (GstCaps) caps = NULL;
  gint height;

  if (!gst_video_info_from_caps (&in_info, gst_sample_get_caps (sample))
      || GST_VIDEO_INFO_WIDTH (&in_info) <= 0
      || GST_VIDEO_INFO_HEIGHT (&in_info) <= 0) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                 "the encoder's input is not raw video: no screenshot");
    return NULL;
  }
  /* down only: a larger picture says nothing more, and would cost up to
   * 8192 x 4 x 8192 x 3 bytes */
  if (width <= 0 || width > GST_VIDEO_INFO_WIDTH (&in_info))
    width = GST_VIDEO_INFO_WIDTH (&in_info);
  height = (gint)(((gint64)GST_VIDEO_INFO_HEIGHT (&in_info) * width
                   + GST_VIDEO_INFO_WIDTH (&in_info) / 2)
                  / GST_VIDEO_INFO_WIDTH (&in_info));
  height = CLAMP (height, 1, 4 * VMS_SCREENSHOT_MAX_WIDTH);
  /* JPEG is YUV inside: jpegenc takes I420 as it is; PNG wants RGB */
  gst_video_info_set_format (&out_info,
                             format == VMS_IMAGE_JPEG ? GST_VIDEO_FORMAT_I420
                                                      : GST_VIDEO_FORMAT_RGB,
                             width, height);
  /* the converter wants the same rate on both sides */
  GST_VIDEO_INFO_FPS_N (&out_info) = GST_VIDEO_INFO_FPS_N (&in_info);
  GST_VIDEO_INFO_FPS_D (&out_info) = GST_VIDEO_INFO_FPS_D (&in_info);
  if (GST_VIDEO_INFO_FORMAT (&in_info) == GST_VIDEO_INFO_FORMAT (&out_info)
      && width == GST_VIDEO_INFO_WIDTH (&in_info)
      && height == GST_VIDEO_INFO_HEIGHT (&in_info)) {
    /* already what the encoder takes: the frame itself, no conversion */
    rgb = gst_buffer_ref (gst_sample_get_buffer (sample));
    caps = gst_caps_ref (gst_sample_get_caps (sample));
    return encode (rgb, caps, format, error);
  }
  rgb = convert (gst_sample_get_buffer (sample), &in_info, &out_info, error);
  if (rgb == NULL)
    return NULL;
  caps = gst_video_info_to_caps (&out_info);
  return encode (rgb, caps, format, error);
}
