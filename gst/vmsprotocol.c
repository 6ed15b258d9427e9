/* vmstream wire protocol, version 2: serialisation and validation. */
#include "vmsprotocol.h"

#include "vmsnest.h"

#include <string.h>

GQuark
vms_protocol_error_quark (void)
{
  return g_quark_from_static_string ("vms-protocol-error-quark");
}

/* Byte-wise little-endian access: input may sit at any alignment.
 *
 * Why not GST_READ_UINT32_LE()/GstByteReader: on x86 GStreamer 1.22 builds
 * them (GST_HAVE_UNALIGNED_ACCESS) as typed loads through a cast pointer
 * (gstutils.h __gst_fast_read32), which is undefined behaviour at an odd
 * address and which UBSan reports; the wire bytes come at any offset (the
 * fuzz targets split them into arbitrary reads). qemudisplaysrc met the same
 * in gst_byte_reader_get_uint*_be (docs/performance.md, "Fuzzing"). memcpy
 * into a local is the portable unaligned load, and compilers make it one
 * instruction. */
static inline void
put_u16 (guint8 *p, guint16 v)
{
  v = GUINT16_TO_LE (v);
  memcpy (p, &v, sizeof (v));
}

static inline void
put_u32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, sizeof (v));
}

static inline void
put_u64 (guint8 *p, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, sizeof (v));
}

static inline guint16
get_u16 (const guint8 *p)
{
  guint16 v;
  memcpy (&v, p, sizeof (v));
  return GUINT16_FROM_LE (v);
}

static inline guint32
get_u32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, sizeof (v));
  return GUINT32_FROM_LE (v);
}

static inline guint64
get_u64 (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, sizeof (v));
  return GUINT64_FROM_LE (v);
}

static gboolean
check_len (gsize len, gsize need, const gchar *what, GError **error)
{
  if (len >= need)
    return TRUE;
  g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_SHORT,
               "%s is %" G_GSIZE_FORMAT " bytes, needs %" G_GSIZE_FORMAT, what,
               len, need);
  return FALSE;
}

gboolean
vms_is_hello_magic (const guint8 *data, gsize len)
{
  return len >= VMS_MAGIC_LEN
         && memcmp (data, VMS_HELLO_MAGIC, VMS_MAGIC_LEN) == 0;
}

gboolean
vms_hello_plausible (const guint8 *data, gsize len)
{
  guint16 version;
  guint32 caps_len;

  if (len < VMS_HELLO_SIZE || !vms_is_hello_magic (data, len))
    return FALSE;
  version = get_u16 (data + 4);
  caps_len = get_u32 (data + 8);
  return version >= 1 && version <= 0xff && caps_len >= 1
         && caps_len <= VMS_MAX_CAPS_LEN;
}

gsize
vms_hello_find (const guint8 *data, gsize len)
{
  gsize pos = 0;

  while (pos < len) {
    const guint8 *v = memchr (data + pos, VMS_HELLO_MAGIC[0], len - pos);
    gsize left;

    if (v == NULL)
      return len;
    pos = v - data;
    left = len - pos;
    if (left < VMS_HELLO_SIZE) {
      /* a cut-off tail: the magic's bytes so far decide */
      if (memcmp (v, VMS_HELLO_MAGIC, MIN (left, VMS_MAGIC_LEN)) == 0)
        return pos;
    } else if (vms_hello_plausible (v, left)) {
      return pos;
    }
    pos++;
  }
  return len;
}

gboolean
vms_hello_caps_plausible (const guint8 *caps, gsize len)
{
  if (len == 0 || len > VMS_MAX_CAPS_LEN || !g_ascii_isalpha (caps[0]))
    return FALSE;
  if (memchr (caps, '\0', len) != NULL
      || !g_utf8_validate ((const gchar *)caps, len, NULL))
    return FALSE;
  return vms_nesting_ok ((const gchar *)caps, len);
}

