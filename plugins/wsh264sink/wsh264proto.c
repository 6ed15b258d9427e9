/* wsh264sink client protocol helpers. See docs/websocket.md. */
#include "wsh264proto.h"

#include "vmsinput-gst.h"

#include <string.h>
#include <gst/base/gstbitwriter.h>
#include <json-glib/json-glib.h>

void
wsh264_frame_header_write (const Wsh264FrameHeader *hdr,
                           guint8 out[WSH264_FRAME_HEADER_SIZE])
{
  out[0] = WSH264_PROTOCOL_VERSION;
  out[1] = hdr->flags;
  GST_WRITE_UINT16_LE (out + 2, WSH264_FRAME_HEADER_SIZE);
  GST_WRITE_UINT32_LE (out + 4, hdr->seq);
  GST_WRITE_UINT64_LE (out + 8, hdr->pts_us);
  GST_WRITE_UINT64_LE (out + 16, hdr->capture_time_us);
  GST_WRITE_UINT64_LE (out + 24, hdr->send_time_us);
}

gboolean
wsh264_frame_header_read (const guint8 *data, gsize size,
                          Wsh264FrameHeader *hdr)
{
  guint16 hlen;

  if (size < WSH264_FRAME_HEADER_SIZE || data[0] != WSH264_PROTOCOL_VERSION)
    return FALSE;
  hlen = GST_READ_UINT16_LE (data + 2);
  if (hlen < WSH264_FRAME_HEADER_SIZE || hlen > size)
    return FALSE;
  hdr->flags = data[1];
  hdr->seq = GST_READ_UINT32_LE (data + 4);
  hdr->pts_us = GST_READ_UINT64_LE (data + 8);
  hdr->capture_time_us = GST_READ_UINT64_LE (data + 16);
  hdr->send_time_us = GST_READ_UINT64_LE (data + 24);
  return TRUE;
}

gchar *
wsh264_codec_string (const GstH264SPS *sps)
{
  guint8 constraints = (sps->constraint_set0_flag ? 0x80 : 0)
                       | (sps->constraint_set1_flag ? 0x40 : 0)
                       | (sps->constraint_set2_flag ? 0x20 : 0)
                       | (sps->constraint_set3_flag ? 0x10 : 0)
                       | (sps->constraint_set4_flag ? 0x08 : 0)
                       | (sps->constraint_set5_flag ? 0x04 : 0);

  return g_strdup_printf ("avc1.%02x%02x%02x", sps->profile_idc, constraints,
                          sps->level_idc);
}

void
wsh264_sps_display_size (const GstH264SPS *sps, gint *width, gint *height)
{
  if (sps->frame_cropping_flag) {
    *width = sps->crop_rect_width;
    *height = sps->crop_rect_height;
  } else {
    *width = sps->width;
    *height = sps->height;
  }
}

gchar *
wsh264_init_message (const GstH264SPS *sps, gint fps_n, gint fps_d,
                     const gchar *session_id)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *codec = wsh264_codec_string (sps);
  gint width, height;

  wsh264_sps_display_size (sps, &width, &height);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "init");
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, WSH264_PROTOCOL_VERSION);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, height);
  json_builder_set_member_name (b, "codec");
  json_builder_add_string_value (b, codec);
  json_builder_set_member_name (b, "framerate");
  json_builder_add_double_value (
      b, (fps_n > 0 && fps_d > 0) ? (gdouble)fps_n / fps_d : 0.0);
  json_builder_set_member_name (b, "session");
  json_builder_add_string_value (b, session_id ? session_id : "");
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

gboolean
wsh264_sps_is_low_delay (const GstH264SPS *sps)
{
  return sps->vui_parameters_present_flag
         && sps->vui_parameters.bitstream_restriction_flag
         && sps->vui_parameters.num_reorder_frames == 0;
}

/* ---- SPS writer (ITU-T H.264 7.3.2.1.1, E.1.1) ---- */

