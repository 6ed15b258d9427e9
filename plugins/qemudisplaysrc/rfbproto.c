/* rfbproto: RFB 3.8 client state machine over bytes, see rfbproto.h.
 * Message layouts from RFC 6143 (The Remote Framebuffer Protocol).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rfbproto.h"

#include <gst/base/gstbytereader.h>
#include <string.h>

GQuark
rfb_error_quark (void)
{
  return g_quark_from_static_string ("rfb-error-quark");
}

#define RFB_VERSION_LEN 12

#define RFB_SECURITY_NONE 1

void
rfb_client_init (RfbClient *c, guint max_width, guint max_height)
{
  memset (c, 0, sizeof (*c));
  c->max_width = CLAMP (max_width, 1, RFB_HARD_MAX_DIMENSION);
  c->max_height = CLAMP (max_height, 1, RFB_HARD_MAX_DIMENSION);
  c->out = g_byte_array_new ();
  c->state = RFB_STATE_VERSION;
}

void
rfb_client_reset (RfbClient *c)
{
  g_clear_pointer (&c->fb, g_free);
  g_clear_pointer (&c->name, g_free);
  g_byte_array_set_size (c->out, 0);
  c->width = c->height = 0;
  c->events = 0;
  c->rects_left = 0;
  c->rx = c->ry = c->rw = c->rh = c->row = 0;
  c->skip_left = 0;
  c->resized = FALSE;
  c->state = RFB_STATE_VERSION;
}

void
rfb_client_clear (RfbClient *c)
{
  rfb_client_reset (c);
  g_clear_pointer (&c->out, g_byte_array_unref);
}

static void
put_u8 (GByteArray *out, guint8 v)
{
  g_byte_array_append (out, &v, 1);
}

static void
put_u16 (GByteArray *out, guint16 v)
{
  guint8 b[2] = { v >> 8, v & 0xff };
  g_byte_array_append (out, b, 2);
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_byte_array_append (out, b, 4);
}

void
rfb_write_set_pixel_format (GByteArray *out)
{
  put_u8 (out, 0); /* SetPixelFormat */
  put_u8 (out, 0);
  put_u16 (out, 0);   /* padding */
  put_u8 (out, 32);   /* bits per pixel */
  put_u8 (out, 24);   /* depth */
  put_u8 (out, 0);    /* big-endian-flag: little endian */
  put_u8 (out, 1);    /* true-colour-flag */
  put_u16 (out, 255); /* red-max */
  put_u16 (out, 255); /* green-max */
  put_u16 (out, 255); /* blue-max */
  put_u8 (out, 16);   /* red-shift */
  put_u8 (out, 8);    /* green-shift */
  put_u8 (out, 0);    /* blue-shift */
  put_u8 (out, 0);    /* padding (3) */
  put_u16 (out, 0);
}

void
rfb_write_set_encodings (GByteArray *out)
{
  put_u8 (out, 2); /* SetEncodings */
  put_u8 (out, 0);
  put_u16 (out, 2);
  put_u32 (out, (guint32)RFB_ENCODING_RAW);
  put_u32 (out, (guint32)RFB_ENCODING_DESKTOP_SIZE);
}

void
rfb_write_update_request (GByteArray *out, gboolean incremental, guint x,
                          guint y, guint w, guint h)
{
  put_u8 (out, 3); /* FramebufferUpdateRequest */
  put_u8 (out, incremental ? 1 : 0);
  put_u16 (out, x);
  put_u16 (out, y);
  put_u16 (out, w);
  put_u16 (out, h);
}

