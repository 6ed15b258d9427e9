/* rfbproto (qemudisplaysrc's RFB client) against synthetic server bytes:
 * the handshake, the client's messages byte for byte, raw rectangles,
 * DesktopSize, bytes arriving one at a time, and every rejection path. */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "rfbproto.h"

static void
put16 (GByteArray *b, guint v)
{
  guint8 x[2] = { v >> 8, v };
  g_byte_array_append (b, x, 2);
}

static void
put32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (b, x, 4);
}

static void
put8 (GByteArray *b, guint v)
{
  guint8 x = v;
  g_byte_array_append (b, &x, 1);
}

static void
server_init (GByteArray *b, guint w, guint h, const gchar *name)
{
  put16 (b, w);
  put16 (b, h);
  for (int i = 0; i < 16; i++)
    put8 (b, 0); /* the server's pixel format: ignored */
  put32 (b, strlen (name));
  g_byte_array_append (b, (const guint8 *)name, strlen (name));
}

static void
rect_header (GByteArray *b, guint x, guint y, guint w, guint h, gint32 enc)
{
  put16 (b, x);
  put16 (b, y);
  put16 (b, w);
  put16 (b, h);
  put32 (b, (guint32)enc);
}

/* Feeds all of b, as the element does: whatever was not consumed is kept
 * and offered again with the next bytes. step = bytes per read (0: all). */
static gboolean
feed (RfbClient *c, GByteArray *b, gsize step, GError **err)
{
  GByteArray *in = g_byte_array_new ();
  gsize pos = 0;
  gboolean ok = TRUE;

  while (ok && pos < b->len) {
    gsize n = step ? MIN (step, b->len - pos) : b->len - pos;
    gsize consumed;

    g_byte_array_append (in, b->data + pos, n);
    pos += n;
    ok = rfb_client_feed (c, in->data, in->len, &consumed, err);
    fail_unless (consumed <= in->len);
    g_byte_array_remove_range (in, 0, consumed);
  }
  g_byte_array_unref (in);
  return ok;
}

/* Server bytes up to and including ServerInit. */
static GByteArray *
handshake_bytes (guint w, guint h)
{
  GByteArray *b = g_byte_array_new ();

  g_byte_array_append (b, (const guint8 *)"RFB 003.008\n", 12);
  put8 (b, 2); /* two security types: VNC auth, None */
  put8 (b, 2);
  put8 (b, 1);
  put32 (b, 0); /* SecurityResult OK */
  server_init (b, w, h, "QEMU (vm0)");
  return b;
}

static void
connect_client (RfbClient *c, guint w, guint h)
{
  GByteArray *b = handshake_bytes (w, h);
  GError *err = NULL;

  fail_unless (feed (c, b, 0, &err));
  fail_unless (err == NULL);
  fail_unless_equals_int (c->state, RFB_STATE_MESSAGE);
  g_byte_array_set_size (c->out, 0);
  c->events = 0;
  g_byte_array_unref (b);
}

static const guint8 expected_client[] = {
  'R',  'F',  'B',  ' ',  '0', '0', '3', '.', '0', '0', '8',
  '\n', 1,                                              /* security type None */
  1,                                                    /* ClientInit: shared */
  0,    0,    0,    0,                                  /* SetPixelFormat */
  32,   24,   0,    1,    0,   255, 0,   255, 0,   255, /* bpp depth LE
                                                           truecolour maxima */
  16,   8,    0,    0,    0,   0, /* shifts: BGRx in memory */
  2,    0,    0,    2,            /* SetEncodings, 2 */
  0,    0,    0,    0,            /* raw */
  0xff, 0xff, 0xff, 0x21,         /* DesktopSize, -223 */
  3,    0,    0,    0,    0,   0,   0,   4,   0,   2, /* full update request 4x2
                                                       */
};