static gboolean
put_ue (GstBitWriter *bw, guint32 value)
{
  guint64 v = (guint64)value + 1;
  guint bits = 0;

  while ((v >> bits) > 1)
    bits++;
  /* bits leading zeros, then bits+1 bits of v */
  if (bits > 0 && !gst_bit_writer_put_bits_uint32 (bw, 0, bits))
    return FALSE;
  return gst_bit_writer_put_bits_uint64 (bw, v, bits + 1);
}

static gboolean
put_se (GstBitWriter *bw, gint32 value)
{
  guint32 code = value > 0 ? (guint32)value * 2 - 1 : (guint32)(-value) * 2;
  return put_ue (bw, code);
}

#define PUT(bw, val, n)                                                        \
  G_STMT_START                                                                 \
  {                                                                            \
    if (!gst_bit_writer_put_bits_uint32 (bw, (guint32)(val), n))               \
      return FALSE;                                                            \
  }                                                                            \
  G_STMT_END
#define PUT_UE(bw, val)                                                        \
  G_STMT_START                                                                 \
  {                                                                            \
    if (!put_ue (bw, val))                                                     \
      return FALSE;                                                            \
  }                                                                            \
  G_STMT_END
#define PUT_SE(bw, val)                                                        \
  G_STMT_START                                                                 \
  {                                                                            \
    if (!put_se (bw, val))                                                     \
      return FALSE;                                                            \
  }                                                                            \
  G_STMT_END

static gboolean
write_hrd (GstBitWriter *bw, const GstH264HRDParams *hrd)
{
  guint i;

  PUT_UE (bw, hrd->cpb_cnt_minus1);
  PUT (bw, hrd->bit_rate_scale, 4);
  PUT (bw, hrd->cpb_size_scale, 4);
  for (i = 0; i <= hrd->cpb_cnt_minus1 && i < 32; i++) {
    PUT_UE (bw, hrd->bit_rate_value_minus1[i]);
    PUT_UE (bw, hrd->cpb_size_value_minus1[i]);
    PUT (bw, hrd->cbr_flag[i], 1);
  }
  PUT (bw, hrd->initial_cpb_removal_delay_length_minus1, 5);
  PUT (bw, hrd->cpb_removal_delay_length_minus1, 5);
  PUT (bw, hrd->dpb_output_delay_length_minus1, 5);
  PUT (bw, hrd->time_offset_length, 5);
  return TRUE;
}