void
vms_hello_write (guint8 out[VMS_HELLO_SIZE], const VmsHello *hello)
{
  memcpy (out, VMS_HELLO_MAGIC, VMS_MAGIC_LEN);
  put_u16 (out + 4, hello->version);
  put_u16 (out + 6, hello->flags);
  put_u32 (out + 8, hello->caps_len);
}

/* The first VMS_MAGIC_LEN bytes of @data (at least that long) are
 * @magic, else an error naming message @what and what it means (@hint,
 * after the expected magic). */
static gboolean
check_magic (const guint8 *data, const gchar *magic, const gchar *what,
             const gchar *hint, GError **error)
{
  if (memcmp (data, magic, VMS_MAGIC_LEN) == 0)
    return TRUE;
  g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC,
               "bad %s magic %02x %02x %02x %02x (expected \"%s\")%s", what,
               data[0], data[1], data[2], data[3], magic, hint);
  return FALSE;
}

gboolean
vms_hello_parse (const guint8 *data, gsize len, VmsHello *hello, GError **error)
{
  if (!check_len (len, VMS_HELLO_SIZE, "HELLO", error))
    return FALSE;
  if (!vms_is_hello_magic (data, len)) {
    g_set_error (
        error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC,
        "bad HELLO magic %02x %02x %02x %02x (expected \"VMS1\"): the peer "
        "does not speak the vmstream protocol",
        data[0], data[1], data[2], data[3]);
    return FALSE;
  }
  hello->version = get_u16 (data + 4);
  hello->flags = get_u16 (data + 6);
  hello->caps_len = get_u32 (data + 8);
  if (hello->caps_len == 0 || hello->caps_len > VMS_MAX_CAPS_LEN) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE,
                 "HELLO caps length %u is outside 1..%u", hello->caps_len,
                 VMS_MAX_CAPS_LEN);
    return FALSE;
  }
  return TRUE;
}

void
vms_welcome_write (guint8 out[VMS_WELCOME_SIZE], const VmsWelcome *welcome)
{
  memcpy (out, VMS_WELCOME_MAGIC, VMS_MAGIC_LEN);
  put_u16 (out + 4, welcome->version);
  put_u16 (out + 6, welcome->status);
  put_u32 (out + 8, welcome->max_frame);
}

gboolean
vms_welcome_parse (const guint8 *data, gsize len, VmsWelcome *welcome,
                   GError **error)
{
  if (!check_len (len, VMS_WELCOME_SIZE, "WELCOME", error))
    return FALSE;
  if (!check_magic (data, VMS_WELCOME_MAGIC, "WELCOME",
                    ": the listener is not a vmstream source", error))
    return FALSE;
  welcome->version = get_u16 (data + 4);
  welcome->status = get_u16 (data + 6);
  welcome->max_frame = get_u32 (data + 8);
  return TRUE;
}

const gchar *
vms_status_to_string (guint16 status)
{
  switch (status) {
    case VMS_STATUS_OK:
      return "accepted";
    case VMS_STATUS_BAD_VERSION:
      return "protocol version not supported by the receiver";
    case VMS_STATUS_BAD_CAPS:
      return "caps refused by the receiver";
    case VMS_STATUS_BUSY:
      return "receiver busy with another sender";
    case VMS_STATUS_AUTH_FAILED:
      return "authentication failed (the link secret is missing or wrong)";
    default:
      return "unknown status";
  }
}

void
vms_challenge_write (guint8 out[VMS_CHALLENGE_SIZE], const VmsChallenge *c)
{
  memcpy (out, VMS_CHALLENGE_MAGIC, VMS_MAGIC_LEN);
  put_u16 (out + 4, c->version);
  put_u16 (out + 6, c->flags);
  memcpy (out + 8, c->nonce, VMS_NONCE_LEN);
}