static gboolean fail (RfbClient *c, GError **error, RfbError code,
                      const gchar *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (RfbClient *c, GError **error, RfbError code, const gchar *fmt, ...)
{
  va_list ap;

  c->state = RFB_STATE_FAILED;
  if (error) {
    va_start (ap, fmt);
    *error = g_error_new_valist (RFB_ERROR, code, fmt, ap);
    va_end (ap);
  }
  return FALSE;
}

/* A server-supplied string, made printable for a message. */
static gchar *
server_string (const guint8 *data, guint32 len)
{
  gchar *s = g_utf8_make_valid ((const gchar *)data, len);
  for (gchar *p = s; *p; p++)
    if ((guchar)*p < 0x20)
      *p = ' ';
  return s;
}

static const gchar *
security_type_name (guint8 t)
{
  switch (t) {
    case 2:
      return "VNC password";
    case 5:
    case 6:
      return "RA2";
    case 16:
      return "Tight";
    case 18:
      return "TLS";
    case 19:
      return "VeNCrypt (TLS/x509/SASL)";
    case 20:
      return "SASL";
    default:
      return "unknown";
  }
}

static gboolean
check_size (RfbClient *c, guint w, guint h, GError **error)
{
  if (w == 0 || h == 0)
    return fail (c, error, RFB_ERROR_BAD_MESSAGE,
                 "the server announced an empty %ux%u framebuffer", w, h);
  if (w > c->max_width || h > c->max_height)
    return fail (c, error, RFB_ERROR_TOO_LARGE,
                 "the server's framebuffer of %ux%u is larger than the "
                 "%ux%u accepted",
                 w, h, c->max_width, c->max_height);
  return TRUE;
}

static gboolean
set_size (RfbClient *c, guint w, guint h, GError **error)
{
  guint8 *fb;

  if (!check_size (c, w, h, error))
    return FALSE;
  fb = g_try_malloc0 ((gsize)w * h * RFB_BPP);
  if (fb == NULL)
    return fail (c, error, RFB_ERROR_TOO_LARGE,
                 "no memory for a %ux%u framebuffer", w, h);
  g_free (c->fb);
  c->fb = fb;
  c->blank = TRUE;
  c->width = w;
  c->height = h;
  return TRUE;
}

static void
update_done (RfbClient *c)
{
  gboolean full = c->resized;

  c->resized = FALSE;
  c->events |= RFB_EVENT_UPDATE;
  c->updates++;
  /* the next incremental request went out with this update's header;
   * after a resize everything is new: ask for all of it */
  if (full)
    rfb_write_update_request (c->out, FALSE, 0, 0, c->width, c->height);
  c->state = RFB_STATE_MESSAGE;
}

static void
rect_done (RfbClient *c)
{
  if (--c->rects_left == 0)
    update_done (c);
  else
    c->state = RFB_STATE_RECT_HEADER;
}

/* Big-endian integers through the reader's bounds checks, assembled byte
 * by byte: GStreamer 1.22's gst_byte_reader_get_uint32_be() loads through
 * an unaligned pointer on x86, which UBSan rightly reports, and server
 * bytes sit at any offset. */
static gboolean
get_u16 (GstByteReader *r, guint16 *v)
{
  const guint8 *p;

  if (!gst_byte_reader_get_data (r, 2, &p))
    return FALSE;
  *v = (guint16)((p[0] << 8) | p[1]);
  return TRUE;
}

static gboolean
get_u32 (GstByteReader *r, guint32 *v)
{
  const guint8 *p;

  if (!gst_byte_reader_get_data (r, 4, &p))
    return FALSE;
  *v = ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8)
       | p[3];
  return TRUE;
}

/* The feed_* steps of rfb_client_feed, one a state: FALSE when the
 * connection failed (c->state is RFB_STATE_FAILED, @error set); TRUE with
 * *more when the state's message is not whole yet (nothing consumed). */
static gboolean
need_more (gboolean *more)
{
  *more = TRUE;
  return TRUE;
}

