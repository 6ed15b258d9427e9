/* Wire protocol v2: round trips and every rejection path. */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "vmsprotocol.h"

GST_START_TEST (test_hello_roundtrip)
{
  guint8 buf[VMS_HELLO_SIZE];
  VmsHello in = { VMS_PROTOCOL_VERSION, VMS_HELLO_FLAG_BACK_CHANNEL, 42 };
  VmsHello out;
  GError *err = NULL;

  vms_hello_write (buf, &in);
  fail_unless (memcmp (buf, "VMS1", 4) == 0);
  fail_unless_equals_int (GST_READ_UINT16_LE (buf + 4), 2);
  fail_unless_equals_int (GST_READ_UINT32_LE (buf + 8), 42);
  fail_unless (vms_hello_parse (buf, sizeof (buf), &out, &err));
  fail_unless_equals_int (out.version, in.version);
  fail_unless_equals_int (out.flags, in.flags);
  fail_unless_equals_int (out.caps_len, 42);
  fail_unless (vms_is_hello_magic (buf, sizeof (buf)));
}

GST_END_TEST;

GST_START_TEST (test_hello_rejects)
{
  guint8 buf[VMS_HELLO_SIZE];
  VmsHello in = { 1, 0, 10 }, out;
  GError *err = NULL;

  vms_hello_write (buf, &in);
  fail_if (vms_hello_parse (buf, sizeof (buf) - 1, &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_SHORT));
  g_clear_error (&err);

  buf[0] = 'G';
  fail_if (vms_hello_parse (buf, sizeof (buf), &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC));
  fail_unless (strstr (err->message, "VMS1") != NULL);
  g_clear_error (&err);
  fail_if (vms_is_hello_magic (buf, sizeof (buf)));

  in.caps_len = 0;
  vms_hello_write (buf, &in);
  fail_if (vms_hello_parse (buf, sizeof (buf), &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE));
  g_clear_error (&err);

  in.caps_len = VMS_MAX_CAPS_LEN + 1;
  vms_hello_write (buf, &in);
  fail_if (vms_hello_parse (buf, sizeof (buf), &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE));
  g_clear_error (&err);
}

GST_END_TEST;

GST_START_TEST (test_hello_find)
{
  guint8 buf[256];
  VmsHello h = { 2, 1, 11 };
  gsize i;

  /* no 'V' at all: everything can go */
  memset (buf, 0xaa, sizeof (buf));
  fail_unless_equals_uint64 (vms_hello_find (buf, sizeof (buf)), sizeof (buf));
  fail_unless_equals_uint64 (vms_hello_find (buf, 0), 0);

  /* a HELLO at 100, behind bytes of an old frame and a magic without a
   * plausible header (version 0, caps length 0 and > 64 KiB) */
  vms_hello_write (buf + 100, &h);
  memcpy (buf + 10, "VMS1\0\0\0\0\0\0\0\0", 12);
  memcpy (buf + 30, "VMS1\2\0\0\0\0\0\0\0", 12);
  memcpy (buf + 50, "VMS1\2\0\0\0\1\0\1\0", 12);
  buf[70] = 'V';
  fail_unless_equals_uint64 (vms_hello_find (buf, sizeof (buf)), 100);
  fail_unless (vms_hello_plausible (buf + 100, 12));
  fail_if (vms_hello_plausible (buf + 100, 11));
  fail_if (vms_hello_plausible (buf + 30, 12));
  /* a future version is still a HELLO (it gets WELCOME status 1) */
  h.version = 9;
  vms_hello_write (buf + 100, &h);
  fail_unless (vms_hello_plausible (buf + 100, 12));

  /* a cut-off tail that may still become a HELLO is kept ... */
  for (i = 1; i < VMS_HELLO_SIZE; i++)
    fail_unless_equals_uint64 (vms_hello_find (buf, 100 + i), 100);
  /* ... one that cannot is not */
  buf[102] = 'X';
  fail_unless_equals_uint64 (vms_hello_find (buf, 104), 104);

  /* caps text, not payload bytes */
  fail_unless (vms_hello_caps_plausible ((const guint8 *)"video/x-raw", 11));
  fail_if (vms_hello_caps_plausible ((const guint8 *)"video\0x", 7));
  fail_if (vms_hello_caps_plausible ((const guint8 *)"\xff\xfe", 2));
  fail_if (vms_hello_caps_plausible ((const guint8 *)"1video", 6));
  fail_if (vms_hello_caps_plausible ((const guint8 *)"", 0));
}

