/* vmstream wire protocol, version 2.
 *
 * Pure functions over bytes: nothing here reads or writes a socket, so
 * every parser can be unit-tested and fuzzed. All integers are
 * little-endian. See docs/protocol.md for the byte-by-byte layout.
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define VMS_PROTOCOL_VERSION 2
/* Oldest version a receiver still serves: version 1 has no authentication
 * and is accepted only by a receiver that requires no secret. */
#define VMS_PROTOCOL_VERSION_MIN 1

#define VMS_HELLO_MAGIC "VMS1"
#define VMS_WELCOME_MAGIC "VMSA"
#define VMS_CHALLENGE_MAGIC "VMSC"
#define VMS_AUTH_MAGIC "VMSR"
#define VMS_MAGIC_LEN 4

/* HELLO: magic, u16 version, u16 flags, u32 caps_len, caps bytes */
#define VMS_HELLO_SIZE 12
/* WELCOME: magic, u16 version, u16 status, u32 max_frame */
#define VMS_WELCOME_SIZE 12
/* CHALLENGE (v2): magic, u16 version, u16 flags, 32-byte nonce */
#define VMS_CHALLENGE_SIZE 40
/* AUTH (v2): magic, u16 version, u16 flags, 32-byte HMAC-SHA256 */
#define VMS_AUTH_SIZE 40
#define VMS_NONCE_LEN 32
#define VMS_MAC_LEN 32
/* Longest link secret (bytes). */
#define VMS_MAX_SECRET_LEN 256
/* Message header, see VmsMsgHeader */
#define VMS_MSG_HEADER_SIZE 88
/* Back-channel header: u32 type, u32 len */
#define VMS_BACK_HEADER_SIZE 8

#define VMS_MAX_PLANES 4
/* Upper bound of a caps string (HELLO and CAPS messages). */
#define VMS_MAX_CAPS_LEN (64 * 1024)
/* Deepest nesting of (), <>, [] and {} accepted in a caps string. */
#define VMS_MAX_CAPS_NESTING 16
/* Upper bound of a back-channel payload. */
#define VMS_MAX_BACK_LEN (64 * 1024)
/* Default and hard upper bound of one frame's payload. */
#define VMS_DEFAULT_MAX_FRAME (64 * 1024 * 1024)
#define VMS_HARD_MAX_FRAME (512 * 1024 * 1024)

typedef enum {
  VMS_MSG_FRAME = 1,
  VMS_MSG_CAPS = 2,
  VMS_MSG_EOS = 3,
  VMS_MSG_PING = 4,
} VmsMsgType;

typedef enum {
  VMS_FRAME_FLAG_DELTA_UNIT = 1 << 0,
  VMS_FRAME_FLAG_DISCONT = 1 << 1,
  VMS_FRAME_FLAG_HEADER = 1 << 2,
  /* The frame carries a video layout (n_planes, offset, stride). */
  VMS_FRAME_FLAG_VIDEO_META = 1 << 3,
} VmsFrameFlags;

#define VMS_FRAME_FLAGS_KNOWN                                                  \
  (VMS_FRAME_FLAG_DELTA_UNIT | VMS_FRAME_FLAG_DISCONT | VMS_FRAME_FLAG_HEADER  \
   | VMS_FRAME_FLAG_VIDEO_META)

/* HELLO flags */
typedef enum {
  /* The sender handles back-channel messages. */
  VMS_HELLO_FLAG_BACK_CHANNEL = 1 << 0,
  /* The sender can change its picture's size on a RESIZE back-channel
   * message (only with VMS_HELLO_FLAG_BACK_CHANNEL). */
  VMS_HELLO_FLAG_RESIZE = 1 << 1,
} VmsHelloFlags;

typedef enum {
  VMS_STATUS_OK = 0,
  VMS_STATUS_BAD_VERSION = 1,
  VMS_STATUS_BAD_CAPS = 2,
  /* reserved: no receiver sends it (an authenticated newcomer replaces the
   * current sender); a sender treats it as a refusal */
  VMS_STATUS_BUSY = 3,
  /* v2: the AUTH answer did not prove the link secret */
  VMS_STATUS_AUTH_FAILED = 4,
} VmsStatus;