/* The server's ProtocolVersion: RFB 3.8 or later, answered with 3.8. */
static gboolean
feed_version (RfbClient *c, GstByteReader *r, gboolean *more, GError **error)
{
  const guint8 *v;
  guint major, minor;

  if (!gst_byte_reader_get_data (r, RFB_VERSION_LEN, &v))
    return need_more (more);
  if (memcmp (v, "RFB ", 4) != 0 || v[7] != '.' || v[11] != '\n'
      || !g_ascii_isdigit (v[4]) || !g_ascii_isdigit (v[5])
      || !g_ascii_isdigit (v[6]) || !g_ascii_isdigit (v[8])
      || !g_ascii_isdigit (v[9]) || !g_ascii_isdigit (v[10]))
    return fail (c, error, RFB_ERROR_VERSION,
                 "the peer is not a VNC (RFB) server: it did not "
                 "start with \"RFB xxx.yyy\"");
  major = (v[4] - '0') * 100 + (v[5] - '0') * 10 + (v[6] - '0');
  minor = (v[8] - '0') * 100 + (v[9] - '0') * 10 + (v[10] - '0');
  if (major != 3 || minor < 8)
    return fail (c, error, RFB_ERROR_VERSION,
                 "the VNC server speaks RFB %u.%u; qemudisplaysrc "
                 "needs RFB 3.8",
                 major, minor);
  g_byte_array_append (c->out, (const guint8 *)"RFB 003.008\n",
                       RFB_VERSION_LEN);
  c->state = RFB_STATE_SECURITY_TYPES;
  return TRUE;
}

/* A refusal's reason string (u32 length, bytes): always fails, with WHAT and
 * the server's reason, or asks for more bytes. */
static gboolean
feed_refusal (RfbClient *c, GstByteReader *r, gboolean *more, GError **error,
              RfbError code, const gchar *what)
{
  guint32 rlen;
  const guint8 *reason;
  g_autofree gchar *s = NULL;

  if (!get_u32 (r, &rlen))
    return need_more (more);
  if (rlen > RFB_MAX_STRING)
    return fail (c, error, RFB_ERROR_TOO_LARGE,
                 "the VNC server refused the connection with a "
                 "%u-byte reason",
                 rlen);
  if (!gst_byte_reader_get_data (r, rlen, &reason))
    return need_more (more);
  s = server_string (reason, rlen);
  return fail (c, error, code, "%s: %s", what, s);
}

/* The security types offered: None must be one (a refusal's reason is read). */
static gboolean
feed_security_types (RfbClient *c, GstByteReader *r, gboolean *more,
                     GError **error)
{
  guint8 n, t;
  const guint8 *types;
  gboolean none = FALSE;
  GString *names;

  if (!gst_byte_reader_get_uint8 (r, &n))
    return need_more (more);
  if (n == 0) {
    return feed_refusal (c, r, more, error, RFB_ERROR_REFUSED,
                         "the VNC server refused the connection");
  }
  if (!gst_byte_reader_get_data (r, n, &types))
    return need_more (more);
  names = g_string_new (NULL);
  for (guint i = 0; i < n; i++) {
    t = types[i];
    none |= t == RFB_SECURITY_NONE;
    g_string_append_printf (names, "%s%u (%s)", i ? ", " : "", t,
                            security_type_name (t));
  }
  if (!none) {
    g_autofree gchar *s = g_string_free (names, FALSE);
    return fail (c, error, RFB_ERROR_AUTH,
                 "the VNC server requires authentication (it offers "
                 "security types %s); qemudisplaysrc connects only "
                 "without a password: start QEMU with -vnc "
                 "unix:PATH and no password, tls-creds or sasl "
                 "option (the socket's file mode protects it)",
                 s);
  }
  g_string_free (names, TRUE);
  put_u8 (c->out, RFB_SECURITY_NONE);
  c->state = RFB_STATE_SECURITY_RESULT;
  return TRUE;
}

/* SecurityResult: 0, else the server's reason; then ClientInit (shared). */
static gboolean
feed_security_result (RfbClient *c, GstByteReader *r, gboolean *more,
                      GError **error)
{
  guint32 result;

  if (!get_u32 (r, &result))
    return need_more (more);
  if (result != 0) {
    return feed_refusal (c, r, more, error, RFB_ERROR_AUTH,
                         "the VNC server refused the connection without "
                         "authentication");
  }
  put_u8 (c->out, 1); /* ClientInit: shared, keep other viewers */
  c->state = RFB_STATE_SERVER_INIT;
  return TRUE;
}

