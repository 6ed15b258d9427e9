/* wsh264sink client protocol helpers: pure functions, no element state.
 * See docs/websocket.md for the protocol they implement. */
#pragma once

#include <gst/gst.h>
#include <gst/codecparsers/gsth264parser.h>

#include "vmsinput.h"

G_BEGIN_DECLS

#define WSH264_PROTOCOL_VERSION 1
#define WSH264_FRAME_HEADER_SIZE 32

/* Flags of the binary frame header (byte 1). */
typedef enum {
  WSH264_FRAME_FLAG_KEY = 1 << 0,     /* IDR access unit, decoder can start */
  WSH264_FRAME_FLAG_CONFIG = 1 << 1,  /* access unit carries SPS and PPS */
  WSH264_FRAME_FLAG_DISCONT = 1 << 2, /* frames were skipped before this one */
} Wsh264FrameFlags;

#define WSH264_TIME_UNKNOWN G_MAXUINT64

/* Longest input text message the sink accepts (input messages are ~100
 * bytes); longer ones close the connection. The input contract's limit
 * (common/vmsinput.h). */
#define WSH264_MAX_INPUT_MESSAGE VMS_INPUT_MAX_MESSAGE

typedef struct {
  guint8 flags;
  guint32 seq;
  guint64 pts_us;          /* WSH264_TIME_UNKNOWN if unknown */
  guint64 capture_time_us; /* Unix time in µs, 0 if unknown */
  guint64 send_time_us;    /* Unix time in µs when the sink got it */
} Wsh264FrameHeader;

void wsh264_frame_header_write (const Wsh264FrameHeader *hdr,
                                guint8 out[WSH264_FRAME_HEADER_SIZE]);
gboolean wsh264_frame_header_read (const guint8 *data, gsize size,
                                   Wsh264FrameHeader *hdr);

/* "avc1.PPCCLL" from a parsed SPS; newly allocated. */
gchar *wsh264_codec_string (const GstH264SPS *sps);

/* Display size of a parsed SPS (cropping applied). */
void wsh264_sps_display_size (const GstH264SPS *sps, gint *width, gint *height);

/* The init text message as a JSON string; newly allocated. */
gchar *wsh264_init_message (const GstH264SPS *sps, gint fps_n, gint fps_d,
                            const gchar *session_id);

/* TRUE when the SPS tells the decoder that no frame is ever reordered
 * (VUI bitstream_restriction with max_num_reorder_frames == 0), so a
 * decoder may output every frame as soon as it is decoded. */
gboolean wsh264_sps_is_low_delay (const GstH264SPS *sps);

/* Re-serialise @sps as an SPS NAL unit (header byte + RBSP with emulation
 * prevention, no start code). With @low_delay, the VUI gets
 * bitstream_restriction with max_num_reorder_frames=0 and
 * max_dec_frame_buffering=max(1,num_ref_frames); without, the VUI is kept
 * but bitstream_restriction is left out (used to make test streams).
 * Returns NULL if @sps uses a feature the writer does not support
 * (explicit scaling matrices, MVC). */
GBytes *wsh264_sps_write (const GstH264SPS *sps, guint8 nal_ref_idc,
                          gboolean low_delay);

/* One input text message of the input contract (common/vmsinput.h) as a
 * navigation event (@len -1: NUL-terminated). Returns NULL (and sets
 * @error) when the contract refuses it. */
GstEvent *wsh264_navigation_event_from_json (const gchar *json, gsize len,
                                             GError **error);

G_END_DECLS