static gboolean
write_vui (GstBitWriter *bw, const GstH264SPS *sps, gboolean low_delay)
{
  const GstH264VUIParams *v = &sps->vui_parameters;
  gboolean present = sps->vui_parameters_present_flag;

  if (!present) {
    /* Only bitstream_restriction: everything else absent. */
    PUT (bw, 0, 1); /* aspect_ratio_info_present_flag */
    PUT (bw, 0, 1); /* overscan_info_present_flag */
    PUT (bw, 0, 1); /* video_signal_type_present_flag */
    PUT (bw, 0, 1); /* chroma_loc_info_present_flag */
    PUT (bw, 0, 1); /* timing_info_present_flag */
    PUT (bw, 0, 1); /* nal_hrd_parameters_present_flag */
    PUT (bw, 0, 1); /* vcl_hrd_parameters_present_flag */
    PUT (bw, 0, 1); /* pic_struct_present_flag */
  } else {
    PUT (bw, v->aspect_ratio_info_present_flag, 1);
    if (v->aspect_ratio_info_present_flag) {
      PUT (bw, v->aspect_ratio_idc, 8);
      if (v->aspect_ratio_idc == 255) {
        PUT (bw, v->sar_width, 16);
        PUT (bw, v->sar_height, 16);
      }
    }
    PUT (bw, v->overscan_info_present_flag, 1);
    if (v->overscan_info_present_flag)
      PUT (bw, v->overscan_appropriate_flag, 1);
    PUT (bw, v->video_signal_type_present_flag, 1);
    if (v->video_signal_type_present_flag) {
      PUT (bw, v->video_format, 3);
      PUT (bw, v->video_full_range_flag, 1);
      PUT (bw, v->colour_description_present_flag, 1);
      if (v->colour_description_present_flag) {
        PUT (bw, v->colour_primaries, 8);
        PUT (bw, v->transfer_characteristics, 8);
        PUT (bw, v->matrix_coefficients, 8);
      }
    }
    PUT (bw, v->chroma_loc_info_present_flag, 1);
    if (v->chroma_loc_info_present_flag) {
      PUT_UE (bw, v->chroma_sample_loc_type_top_field);
      PUT_UE (bw, v->chroma_sample_loc_type_bottom_field);
    }
    PUT (bw, v->timing_info_present_flag, 1);
    if (v->timing_info_present_flag) {
      PUT (bw, v->num_units_in_tick, 32);
      PUT (bw, v->time_scale, 32);
      PUT (bw, v->fixed_frame_rate_flag, 1);
    }
    PUT (bw, v->nal_hrd_parameters_present_flag, 1);
    if (v->nal_hrd_parameters_present_flag
        && !write_hrd (bw, &v->nal_hrd_parameters))
      return FALSE;
    PUT (bw, v->vcl_hrd_parameters_present_flag, 1);
    if (v->vcl_hrd_parameters_present_flag
        && !write_hrd (bw, &v->vcl_hrd_parameters))
      return FALSE;
    if (v->nal_hrd_parameters_present_flag
        || v->vcl_hrd_parameters_present_flag)
      PUT (bw, v->low_delay_hrd_flag, 1);
    PUT (bw, v->pic_struct_present_flag, 1);
  }

  if (!low_delay) {
    PUT (bw, 0, 1); /* bitstream_restriction_flag */
    return TRUE;
  }
  PUT (bw, 1, 1); /* bitstream_restriction_flag */
  if (present && v->bitstream_restriction_flag) {
    PUT (bw, v->motion_vectors_over_pic_boundaries_flag, 1);
    PUT_UE (bw, v->max_bytes_per_pic_denom);
    PUT_UE (bw, v->max_bits_per_mb_denom);
    PUT_UE (bw, v->log2_max_mv_length_horizontal);
    PUT_UE (bw, v->log2_max_mv_length_vertical);
  } else {
    /* Values the spec infers when bitstream_restriction is absent. */
    PUT (bw, 1, 1);
    PUT_UE (bw, 2);
    PUT_UE (bw, 1);
    PUT_UE (bw, 16);
    PUT_UE (bw, 16);
  }
  PUT_UE (bw, 0);                            /* max_num_reorder_frames */
  PUT_UE (bw, MAX (1, sps->num_ref_frames)); /* max_dec_frame_buffering */
  return TRUE;
}