/* CHALLENGE flags */
typedef enum {
  /* The receiver checks the AUTH answer against its secret. */
  VMS_CHALLENGE_FLAG_SECRET_REQUIRED = 1 << 0,
} VmsChallengeFlags;

/* AUTH flags */
typedef enum {
  /* mac holds HMAC-SHA256 (secret, label || nonce); else it is all zero. */
  VMS_AUTH_FLAG_MAC = 1 << 0,
} VmsAuthFlags;

typedef enum {
  VMS_BACK_KEYFRAME_REQUEST = 1,
  VMS_BACK_NAVIGATION = 2,
  VMS_BACK_PONG = 3,
  /* payload: u32 width, u32 height (VMS_BACK_RESIZE_SIZE bytes) */
  VMS_BACK_RESIZE = 4,
} VmsBackType;

/* RESIZE payload: u32 width, u32 height, each 1..VMS_MAX_RESIZE_DIM */
#define VMS_BACK_RESIZE_SIZE 8
#define VMS_MAX_RESIZE_DIM 16384

typedef struct {
  guint16 version;
  guint16 flags;
  guint32 caps_len;
} VmsHello;

typedef struct {
  guint16 version;
  guint16 status;
  guint32 max_frame;
} VmsWelcome;

typedef struct {
  guint16 version;
  guint16 flags;
  guint8 nonce[VMS_NONCE_LEN];
} VmsChallenge;

typedef struct {
  guint16 version;
  guint16 flags;
  guint8 mac[VMS_MAC_LEN];
} VmsAuth;

typedef struct {
  guint32 type;
  guint32 flags;
  guint64 pts;
  guint64 dts;
  guint64 duration;
  guint64 capture_time;
  guint64 seq;
  guint32 size;
  guint32 n_planes;
  guint32 offset[VMS_MAX_PLANES];
  gint32 stride[VMS_MAX_PLANES];
} VmsMsgHeader;

typedef struct {
  guint32 type;
  guint32 len;
} VmsBackHeader;

#define VMS_PROTOCOL_ERROR (vms_protocol_error_quark ())
GQuark vms_protocol_error_quark (void);

typedef enum {
  VMS_PROTOCOL_ERROR_SHORT,
  VMS_PROTOCOL_ERROR_BAD_MAGIC,
  VMS_PROTOCOL_ERROR_BAD_VERSION,
  VMS_PROTOCOL_ERROR_TOO_LARGE,
  VMS_PROTOCOL_ERROR_BAD_TYPE,
  VMS_PROTOCOL_ERROR_BAD_LAYOUT,
  VMS_PROTOCOL_ERROR_BAD_CAPS,
  VMS_PROTOCOL_ERROR_REFUSED,
  VMS_PROTOCOL_ERROR_AUTH,
} VmsProtocolError;

void vms_hello_write (guint8 out[VMS_HELLO_SIZE], const VmsHello *hello);
gboolean vms_hello_parse (const guint8 *data, gsize len, VmsHello *hello,
                          GError **error);

void vms_welcome_write (guint8 out[VMS_WELCOME_SIZE],
                        const VmsWelcome *welcome);
gboolean vms_welcome_parse (const guint8 *data, gsize len, VmsWelcome *welcome,
                            GError **error);

void vms_challenge_write (guint8 out[VMS_CHALLENGE_SIZE],
                          const VmsChallenge *challenge);
gboolean vms_challenge_parse (const guint8 *data, gsize len,
                              VmsChallenge *challenge, GError **error);

void vms_auth_write (guint8 out[VMS_AUTH_SIZE], const VmsAuth *auth);
gboolean vms_auth_parse (const guint8 *data, gsize len, VmsAuth *auth,
                         GError **error);

/* The AUTH proof: HMAC-SHA256 keyed with the secret over the label
 * "vmstream-link-v2" followed by the nonce. */