GST_END_TEST;

GST_START_TEST (test_welcome)
{
  guint8 buf[VMS_WELCOME_SIZE];
  VmsWelcome in = { 1, VMS_STATUS_BAD_CAPS, 1234567 }, out;
  GError *err = NULL;

  vms_welcome_write (buf, &in);
  fail_unless (memcmp (buf, "VMSA", 4) == 0);
  fail_unless (vms_welcome_parse (buf, sizeof (buf), &out, &err));
  fail_unless_equals_int (out.status, VMS_STATUS_BAD_CAPS);
  fail_unless_equals_int (out.max_frame, 1234567);
  fail_unless (strstr (vms_status_to_string (out.status), "caps") != NULL);

  fail_if (vms_welcome_parse (buf, 5, &out, &err));
  g_clear_error (&err);
  buf[3] = 'X';
  fail_if (vms_welcome_parse (buf, sizeof (buf), &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC));
  g_clear_error (&err);
}

GST_END_TEST;

static VmsMsgHeader
nv12_frame (void)
{
  VmsMsgHeader h = { 0 };

  h.type = VMS_MSG_FRAME;
  h.flags = VMS_FRAME_FLAG_VIDEO_META | VMS_FRAME_FLAG_DISCONT;
  h.pts = 1 * GST_SECOND;
  h.dts = GST_CLOCK_TIME_NONE;
  h.duration = GST_SECOND / 60;
  h.capture_time = G_GUINT64_CONSTANT (1790000000123456789);
  h.seq = 77;
  h.size = 1920 * 1080 * 3 / 2;
  h.n_planes = 2;
  h.offset[1] = 1920 * 1080;
  h.stride[0] = h.stride[1] = 1920;
  return h;
}

GST_START_TEST (test_header_roundtrip)
{
  guint8 buf[VMS_MSG_HEADER_SIZE];
  VmsMsgHeader in = nv12_frame (), out;
  GError *err = NULL;

  vms_msg_header_write (buf, &in);
  fail_unless (vms_msg_header_parse (buf, sizeof (buf), VMS_DEFAULT_MAX_FRAME,
                                     &out, &err));
  fail_unless (memcmp (&in, &out, sizeof (in)) == 0);
  /* little-endian on the wire */
  fail_unless_equals_int (buf[0], VMS_MSG_FRAME);
  fail_unless_equals_uint64 (GST_READ_UINT64_LE (buf + 40), 77);
}

GST_END_TEST;

/* @saying: a text the error message must contain (the check that refused
 * it, not a later one that happened to), or NULL */
static void
expect_header_error_saying (VmsMsgHeader *h, guint32 max_frame, gint code,
                            const gchar *saying)
{
  guint8 buf[VMS_MSG_HEADER_SIZE];
  VmsMsgHeader out;
  GError *err = NULL;

  vms_msg_header_write (buf, h);
  fail_if (vms_msg_header_parse (buf, sizeof (buf), max_frame, &out, &err));
  fail_unless (err != NULL);
  fail_unless (err->domain == VMS_PROTOCOL_ERROR);
  fail_unless_equals_int (err->code, code);
  GST_INFO ("rejected as expected: %s", err->message);
  if (saying != NULL && strstr (err->message, saying) == NULL)
    fail ("error \"%s\" does not say \"%s\"", err->message, saying);
  g_clear_error (&err);
}

static void
expect_header_error (VmsMsgHeader *h, guint32 max_frame, gint code)
{
  expect_header_error_saying (h, max_frame, code, NULL);
}

