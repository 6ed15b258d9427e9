/* Test helper: copies an Annex-B H.264 stream from stdin to stdout with
 * every SPS re-written without VUI bitstream_restriction, i.e. without
 * the promise that frames are never reordered (and with 30 fps timing
 * info if there was none). Used by lowdelay.test.mjs
 * to measure what Chromium's decoder does with such streams. */
#include <stdio.h>
#include <unistd.h>
#include <gst/gst.h>
#include "wsh264proto.h"

int
main (int argc, char **argv)
{
  static const guint8 sc[4] = { 0, 0, 0, 1 };
  GByteArray *in = g_byte_array_new ();
  GstH264NalParser *p;
  GstH264NalUnit nalu;
  GstH264ParserResult res;
  guint8 buf[65536];
  ssize_t n;
  guint off = 0, stripped = 0;

  gst_init (&argc, &argv);
  while ((n = read (0, buf, sizeof (buf))) > 0)
    g_byte_array_append (in, buf, n);
  p = gst_h264_nal_parser_new ();
  while (off < in->len) {
    res = gst_h264_parser_identify_nalu (p, in->data, off, in->len, &nalu);
    if (res != GST_H264_PARSER_OK && res != GST_H264_PARSER_NO_NAL_END)
      break;
    fwrite (sc, 1, 4, stdout);
    if (nalu.type == GST_H264_NAL_SPS) {
      GstH264SPS sps;
      GBytes *out = NULL;
      if (gst_h264_parser_parse_sps (p, &nalu, &sps) == GST_H264_PARSER_OK) {
        /* Give streams without timing (openh264) 30 fps, so h264parse
         * can timestamp the file and clocksync can pace it. */
        if (!sps.vui_parameters.timing_info_present_flag) {
          sps.vui_parameters_present_flag = 1;
          sps.vui_parameters.timing_info_present_flag = 1;
          sps.vui_parameters.num_units_in_tick = 1;
          sps.vui_parameters.time_scale = 60;
          sps.vui_parameters.fixed_frame_rate_flag = 1;
        }
        out = wsh264_sps_write (&sps, nalu.ref_idc, FALSE);
        gst_h264_sps_clear (&sps);
      }
      if (!out) {
        fprintf (stderr, "could not rewrite an SPS\n");
        return 1;
      }
      fwrite (g_bytes_get_data (out, NULL), 1, g_bytes_get_size (out), stdout);
      g_bytes_unref (out);
      stripped++;
    } else {
      fwrite (in->data + nalu.offset, 1, nalu.size, stdout);
    }
    if (res == GST_H264_PARSER_NO_NAL_END)
      break;
    off = nalu.offset + nalu.size;
  }
  fprintf (stderr, "stripped bitstream_restriction from %u SPS\n", stripped);
  gst_h264_nal_parser_free (p);
  g_byte_array_free (in, TRUE);
  return stripped > 0 ? 0 : 1;
}