gboolean
vms_challenge_parse (const guint8 *data, gsize len, VmsChallenge *c,
                     GError **error)
{
  if (!check_len (len, VMS_CHALLENGE_SIZE, "CHALLENGE", error))
    return FALSE;
  if (!check_magic (data, VMS_CHALLENGE_MAGIC, "CHALLENGE", "", error))
    return FALSE;
  c->version = get_u16 (data + 4);
  c->flags = get_u16 (data + 6);
  memcpy (c->nonce, data + 8, VMS_NONCE_LEN);
  if (c->flags & ~VMS_CHALLENGE_FLAG_SECRET_REQUIRED) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_LAYOUT,
                 "unknown CHALLENGE flags 0x%x", c->flags);
    return FALSE;
  }
  return TRUE;
}

void
vms_auth_write (guint8 out[VMS_AUTH_SIZE], const VmsAuth *a)
{
  memcpy (out, VMS_AUTH_MAGIC, VMS_MAGIC_LEN);
  put_u16 (out + 4, a->version);
  put_u16 (out + 6, a->flags);
  memcpy (out + 8, a->mac, VMS_MAC_LEN);
}

gboolean
vms_auth_parse (const guint8 *data, gsize len, VmsAuth *a, GError **error)
{
  if (!check_len (len, VMS_AUTH_SIZE, "AUTH", error))
    return FALSE;
  if (!check_magic (data, VMS_AUTH_MAGIC, "AUTH", "", error))
    return FALSE;
  a->version = get_u16 (data + 4);
  a->flags = get_u16 (data + 6);
  memcpy (a->mac, data + 8, VMS_MAC_LEN);
  if (a->flags & ~VMS_AUTH_FLAG_MAC) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_LAYOUT,
                 "unknown AUTH flags 0x%x", a->flags);
    return FALSE;
  }
  return TRUE;
}

#define VMS_AUTH_LABEL "vmstream-link-v2"

void
vms_auth_compute_mac (const guint8 *secret, gsize secret_len,
                      const guint8 nonce[VMS_NONCE_LEN],
                      guint8 mac[VMS_MAC_LEN])
{
  GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, secret, secret_len);
  gsize len = VMS_MAC_LEN;

  g_hmac_update (hmac, (const guchar *)VMS_AUTH_LABEL, strlen (VMS_AUTH_LABEL));
  g_hmac_update (hmac, nonce, VMS_NONCE_LEN);
  g_hmac_get_digest (hmac, mac, &len);
  g_hmac_unref (hmac);
  g_assert (len == VMS_MAC_LEN);
}

gboolean
vms_equal_const_time (const guint8 *a, const guint8 *b, gsize len)
{
  volatile guint8 diff = 0;
  gsize i;

  for (i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

gboolean
vms_auth_verify (const VmsAuth *auth, const guint8 *secret, gsize secret_len,
                 const guint8 nonce[VMS_NONCE_LEN])
{
  guint8 expected[VMS_MAC_LEN];
  gboolean ok;

  vms_auth_compute_mac (secret, secret_len, nonce, expected);
  ok = vms_equal_const_time (auth->mac, expected, VMS_MAC_LEN);
  memset (expected, 0, sizeof (expected));
  return ok && (auth->flags & VMS_AUTH_FLAG_MAC) != 0;
}

gboolean
vms_secret_check (const gchar *secret, gsize len, GError **error)
{
  if (len == 0 || len > VMS_MAX_SECRET_LEN) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE,
                 "the link secret is %" G_GSIZE_FORMAT
                 " bytes long, it must be 1..%u",
                 len, VMS_MAX_SECRET_LEN);
    return FALSE;
  }
  if (memchr (secret, '\0', len) != NULL) {
    g_set_error_literal (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_AUTH,
                         "the link secret contains a NUL byte");
    return FALSE;
  }
  return TRUE;
}

void
vms_msg_header_write (guint8 out[VMS_MSG_HEADER_SIZE], const VmsMsgHeader *h)
{
  guint i;

  put_u32 (out + 0, h->type);
  put_u32 (out + 4, h->flags);
  put_u64 (out + 8, h->pts);
  put_u64 (out + 16, h->dts);
  put_u64 (out + 24, h->duration);
  put_u64 (out + 32, h->capture_time);
  put_u64 (out + 40, h->seq);
  put_u32 (out + 48, h->size);
  put_u32 (out + 52, h->n_planes);
  for (i = 0; i < VMS_MAX_PLANES; i++) {
    put_u32 (out + 56 + 4 * i, h->offset[i]);
    put_u32 (out + 72 + 4 * i, (guint32)h->stride[i]);
  }
}