GST_START_TEST (test_header_rejects)
{
  VmsMsgHeader h;
  guint8 buf[VMS_MSG_HEADER_SIZE] = { 0 };
  VmsMsgHeader out;
  GError *err = NULL;

  fail_if (vms_msg_header_parse (buf, 87, 100, &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_SHORT));
  g_clear_error (&err);

  h = nv12_frame ();
  expect_header_error (&h, h.size - 1, VMS_PROTOCOL_ERROR_TOO_LARGE);
  h.size = G_MAXUINT32;
  expect_header_error (&h, G_MAXUINT32, VMS_PROTOCOL_ERROR_TOO_LARGE);

  h = nv12_frame ();
  h.type = 99;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME, VMS_PROTOCOL_ERROR_BAD_TYPE);
  h.type = 0;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME, VMS_PROTOCOL_ERROR_BAD_TYPE);

  h = nv12_frame ();
  h.flags |= 1 << 20;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME,
                       VMS_PROTOCOL_ERROR_BAD_LAYOUT);

  h = nv12_frame ();
  /* refused for its count, before a loop over 5 planes reads past the
   * 4-entry offset/stride arrays */
  h.n_planes = 5;
  expect_header_error_saying (&h, VMS_DEFAULT_MAX_FRAME,
                              VMS_PROTOCOL_ERROR_BAD_LAYOUT, "5 planes");
  h.n_planes = 0;
  expect_header_error_saying (&h, VMS_DEFAULT_MAX_FRAME,
                              VMS_PROTOCOL_ERROR_BAD_LAYOUT, "0 planes");

  h = nv12_frame ();
  h.offset[1] = h.size;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME,
                       VMS_PROTOCOL_ERROR_BAD_LAYOUT);

  h = nv12_frame ();
  h.stride[0] = -1920;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME,
                       VMS_PROTOCOL_ERROR_BAD_LAYOUT);

  h = nv12_frame ();
  h.flags = 0; /* planes without the layout flag */
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME,
                       VMS_PROTOCOL_ERROR_BAD_LAYOUT);

  memset (&h, 0, sizeof (h));
  h.type = VMS_MSG_EOS;
  h.size = 3;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME,
                       VMS_PROTOCOL_ERROR_BAD_LAYOUT);
  h.type = VMS_MSG_PING;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME,
                       VMS_PROTOCOL_ERROR_BAD_LAYOUT);
  h.type = VMS_MSG_CAPS;
  h.size = 0;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME, VMS_PROTOCOL_ERROR_TOO_LARGE);
  h.size = VMS_MAX_CAPS_LEN + 1;
  expect_header_error (&h, VMS_DEFAULT_MAX_FRAME, VMS_PROTOCOL_ERROR_TOO_LARGE);
}

GST_END_TEST;

GST_START_TEST (test_encoded_frame_ok)
{
  guint8 buf[VMS_MSG_HEADER_SIZE];
  VmsMsgHeader h = { 0 }, out;
  GError *err = NULL;

  h.type = VMS_MSG_FRAME;
  h.flags = VMS_FRAME_FLAG_DELTA_UNIT;
  h.size = 1000;
  vms_msg_header_write (buf, &h);
  fail_unless (vms_msg_header_parse (buf, sizeof (buf), 1000, &out, &err));
  fail_unless_equals_int (out.n_planes, 0);
  h.size = 0; /* an empty frame is legal */
  vms_msg_header_write (buf, &h);
  fail_unless (vms_msg_header_parse (buf, sizeof (buf), 1000, &out, &err));
}

GST_END_TEST;

GST_START_TEST (test_back_header)
{
  guint8 buf[VMS_BACK_HEADER_SIZE];
  VmsBackHeader in = { VMS_BACK_NAVIGATION, 17 }, out;
  GError *err = NULL;

  vms_back_header_write (buf, &in);
  fail_unless (vms_back_header_parse (buf, sizeof (buf), &out, &err));
  fail_unless_equals_int (out.type, VMS_BACK_NAVIGATION);
  fail_unless_equals_int (out.len, 17);

  in.len = VMS_MAX_BACK_LEN + 1;
  vms_back_header_write (buf, &in);
  fail_if (vms_back_header_parse (buf, sizeof (buf), &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_TOO_LARGE));
  g_clear_error (&err);

  in.type = 0;
  in.len = 0;
  vms_back_header_write (buf, &in);
  fail_if (vms_back_header_parse (buf, sizeof (buf), &out, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_TYPE));
  g_clear_error (&err);
  fail_if (vms_back_header_parse (buf, 4, &out, &err));
  g_clear_error (&err);
}