static gboolean
write_sps_rbsp (GstBitWriter *bw, const GstH264SPS *sps, gboolean low_delay)
{
  guint i;

  PUT (bw, sps->profile_idc, 8);
  PUT (bw, sps->constraint_set0_flag, 1);
  PUT (bw, sps->constraint_set1_flag, 1);
  PUT (bw, sps->constraint_set2_flag, 1);
  PUT (bw, sps->constraint_set3_flag, 1);
  PUT (bw, sps->constraint_set4_flag, 1);
  PUT (bw, sps->constraint_set5_flag, 1);
  PUT (bw, 0, 2); /* reserved_zero_2bits */
  PUT (bw, sps->level_idc, 8);
  PUT_UE (bw, sps->id);

  switch (sps->profile_idc) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
      PUT_UE (bw, sps->chroma_format_idc);
      if (sps->chroma_format_idc == 3)
        PUT (bw, sps->separate_colour_plane_flag, 1);
      PUT_UE (bw, sps->bit_depth_luma_minus8);
      PUT_UE (bw, sps->bit_depth_chroma_minus8);
      PUT (bw, sps->qpprime_y_zero_transform_bypass_flag, 1);
      /* The parser keeps only the resolved matrices, not their syntax. */
      if (sps->scaling_matrix_present_flag)
        return FALSE;
      PUT (bw, 0, 1);
      break;
    default:
      break;
  }

  PUT_UE (bw, sps->log2_max_frame_num_minus4);
  PUT_UE (bw, sps->pic_order_cnt_type);
  if (sps->pic_order_cnt_type == 0) {
    PUT_UE (bw, sps->log2_max_pic_order_cnt_lsb_minus4);
  } else if (sps->pic_order_cnt_type == 1) {
    PUT (bw, sps->delta_pic_order_always_zero_flag, 1);
    PUT_SE (bw, sps->offset_for_non_ref_pic);
    PUT_SE (bw, sps->offset_for_top_to_bottom_field);
    PUT_UE (bw, sps->num_ref_frames_in_pic_order_cnt_cycle);
    for (i = 0; i < sps->num_ref_frames_in_pic_order_cnt_cycle; i++)
      PUT_SE (bw, sps->offset_for_ref_frame[i]);
  }
  PUT_UE (bw, sps->num_ref_frames);
  PUT (bw, sps->gaps_in_frame_num_value_allowed_flag, 1);
  PUT_UE (bw, sps->pic_width_in_mbs_minus1);
  PUT_UE (bw, sps->pic_height_in_map_units_minus1);
  PUT (bw, sps->frame_mbs_only_flag, 1);
  if (!sps->frame_mbs_only_flag)
    PUT (bw, sps->mb_adaptive_frame_field_flag, 1);
  PUT (bw, sps->direct_8x8_inference_flag, 1);
  PUT (bw, sps->frame_cropping_flag, 1);
  if (sps->frame_cropping_flag) {
    PUT_UE (bw, sps->frame_crop_left_offset);
    PUT_UE (bw, sps->frame_crop_right_offset);
    PUT_UE (bw, sps->frame_crop_top_offset);
    PUT_UE (bw, sps->frame_crop_bottom_offset);
  }
  PUT (bw, 1, 1); /* vui_parameters_present_flag */
  if (!write_vui (bw, sps, low_delay))
    return FALSE;
  /* rbsp_trailing_bits */
  PUT (bw, 1, 1);
  if (!gst_bit_writer_align_bytes (bw, 0))
    return FALSE;
  return TRUE;
}

GBytes *
wsh264_sps_write (const GstH264SPS *sps, guint8 nal_ref_idc, gboolean low_delay)
{
  GstBitWriter bw;
  GByteArray *out;
  const guint8 *rbsp;
  guint size, i, zeros = 0;
  guint8 hdr;

  if (sps->extension_type != 0)
    return NULL;

  gst_bit_writer_init (&bw);
  if (!write_sps_rbsp (&bw, sps, low_delay)) {
    gst_bit_writer_reset (&bw);
    return NULL;
  }
  rbsp = gst_bit_writer_get_data (&bw);
  size = gst_bit_writer_get_size (&bw) / 8;

  out = g_byte_array_sized_new (size + size / 64 + 2);
  hdr = ((nal_ref_idc & 3) << 5) | GST_H264_NAL_SPS;
  g_byte_array_append (out, &hdr, 1);
  /* Emulation prevention: no 00 00 0x (x <= 3) inside the NAL unit. */
  for (i = 0; i < size; i++) {
    if (zeros >= 2 && rbsp[i] <= 3) {
      const guint8 epb = 0x03;
      g_byte_array_append (out, &epb, 1);
      zeros = 0;
    }
    g_byte_array_append (out, &rbsp[i], 1);
    zeros = rbsp[i] == 0 ? zeros + 1 : 0;
  }
  gst_bit_writer_reset (&bw);
  return g_byte_array_free_to_bytes (out);
}

/* ---- input messages ---- */

/* The input contract is common/vmsinput.h, one rule set for the browser,
 * the API and the session process; this is its browser entry. */
GstEvent *
wsh264_navigation_event_from_json (const gchar *json, gsize len, GError **error)
{
  VmsInputEvent ev;

  if (!vms_input_event_parse (json, len == (gsize)-1 ? -1 : (gssize)len, &ev,
                              error))
    return NULL;
  return vms_input_event_to_gst (&ev);
}