static gboolean bad_layout (GError **error, const gchar *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
bad_layout (GError **error, const gchar *fmt, ...)
{
  va_list args;
  gchar *msg;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error_literal (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_LAYOUT,
                       msg);
  g_free (msg);
  return FALSE;
}

gboolean
vms_msg_header_parse (const guint8 *data, gsize len, guint32 max_frame,
                      VmsMsgHeader *h, GError **error)
{
  guint i;

  if (!check_len (len, VMS_MSG_HEADER_SIZE, "message header", error))
    return FALSE;

  memset (h, 0, sizeof (*h));
  h->type = get_u32 (data + 0);
  h->flags = get_u32 (data + 4);
  h->pts = get_u64 (data + 8);
  h->dts = get_u64 (data + 16);
  h->duration = get_u64 (data + 24);
  h->capture_time = get_u64 (data + 32);
  h->seq = get_u64 (data + 40);
  h->size = get_u32 (data + 48);
  h->n_planes = get_u32 (data + 52);
  for (i = 0; i < VMS_MAX_PLANES; i++) {
    h->offset[i] = get_u32 (data + 56 + 4 * i);
    h->stride[i] = (gint32)get_u32 (data + 72 + 4 * i);
  }

  switch (h->type) {
    case VMS_MSG_FRAME:
      if (h->size > max_frame || h->size > VMS_HARD_MAX_FRAME) {
        g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE,
                     "frame of %u bytes exceeds the limit of %u bytes", h->size,
                     MIN (max_frame, (guint32)VMS_HARD_MAX_FRAME));
        return FALSE;
      }
      if (h->flags & ~VMS_FRAME_FLAGS_KNOWN)
        return bad_layout (error, "unknown frame flags 0x%x", h->flags);
      if (h->flags & VMS_FRAME_FLAG_VIDEO_META) {
        if (h->n_planes == 0 || h->n_planes > VMS_MAX_PLANES)
          return bad_layout (error, "frame has %u planes, expected 1..%u",
                             h->n_planes, VMS_MAX_PLANES);
        for (i = 0; i < h->n_planes; i++) {
          if (h->offset[i] >= h->size)
            return bad_layout (
                error, "plane %u offset %u lies outside the %u-byte frame", i,
                h->offset[i], h->size);
          if (h->stride[i] <= 0)
            return bad_layout (error, "plane %u stride %d is not positive", i,
                               h->stride[i]);
        }
      } else if (h->n_planes != 0) {
        return bad_layout (error, "frame without video layout has %u planes",
                           h->n_planes);
      }
      break;
    case VMS_MSG_CAPS:
      if (h->size == 0 || h->size > VMS_MAX_CAPS_LEN) {
        g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE,
                     "CAPS message length %u is outside 1..%u", h->size,
                     VMS_MAX_CAPS_LEN);
        return FALSE;
      }
      break;
    case VMS_MSG_EOS:
    case VMS_MSG_PING:
      if (h->size != 0)
        return bad_layout (error, "%s message carries %u payload bytes",
                           h->type == VMS_MSG_EOS ? "EOS" : "PING", h->size);
      break;
    default:
      g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_TYPE,
                   "unknown message type %u (0x%08x)", h->type, h->type);
      return FALSE;
  }
  return TRUE;
}

void
vms_back_header_write (guint8 out[VMS_BACK_HEADER_SIZE],
                       const VmsBackHeader *hdr)
{
  put_u32 (out, hdr->type);
  put_u32 (out + 4, hdr->len);
}