GST_START_TEST (test_handshake)
{
  RfbClient c;
  GByteArray *b = handshake_bytes (4, 2);
  GError *err = NULL;

  rfb_client_init (&c, 8192, 8192);
  fail_unless (feed (&c, b, 0, &err));
  fail_unless_equals_int (c.state, RFB_STATE_MESSAGE);
  fail_unless_equals_int (c.width, 4);
  fail_unless_equals_int (c.height, 2);
  fail_unless_equals_string (c.name, "QEMU (vm0)");
  fail_unless (c.events & RFB_EVENT_READY);
  fail_unless_equals_int (c.out->len, sizeof (expected_client));
  fail_unless (memcmp (c.out->data, expected_client, c.out->len) == 0);
  for (int i = 0; i < 8 * 4; i++)
    fail_unless_equals_int (c.fb[i], 0); /* black until the first update */
  rfb_client_clear (&c);

  /* the same bytes one at a time: the same result */
  rfb_client_init (&c, 8192, 8192);
  fail_unless (feed (&c, b, 1, &err));
  fail_unless_equals_int (c.state, RFB_STATE_MESSAGE);
  fail_unless_equals_int (c.out->len, sizeof (expected_client));
  fail_unless (memcmp (c.out->data, expected_client, c.out->len) == 0);

  /* a newer server version gets our 3.8 */
  rfb_client_reset (&c);
  g_byte_array_set_size (b, 0);
  g_byte_array_append (b, (const guint8 *)"RFB 003.889\n", 12);
  fail_unless (feed (&c, b, 0, &err));
  fail_unless (memcmp (c.out->data, "RFB 003.008\n", 12) == 0);
  fail_unless_equals_int (c.state, RFB_STATE_SECURITY_TYPES);
  rfb_client_clear (&c);
  g_byte_array_unref (b);
}

GST_END_TEST;

GST_START_TEST (test_raw_rects)
{
  RfbClient c;
  GByteArray *b = g_byte_array_new ();
  GError *err = NULL;
  guint8 px[4 * 2 * 4];

  rfb_client_init (&c, 8192, 8192);
  connect_client (&c, 4, 2);

  /* one update: the whole 4x2 frame, then a 1x1 at (3,1) over it */
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 2);
  rect_header (b, 0, 0, 4, 2, RFB_ENCODING_RAW);
  for (guint i = 0; i < sizeof (px); i++)
    px[i] = i + 1;
  g_byte_array_append (b, px, sizeof (px));
  rect_header (b, 3, 1, 1, 1, RFB_ENCODING_RAW);
  g_byte_array_append (b, (const guint8 *)"\xaa\xbb\xcc\xdd", 4);

  /* all but the last byte: the update is not complete */
  {
    GByteArray *part = g_byte_array_new ();
    gsize consumed;
    g_byte_array_append (part, b->data, b->len - 1);
    fail_unless (rfb_client_feed (&c, part->data, part->len, &consumed, &err));
    /* whole rows only: the 1-pixel row is 4 bytes, 3 are here */
    fail_unless_equals_int (consumed, b->len - 4);
    fail_if (c.events & RFB_EVENT_UPDATE);
    fail_unless_equals_int (c.state, RFB_STATE_RECT_ROWS);
    g_byte_array_unref (part);
    rfb_client_reset (&c);
    connect_client (&c, 4, 2);
  }

  fail_unless (feed (&c, b, 3, &err));
  fail_unless (c.events & RFB_EVENT_UPDATE);
  fail_unless_equals_int (c.updates, 1);
  memcpy (px + (1 * 4 + 3) * 4, "\xaa\xbb\xcc\xdd", 4);
  fail_unless (memcmp (c.fb, px, sizeof (px)) == 0);
  /* and the next, incremental, request */
  fail_unless_equals_int (c.out->len, 10);
  fail_unless (
      memcmp (c.out->data, "\x03\x01\x00\x00\x00\x00\x00\x04\x00\x02", 10)
      == 0);

  /* an empty update, a bell, colour map entries and cut text are fine */
  g_byte_array_set_size (b, 0);
  g_byte_array_set_size (c.out, 0);
  c.events = 0;
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 0);
  put8 (b, 2);
  put8 (b, 1);
  put8 (b, 0);
  put16 (b, 0);
  put16 (b, 2);
  for (int i = 0; i < 12; i++)
    put8 (b, 0x77);
  put8 (b, 3);
  put8 (b, 0);
  put16 (b, 0);
  put32 (b, 5);
  g_byte_array_append (b, (const guint8 *)"hello", 5);
  fail_unless (feed (&c, b, 2, &err));
  fail_unless_equals_int (c.state, RFB_STATE_MESSAGE);
  fail_unless (c.events & RFB_EVENT_BELL);
  fail_unless_equals_int (c.updates, 2);
  fail_unless (memcmp (c.fb, px, sizeof (px)) == 0);

  rfb_client_clear (&c);
  g_byte_array_unref (b);
}

GST_END_TEST;