GST_END_TEST;

/* RESIZE: the header takes exactly 8 payload bytes, the payload two sizes
 * in 1..16384, little-endian. */
GST_START_TEST (test_back_resize)
{
  static const guint8 wire[VMS_BACK_RESIZE_SIZE]
      = { 0x40, 0x06, 0, 0, 0x84, 0x03, 0, 0 }; /* 1600 x 900 */
  guint8 hb[VMS_BACK_HEADER_SIZE], pb[VMS_BACK_RESIZE_SIZE];
  VmsBackHeader in = { VMS_BACK_RESIZE, VMS_BACK_RESIZE_SIZE }, out;
  GError *err = NULL;
  guint32 w = 0, h = 0;

  vms_back_header_write (hb, &in);
  fail_unless (vms_back_header_parse (hb, sizeof (hb), &out, &err));
  fail_unless_equals_int (out.type, VMS_BACK_RESIZE);
  vms_back_resize_write (pb, 1600, 900);
  fail_unless (memcmp (pb, wire, sizeof (wire)) == 0);
  fail_unless (vms_back_resize_parse (pb, sizeof (pb), &w, &h, &err));
  fail_unless_equals_int (w, 1600);
  fail_unless_equals_int (h, 900);

  /* any other length breaks the back-channel */
  for (guint32 len = 0; len < 20; len++) {
    if (len == VMS_BACK_RESIZE_SIZE)
      continue;
    in.len = len;
    vms_back_header_write (hb, &in);
    fail_if (vms_back_header_parse (hb, sizeof (hb), &out, &err));
    fail_unless (g_error_matches (err, VMS_PROTOCOL_ERROR,
                                  VMS_PROTOCOL_ERROR_BAD_LAYOUT));
    g_clear_error (&err);
  }
  fail_if (vms_back_resize_parse (pb, 7, &w, &h, &err));
  g_clear_error (&err);

  vms_back_resize_write (pb, 0, 900);
  fail_if (vms_back_resize_parse (pb, sizeof (pb), &w, &h, &err));
  g_clear_error (&err);
  vms_back_resize_write (pb, 1600, VMS_MAX_RESIZE_DIM + 1);
  fail_if (vms_back_resize_parse (pb, sizeof (pb), &w, &h, &err));
  g_clear_error (&err);
  vms_back_resize_write (pb, VMS_MAX_RESIZE_DIM, 1);
  fail_unless (vms_back_resize_parse (pb, sizeof (pb), &w, &h, NULL));
}

GST_END_TEST;