gboolean
vms_back_header_parse (const guint8 *data, gsize len, VmsBackHeader *hdr,
                       GError **error)
{
  if (!check_len (len, VMS_BACK_HEADER_SIZE, "back-channel header", error))
    return FALSE;
  hdr->type = get_u32 (data);
  hdr->len = get_u32 (data + 4);
  if (hdr->type < VMS_BACK_KEYFRAME_REQUEST || hdr->type > VMS_BACK_RESIZE) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_TYPE,
                 "unknown back-channel message type %u", hdr->type);
    return FALSE;
  }
  if (hdr->len > VMS_MAX_BACK_LEN) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE,
                 "back-channel message of %u bytes exceeds %u", hdr->len,
                 VMS_MAX_BACK_LEN);
    return FALSE;
  }
  if (hdr->type == VMS_BACK_RESIZE && hdr->len != VMS_BACK_RESIZE_SIZE)
    return bad_layout (error, "RESIZE message of %u bytes, expected %u",
                       hdr->len, VMS_BACK_RESIZE_SIZE);
  return TRUE;
}

void
vms_back_resize_write (guint8 out[VMS_BACK_RESIZE_SIZE], guint32 width,
                       guint32 height)
{
  put_u32 (out, width);
  put_u32 (out + 4, height);
}

gboolean
vms_back_resize_parse (const guint8 *data, gsize len, guint32 *width,
                       guint32 *height, GError **error)
{
  if (len != VMS_BACK_RESIZE_SIZE)
    return bad_layout (
        error, "RESIZE payload of %" G_GSIZE_FORMAT " bytes, expected %u", len,
        VMS_BACK_RESIZE_SIZE);
  *width = get_u32 (data);
  *height = get_u32 (data + 4);
  if (*width == 0 || *width > VMS_MAX_RESIZE_DIM || *height == 0
      || *height > VMS_MAX_RESIZE_DIM)
    return bad_layout (error, "RESIZE to %ux%u: each side must be 1..%u",
                       *width, *height, VMS_MAX_RESIZE_DIM);
  return TRUE;
}

/* GStreamer parses nested <arrays>, [ranges], {lists} and quoted typed
 * values recursively: a peer's "<<<<..." would overflow the stack inside
 * gst_caps_from_string(). The shared guard (common/vmsnest.c) counts every
 * level, also inside quoted values that GStreamer parses again. */
gboolean
vms_nesting_ok (const gchar *s, gsize len)
{
  return vms_caps_nesting_check (s, len, VMS_MAX_CAPS_NESTING, NULL);
}

GstCaps *
vms_caps_parse (const guint8 *data, gsize len, GError **error)
{
  gchar *str;
  GstCaps *caps;

  if (len == 0 || len > VMS_MAX_CAPS_LEN) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE,
                 "caps string length %" G_GSIZE_FORMAT " is outside 1..%u", len,
                 VMS_MAX_CAPS_LEN);
    return NULL;
  }
  if (memchr (data, '\0', len) != NULL
      || !g_utf8_validate ((const gchar *)data, len, NULL)) {
    g_set_error_literal (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_CAPS,
                         "caps string is not valid UTF-8 text");
    return NULL;
  }
  if (!vms_nesting_ok ((const gchar *)data, len)) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_CAPS,
                 "caps string nests lists, ranges, arrays or quoted values "
                 "deeper than %d levels",
                 VMS_MAX_CAPS_NESTING);
    return NULL;
  }
  str = g_strndup ((const gchar *)data, len);
  caps = gst_caps_from_string (str);
  if (caps == NULL) {
    g_set_error (error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_CAPS,
                 "cannot parse caps \"%.200s\"", str);
    g_free (str);
    return NULL;
  }
  if (!gst_caps_is_fixed (caps)) {
    g_set_error (
        error, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_CAPS,
        "caps \"%.200s\" are not fixed (one structure, no ranges or lists)",
        str);
    gst_caps_unref (caps);
    g_free (str);
    return NULL;
  }
  g_free (str);
  return caps;
}

GstCaps *
vms_capture_time_caps (void)
{
  static GstCaps *caps;

  if (g_once_init_enter (&caps)) {
    GstCaps *c = gst_caps_new_empty_simple ("timestamp/x-unix");
    GST_MINI_OBJECT_FLAG_SET (c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&caps, c);
  }
  return caps;
}