/* ServerInit: the size and name; then our pixel format, encodings and the first
 * request. */
static gboolean
feed_server_init (RfbClient *c, GstByteReader *r, gboolean *more,
                  GError **error)
{
  guint16 w, h;
  guint32 nlen;
  const guint8 *name;

  if (!get_u16 (r, &w) || !get_u16 (r, &h)
      || !gst_byte_reader_skip (r, 16) /* the server's format */
      || !get_u32 (r, &nlen))
    return need_more (more);
  if (nlen > RFB_MAX_STRING)
    return fail (c, error, RFB_ERROR_TOO_LARGE,
                 "the VNC server sent a %u-byte desktop name", nlen);
  if (!gst_byte_reader_get_data (r, nlen, &name))
    return need_more (more);
  if (!set_size (c, w, h, error))
    return FALSE;
  g_free (c->name);
  c->name = server_string (name, nlen);
  rfb_write_set_pixel_format (c->out);
  rfb_write_set_encodings (c->out);
  rfb_write_update_request (c->out, FALSE, 0, 0, w, h);
  c->events |= RFB_EVENT_READY;
  c->state = RFB_STATE_MESSAGE;
  return TRUE;
}

/* A server message's header: FramebufferUpdate (answered at once with the
 * next request), SetColourMapEntries and ServerCutText (their bodies
 * skipped), Bell. */
static gboolean
feed_message (RfbClient *c, GstByteReader *r, gboolean *more, GError **error)
{
  guint8 type;
  guint16 n;
  guint32 tlen;

  if (!gst_byte_reader_get_uint8 (r, &type))
    return need_more (more);
  switch (type) {
    case 0: /* FramebufferUpdate */
      if (!gst_byte_reader_skip (r, 1) || !get_u16 (r, &n))
        return need_more (more);
      /* pipelined: ask for the next update before reading this one,
       * so that QEMU has a request pending at its next refresh
       * instead of waiting a round trip after a large update */
      rfb_write_update_request (c->out, TRUE, 0, 0, c->width, c->height);
      c->rects_left = n;
      if (n == 0)
        update_done (c);
      else
        c->state = RFB_STATE_RECT_HEADER;
      break;
    case 1: /* SetColourMapEntries: meaningless in true colour, skip */
      if (!gst_byte_reader_skip (r, 3) || !get_u16 (r, &n))
        return need_more (more);
      c->skip_left = (guint64)n * 6;
      c->state = c->skip_left ? RFB_STATE_SKIP : RFB_STATE_MESSAGE;
      break;
    case 2: /* Bell */
      c->events |= RFB_EVENT_BELL;
      break;
    case 3: /* ServerCutText: skipped, never buffered */
      if (!gst_byte_reader_skip (r, 3) || !get_u32 (r, &tlen))
        return need_more (more);
      c->skip_left = tlen;
      c->state = c->skip_left ? RFB_STATE_SKIP : RFB_STATE_MESSAGE;
      break;
    default:
      return fail (c, error, RFB_ERROR_BAD_MESSAGE,
                   "the VNC server sent an unknown message type %u", type);
  }
  return TRUE;
}