GST_START_TEST (test_caps_parse)
{
  const gchar *good = "video/x-raw, format=(string)NV12, width=(int)64, "
                      "height=(int)48, framerate=(fraction)30/1";
  GstCaps *caps;
  GError *err = NULL;

  caps = vms_caps_parse ((const guint8 *)good, strlen (good), &err);
  fail_unless (caps != NULL);
  fail_unless (gst_caps_is_fixed (caps));
  gst_caps_unref (caps);

  caps = vms_caps_parse ((const guint8 *)"video/x-raw\0x", 13, &err);
  fail_unless (caps == NULL);
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_CAPS));
  g_clear_error (&err);

  caps = vms_caps_parse ((const guint8 *)"\xff\xfe", 2, &err);
  fail_unless (caps == NULL);
  g_clear_error (&err);

  caps = vms_caps_parse ((const guint8 *)"video/x-raw, width=(int)", 24, &err);
  fail_unless (caps == NULL);
  g_clear_error (&err);

  caps = vms_caps_parse ((const guint8 *)"video/x-raw, width=[1, 2]", 25, &err);
  fail_unless (caps == NULL);
  fail_unless (strstr (err->message, "not fixed") != NULL);
  g_clear_error (&err);

  caps = vms_caps_parse ((const guint8 *)"", 0, &err);
  fail_unless (caps == NULL);
  g_clear_error (&err);

  /* deep nesting would overflow the stack inside gst_caps_from_string() */
  {
    GString *deep = g_string_new ("video/x-raw, a=(int)");
    guint i;
    for (i = 0; i < 60000; i++)
      g_string_append_c (deep, '<');
    caps = vms_caps_parse ((const guint8 *)deep->str, deep->len, &err);
    fail_unless (caps == NULL);
    fail_unless (strstr (err->message, "deeper") != NULL, "%s", err->message);
    g_clear_error (&err);
    g_string_free (deep, TRUE);
  }
  /* ordinary nesting, and a few brackets inside quoted strings, are fine */
  {
    const gchar *ok = "video/x-raw, b=(string)\"<<<<<<\", c=(int)< 1, 2 >";
    caps = vms_caps_parse ((const guint8 *)ok, strlen (ok), &err);
    fail_unless (caps != NULL, "%s", err ? err->message : "");
    gst_caps_unref (caps);
  }
  /* quoted text counts too: GStreamer unquotes typed values such as
   * (structure)"..." and parses them again, so the guard cannot tell a
   * harmless string from a nested value and refuses both */
  {
    const gchar *deep = "video/x-raw, b=(string)\"<<<<<<<<<<<<<<<<<<<<\"";
    caps = vms_caps_parse ((const guint8 *)deep, strlen (deep), &err);
    fail_unless (caps == NULL);
    g_clear_error (&err);
  }
}

GST_END_TEST;