GST_START_TEST (test_desktop_size)
{
  RfbClient c;
  GByteArray *b = g_byte_array_new ();
  GError *err = NULL;

  rfb_client_init (&c, 8192, 8192);
  connect_client (&c, 4, 2);
  memset (c.fb, 0x55, 4 * 2 * 4);

  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 2);
  rect_header (b, 0, 0, 3, 5, RFB_ENCODING_DESKTOP_SIZE);
  /* a rectangle that fits only the new size */
  rect_header (b, 0, 4, 3, 1, RFB_ENCODING_RAW);
  for (int i = 0; i < 12; i++)
    put8 (b, 0x10 + i);
  fail_unless (feed (&c, b, 0, &err));
  fail_unless_equals_int (c.width, 3);
  fail_unless_equals_int (c.height, 5);
  fail_unless (c.events & RFB_EVENT_RESIZED);
  fail_unless (c.events & RFB_EVENT_UPDATE);
  fail_if (c.blank); /* pixels arrived after the resize */
  for (int i = 0; i < 3 * 4 * 4; i++)
    fail_unless_equals_int (c.fb[i], 0); /* black after the resize */
  for (int i = 0; i < 12; i++)
    fail_unless_equals_int (c.fb[3 * 4 * 4 + i], 0x10 + i);
  /* the next (incremental, pipelined) request went out with the update's
   * header, at the old size; after a resize the whole new frame is asked
   * for, not incremental */
  fail_unless_equals_int (c.out->len, 20);
  fail_unless (
      memcmp (c.out->data, "\x03\x01\x00\x00\x00\x00\x00\x04\x00\x02", 10)
      == 0);
  fail_unless (
      memcmp (c.out->data + 10, "\x03\x00\x00\x00\x00\x00\x00\x03\x00\x05", 10)
      == 0);

  /* an update that only resizes leaves a blank framebuffer: not a
   * picture (the element keeps showing the previous one) */
  g_byte_array_set_size (b, 0);
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 0, 0, 7, 7, RFB_ENCODING_DESKTOP_SIZE);
  fail_unless (feed (&c, b, 0, &err));
  fail_unless_equals_int (c.width, 7);
  fail_unless (c.blank);
  fail_unless_equals_int (c.updates, 2);

  rfb_client_clear (&c);
  g_byte_array_unref (b);
}

GST_END_TEST;

/* Server bytes after a 4x2 handshake; FALSE expected with code. */
static void
check_rejected (GByteArray *b, gboolean after_handshake, gint code,
                const gchar *text)
{
  RfbClient c;
  GError *err = NULL;
  gsize consumed;

  rfb_client_init (&c, 8192, 8192);
  if (after_handshake)
    connect_client (&c, 4, 2);
  fail_if (feed (&c, b, 0, &err));
  fail_unless (err != NULL);
  fail_unless (g_error_matches (err, RFB_ERROR, code), "%s (code %d)",
               err->message, err->code);
  if (text)
    fail_unless (strstr (err->message, text) != NULL, "%s", err->message);
  fail_unless_equals_int (c.state, RFB_STATE_FAILED);
  g_clear_error (&err);
  /* a failed client stays failed */
  fail_if (rfb_client_feed (&c, b->data, b->len, &consumed, NULL));
  rfb_client_clear (&c);
  g_byte_array_set_size (b, 0);
}