/* A rectangle's header: raw inside the framebuffer, or DesktopSize. */
static gboolean
feed_rect_header (RfbClient *c, GstByteReader *r, gboolean *more,
                  GError **error)
{
  guint16 x, y, w, h;
  guint32 uenc;
  gint32 enc;

  if (!get_u16 (r, &x) || !get_u16 (r, &y) || !get_u16 (r, &w)
      || !get_u16 (r, &h) || !get_u32 (r, &uenc))
    return need_more (more);
  enc = (gint32)uenc;
  if (enc == RFB_ENCODING_RAW) {
    /* guint arithmetic on 16-bit values: no overflow */
    if ((guint)x + w > c->width || (guint)y + h > c->height)
      return fail (c, error, RFB_ERROR_BAD_RECT,
                   "the VNC server sent a %ux%u rectangle at %u,%u "
                   "outside its %ux%u framebuffer",
                   w, h, x, y, c->width, c->height);
    c->rx = x;
    c->ry = y;
    c->rw = w;
    c->rh = h;
    c->row = 0;
    if (w == 0 || h == 0)
      rect_done (c);
    else
      c->state = RFB_STATE_RECT_ROWS;
  } else if (enc == RFB_ENCODING_DESKTOP_SIZE) {
    if (!set_size (c, w, h, error))
      return FALSE;
    c->events |= RFB_EVENT_RESIZED;
    c->resized = TRUE;
    rect_done (c);
  } else {
    return fail (c, error, RFB_ERROR_BAD_ENCODING,
                 "the VNC server sent a rectangle in encoding %d, "
                 "which was not asked for",
                 enc);
  }
  return TRUE;
}

/* As many whole rows of the raw rectangle as there are, into the framebuffer.
 */
static gboolean
feed_rect_rows (RfbClient *c, GstByteReader *r, gsize avail, gboolean *more,
                GError **error)
{
  gsize row_bytes = (gsize)c->rw * RFB_BPP;
  gsize stride = (gsize)c->width * RFB_BPP;
  guint rows = MIN (avail / row_bytes, c->rh - c->row);
  const guint8 *src;

  if (rows == 0)
    return need_more (more);
  src = gst_byte_reader_get_data_unchecked (r, rows * row_bytes);
  for (guint i = 0; i < rows; i++)
    memcpy (c->fb + (c->ry + c->row + i) * stride + (gsize)c->rx * RFB_BPP,
            src + i * row_bytes, row_bytes);
  c->row += rows;
  c->blank = FALSE;
  if (c->row == c->rh)
    rect_done (c);
  return TRUE;
}

/* Bytes skipped (colour map entries, cut text), never buffered. */
static gboolean
feed_skip (RfbClient *c, GstByteReader *r, gsize avail, gboolean *more,
           GError **error)
{
  gsize n = MIN ((guint64)avail, c->skip_left);

  if (n == 0)
    return need_more (more);
  gst_byte_reader_skip_unchecked (r, n);
  c->skip_left -= n;
  if (c->skip_left == 0)
    c->state = RFB_STATE_MESSAGE;
  return TRUE;
}

gboolean
rfb_client_feed (RfbClient *c, const guint8 *data, gsize len, gsize *consumed,
                 GError **error)
{
  gsize pos = 0;

  *consumed = 0;
  for (;;) {
    GstByteReader r;
    gsize avail = len - pos;
    gboolean ok = TRUE, more = FALSE;

    gst_byte_reader_init (&r, data + pos, avail);
    switch (c->state) {
      case RFB_STATE_VERSION:
        ok = feed_version (c, &r, &more, error);
        break;
      case RFB_STATE_SECURITY_TYPES:
        ok = feed_security_types (c, &r, &more, error);
        break;
      case RFB_STATE_SECURITY_RESULT:
        ok = feed_security_result (c, &r, &more, error);
        break;
      case RFB_STATE_SERVER_INIT:
        ok = feed_server_init (c, &r, &more, error);
        break;
      case RFB_STATE_MESSAGE:
        ok = feed_message (c, &r, &more, error);
        break;
      case RFB_STATE_RECT_HEADER:
        ok = feed_rect_header (c, &r, &more, error);
        break;
      case RFB_STATE_RECT_ROWS:
        ok = feed_rect_rows (c, &r, avail, &more, error);
        break;
      case RFB_STATE_SKIP:
        ok = feed_skip (c, &r, avail, &more, error);
        break;
      case RFB_STATE_FAILED:
      default:
        return fail (c, error, RFB_ERROR_BAD_MESSAGE,
                     "the connection already failed");
    }
    if (!ok)
      return FALSE;
    if (more)
      goto need_more;
    pos += gst_byte_reader_get_pos (&r);
    *consumed = pos;
  }

need_more:
  *consumed = pos;
  return TRUE;
}