/* v2 handshake: CHALLENGE (source -> sink) and AUTH (sink -> source). */
GST_START_TEST (test_challenge_auth)
{
  guint8 cb[VMS_CHALLENGE_SIZE], ab[VMS_AUTH_SIZE];
  VmsChallenge c
      = { VMS_PROTOCOL_VERSION, VMS_CHALLENGE_FLAG_SECRET_REQUIRED, { 0 } },
      c2;
  VmsAuth a = { VMS_PROTOCOL_VERSION, VMS_AUTH_FLAG_MAC, { 0 } }, a2;
  GError *err = NULL;
  guint i;

  fail_unless_equals_int (VMS_PROTOCOL_VERSION, 2);
  for (i = 0; i < VMS_NONCE_LEN; i++)
    c.nonce[i] = i;
  vms_challenge_write (cb, &c);
  fail_unless (memcmp (cb, "VMSC", 4) == 0);
  fail_unless_equals_int (GST_READ_UINT16_LE (cb + 4), 2);
  fail_unless_equals_int (GST_READ_UINT16_LE (cb + 6), 1);
  fail_unless_equals_int (cb[8], 0);
  fail_unless_equals_int (cb[39], 31);
  fail_unless (vms_challenge_parse (cb, sizeof (cb), &c2, &err));
  fail_unless_equals_int (c2.flags, VMS_CHALLENGE_FLAG_SECRET_REQUIRED);
  fail_unless (memcmp (c2.nonce, c.nonce, VMS_NONCE_LEN) == 0);
  /* not a HELLO, not a WELCOME */
  fail_if (vms_is_hello_magic (cb, sizeof (cb)));
  fail_if (vms_challenge_parse (cb, VMS_CHALLENGE_SIZE - 1, &c2, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_SHORT));
  g_clear_error (&err);
  cb[6] = 0x82; /* unknown flag */
  fail_if (vms_challenge_parse (cb, sizeof (cb), &c2, &err));
  g_clear_error (&err);
  cb[0] = 'X';
  fail_if (vms_challenge_parse (cb, sizeof (cb), &c2, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC));
  g_clear_error (&err);

  /* the proof: HMAC-SHA256 ("s3cret", "vmstream-link-v2" || nonce), the
   * value Python's hmac module gives */
  vms_auth_compute_mac ((const guint8 *)"s3cret", 6, c.nonce, a.mac);
  {
    static const guint8 expect[VMS_MAC_LEN]
        = { 0xd6, 0x59, 0xe3, 0xcb, 0x5b, 0x24, 0xdf, 0x08, 0xa3, 0xa8, 0x16,
            0xce, 0xf0, 0x01, 0xd5, 0xba, 0x85, 0x3c, 0x1c, 0xde, 0x6c, 0x4a,
            0xb6, 0x41, 0xb3, 0x35, 0xc4, 0x4f, 0xc6, 0xaf, 0x45, 0x37 };
    fail_unless (memcmp (a.mac, expect, VMS_MAC_LEN) == 0);
  }
  vms_auth_write (ab, &a);
  fail_unless (memcmp (ab, "VMSR", 4) == 0);
  fail_unless_equals_int (GST_READ_UINT16_LE (ab + 6), VMS_AUTH_FLAG_MAC);
  fail_unless (vms_auth_parse (ab, sizeof (ab), &a2, &err));
  fail_unless (vms_auth_verify (&a2, (const guint8 *)"s3cret", 6, c.nonce));
  /* wrong secret, other nonce, no proof flag */
  fail_if (vms_auth_verify (&a2, (const guint8 *)"s3creT", 6, c.nonce));
  fail_if (vms_auth_verify (&a2, (const guint8 *)"s3cret", 5, c.nonce));
  c.nonce[0] ^= 1;
  fail_if (vms_auth_verify (&a2, (const guint8 *)"s3cret", 6, c.nonce));
  c.nonce[0] ^= 1;
  a2.flags = 0;
  fail_if (vms_auth_verify (&a2, (const guint8 *)"s3cret", 6, c.nonce));
  ab[7] = 0x80;
  fail_if (vms_auth_parse (ab, sizeof (ab), &a2, &err));
  g_clear_error (&err);
  ab[0] = 'V';
  ab[3] = 'A';
  fail_if (vms_auth_parse (ab, sizeof (ab), &a2, &err));
  fail_unless (
      g_error_matches (err, VMS_PROTOCOL_ERROR, VMS_PROTOCOL_ERROR_BAD_MAGIC));
  g_clear_error (&err);

  fail_unless (
      vms_equal_const_time ((const guint8 *)"abc", (const guint8 *)"abc", 3));
  fail_if (
      vms_equal_const_time ((const guint8 *)"abc", (const guint8 *)"abd", 3));
  fail_unless (
      strstr (vms_status_to_string (VMS_STATUS_AUTH_FAILED), "authentication")
      != NULL);
}

GST_END_TEST;

GST_START_TEST (test_secret_check)
{
  gchar big[VMS_MAX_SECRET_LEN + 2];
  GError *err = NULL;

  fail_unless (vms_secret_check ("x", 1, &err));
  memset (big, 'a', sizeof (big));
  fail_unless (vms_secret_check (big, VMS_MAX_SECRET_LEN, &err));
  fail_if (vms_secret_check (big, VMS_MAX_SECRET_LEN + 1, &err));
  g_clear_error (&err);
  fail_if (vms_secret_check ("", 0, &err));
  g_clear_error (&err);
  fail_if (vms_secret_check ("a\0b", 3, &err));
  g_clear_error (&err);
}

GST_END_TEST;

static Suite *
protocol_suite (void)
{
  Suite *s = suite_create ("protocol");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_hello_roundtrip);
  tcase_add_test (tc, test_hello_rejects);
  tcase_add_test (tc, test_welcome);
  tcase_add_test (tc, test_header_roundtrip);
  tcase_add_test (tc, test_header_rejects);
  tcase_add_test (tc, test_encoded_frame_ok);
  tcase_add_test (tc, test_back_header);
  tcase_add_test (tc, test_back_resize);
  tcase_add_test (tc, test_caps_parse);
  tcase_add_test (tc, test_challenge_auth);
  tcase_add_test (tc, test_secret_check);
  tcase_add_test (tc, test_hello_find);
  return s;
}

GST_CHECK_MAIN (protocol);