void vms_auth_compute_mac (const guint8 *secret, gsize secret_len,
                           const guint8 nonce[VMS_NONCE_LEN],
                           guint8 mac[VMS_MAC_LEN]);
/* Whether @auth proves @secret for @nonce; compares in constant time. */
gboolean vms_auth_verify (const VmsAuth *auth, const guint8 *secret,
                          gsize secret_len, const guint8 nonce[VMS_NONCE_LEN]);
/* Constant-time comparison of two @len-byte strings. */
gboolean vms_equal_const_time (const guint8 *a, const guint8 *b, gsize len);
/* Checks a secret's length (1..VMS_MAX_SECRET_LEN) and that it has no NUL. */
gboolean vms_secret_check (const gchar *secret, gsize len, GError **error);

void vms_msg_header_write (guint8 out[VMS_MSG_HEADER_SIZE],
                           const VmsMsgHeader *hdr);
gboolean vms_msg_header_parse (const guint8 *data, gsize len, guint32 max_frame,
                               VmsMsgHeader *hdr, GError **error);

void vms_back_header_write (guint8 out[VMS_BACK_HEADER_SIZE],
                            const VmsBackHeader *hdr);
gboolean vms_back_header_parse (const guint8 *data, gsize len,
                                VmsBackHeader *hdr, GError **error);

/* RESIZE's payload. parse: exactly VMS_BACK_RESIZE_SIZE bytes, each
 * dimension 1..VMS_MAX_RESIZE_DIM (the host's own limits are narrower,
 * common/vmssession.h); else FALSE with @error. */
void vms_back_resize_write (guint8 out[VMS_BACK_RESIZE_SIZE], guint32 width,
                            guint32 height);
gboolean vms_back_resize_parse (const guint8 *data, gsize len, guint32 *width,
                                guint32 *height, GError **error);

gboolean vms_is_hello_magic (const guint8 *data, gsize len);

/* Resynchronisation: a receiver that starts in the middle of an old stream
 * (say, on virtio-serial after the host restarted) skips to the next HELLO
 * instead of dropping the link. See docs/protocol.md, "Link lifecycle".
 *
 * Whether the VMS_HELLO_SIZE bytes at @data look like a HELLO header: the
 * magic, a version in 1..255 (newer senders still get WELCOME status 1)
 * and a caps length in 1..VMS_MAX_CAPS_LEN. FALSE when @len is shorter. */
gboolean vms_hello_plausible (const guint8 *data, gsize len);
/* The offset of the first place in @data where a HELLO may start: a
 * plausible HELLO header, or a tail shorter than VMS_HELLO_SIZE that could
 * still become one. @len when there is none: every byte before the result
 * can be dropped. Reads nothing at or past @len; linear in @len. */
gsize vms_hello_find (const guint8 *data, gsize len);
/* Whether a candidate HELLO's caps bytes look like a caps string (UTF-8,
 * no NUL, a media type first, nesting within limits): a cheap filter that
 * tells a HELLO from "VMS1" inside a frame's payload. Not the caps parser,
 * which only an authenticated sender's caps reach. */
gboolean vms_hello_caps_plausible (const guint8 *caps, gsize len);

GstCaps *vms_caps_parse (const guint8 *data, gsize len, GError **error);
/* Whether a caps or structure string nests (), <>, [], {} and quoted values
 * at most VMS_MAX_CAPS_NESTING deep: GStreamer's parser recurses per level
 * (also into quoted typed values it unquotes), so deeper input from a peer
 * could exhaust the stack. vms_caps_nesting_check() of common/vmsnest.h. */
gboolean vms_nesting_ok (const gchar *s, gsize len);

const gchar *vms_status_to_string (guint16 status);

/* Caps of the GstReferenceTimestampMeta that carries capture_time
 * (CLOCK_REALTIME ns): "timestamp/x-unix". Static, never unref it. */
GstCaps *vms_capture_time_caps (void);

G_END_DECLS