GST_START_TEST (test_rejects)
{
  GByteArray *b = g_byte_array_new ();

  /* not RFB, old RFB */
  g_byte_array_append (b, (const guint8 *)"HTTP/1.1 200", 12);
  check_rejected (b, FALSE, RFB_ERROR_VERSION, "not a VNC");
  g_byte_array_append (b, (const guint8 *)"RFB 003.003\n", 12);
  check_rejected (b, FALSE, RFB_ERROR_VERSION, "3.3");
  g_byte_array_append (b, (const guint8 *)"RFB 004.001\n", 12);
  check_rejected (b, FALSE, RFB_ERROR_VERSION, NULL);

  /* a password, TLS: refused with a sentence naming the way out */
  g_byte_array_append (b, (const guint8 *)"RFB 003.008\n", 12);
  put8 (b, 2);
  put8 (b, 2);
  put8 (b, 19);
  check_rejected (b, FALSE, RFB_ERROR_AUTH, "requires authentication");

  /* the server refuses with a reason */
  g_byte_array_append (b, (const guint8 *)"RFB 003.008\n", 12);
  put8 (b, 0);
  put32 (b, 9);
  g_byte_array_append (b, (const guint8 *)"too\nmany!", 9);
  check_rejected (b, FALSE, RFB_ERROR_REFUSED, "too many!");
  g_byte_array_append (b, (const guint8 *)"RFB 003.008\n", 12);
  put8 (b, 0);
  put32 (b, 0xffffffff);
  check_rejected (b, FALSE, RFB_ERROR_TOO_LARGE, NULL);

  /* SecurityResult failed */
  g_byte_array_append (b, (const guint8 *)"RFB 003.008\n", 12);
  put8 (b, 1);
  put8 (b, 1);
  put32 (b, 1);
  put32 (b, 4);
  g_byte_array_append (b, (const guint8 *)"nope", 4);
  check_rejected (b, FALSE, RFB_ERROR_AUTH, "nope");
  g_byte_array_append (b, (const guint8 *)"RFB 003.008\n", 12);
  put8 (b, 1);
  put8 (b, 1);
  put32 (b, 1);
  put32 (b, RFB_MAX_STRING + 1);
  check_rejected (b, FALSE, RFB_ERROR_TOO_LARGE, NULL);

  /* framebuffer sizes: too large, empty, huge name */
  {
    GByteArray *h = handshake_bytes (8193, 10);
    check_rejected (h, FALSE, RFB_ERROR_TOO_LARGE, "8193x10");
    g_byte_array_unref (h);
    h = handshake_bytes (65535, 65535);
    check_rejected (h, FALSE, RFB_ERROR_TOO_LARGE, NULL);
    g_byte_array_unref (h);
    h = handshake_bytes (0, 10);
    check_rejected (h, FALSE, RFB_ERROR_BAD_MESSAGE, "empty");
    g_byte_array_unref (h);
    h = handshake_bytes (4, 2);
    g_byte_array_set_size (h, h->len - 10 - 4);
    put32 (h, 0x7fffffff);
    check_rejected (h, FALSE, RFB_ERROR_TOO_LARGE, "desktop name");
    g_byte_array_unref (h);
  }

  /* rectangles outside the 4x2 framebuffer */
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 1, 0, 4, 2, RFB_ENCODING_RAW);
  check_rejected (b, TRUE, RFB_ERROR_BAD_RECT, "outside");
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 65535, 65535, 65535, 65535, RFB_ENCODING_RAW);
  check_rejected (b, TRUE, RFB_ERROR_BAD_RECT, NULL);
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 0, 2, 1, 1, RFB_ENCODING_RAW);
  check_rejected (b, TRUE, RFB_ERROR_BAD_RECT, NULL);

  /* encodings not asked for, desktop sizes out of range */
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 0, 0, 1, 1, 16 /* ZRLE */);
  check_rejected (b, TRUE, RFB_ERROR_BAD_ENCODING, "16");
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 0, 0, 8192, 8193, RFB_ENCODING_DESKTOP_SIZE);
  check_rejected (b, TRUE, RFB_ERROR_TOO_LARGE, NULL);
  put8 (b, 0);
  put8 (b, 0);
  put16 (b, 1);
  rect_header (b, 0, 0, 0, 0, RFB_ENCODING_DESKTOP_SIZE);
  check_rejected (b, TRUE, RFB_ERROR_BAD_MESSAGE, NULL);

  /* unknown server message */
  put8 (b, 150);
  check_rejected (b, TRUE, RFB_ERROR_BAD_MESSAGE, "150");

  g_byte_array_unref (b);
}

GST_END_TEST;

/* A small maximum is honoured, and a huge cut text is skipped, never
 * buffered. */
GST_START_TEST (test_limits)
{
  RfbClient c;
  GByteArray *b = handshake_bytes (65, 64);
  GError *err = NULL;
  gsize consumed;
  guint8 text[1000];

  rfb_client_init (&c, 64, 64);
  fail_if (feed (&c, b, 0, &err));
  fail_unless (g_error_matches (err, RFB_ERROR, RFB_ERROR_TOO_LARGE));
  g_clear_error (&err);
  rfb_client_clear (&c);
  g_byte_array_unref (b);

  rfb_client_init (&c, 64, 64);
  connect_client (&c, 64, 64);
  b = g_byte_array_new ();
  put8 (b, 3);
  put8 (b, 0);
  put16 (b, 0);
  put32 (b, 0xffffffff);
  fail_unless (rfb_client_feed (&c, b->data, b->len, &consumed, &err));
  fail_unless_equals_int (consumed, 8);
  fail_unless_equals_int (c.state, RFB_STATE_SKIP);
  memset (text, 'x', sizeof (text));
  fail_unless (rfb_client_feed (&c, text, sizeof (text), &consumed, &err));
  fail_unless_equals_int (consumed, sizeof (text));
  fail_unless_equals_int (c.skip_left, 0xffffffffu - sizeof (text));
  rfb_client_clear (&c);
  g_byte_array_unref (b);
}

GST_END_TEST;

static Suite *
rfbproto_suite (void)
{
  Suite *s = suite_create ("rfbproto");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_handshake);
  tcase_add_test (tc, test_raw_rects);
  tcase_add_test (tc, test_desktop_size);
  tcase_add_test (tc, test_rejects);
  tcase_add_test (tc, test_limits);
  return s;
}

GST_CHECK_MAIN (rfbproto);
