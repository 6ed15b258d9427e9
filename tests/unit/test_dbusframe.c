/* dbusframe (qemudisplaysrc's D-Bus backend framebuffer): Scanout and
 * Update applied byte for byte with strides, and every rejection: sizes 0
 * or above the limit, short data, small strides, other pixel formats,
 * rectangles outside the display (negative, overflowing), update before
 * scanout. */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "dbusframe.h"
#include "rfbproto.h"

GST_START_TEST (test_scanout_update)
{
  QddFrame f;
  guint8 src[3 * 16]; /* 3 rows of 3 pixels, stride 16 (4 bytes padding) */
  guint8 upd[2 * 8];
  GError *err = NULL;

  for (guint i = 0; i < sizeof (src); i++)
    src[i] = i;
  qdd_frame_init (&f, 8192, 8192);
  fail_unless (qdd_frame_scanout (&f, 3, 3, 16, QDD_PIXMAN_X8R8G8B8, src,
                                  sizeof (src), &err));
  fail_unless_equals_int (f.width, 3);
  fail_unless_equals_int (f.height, 3);
  for (guint r = 0; r < 3; r++)
    fail_unless (memcmp (f.fb + r * 12, src + r * 16, 12) == 0);
  /* the last row needs no padding */
  fail_unless (qdd_frame_scanout (&f, 3, 3, 16, QDD_PIXMAN_A8R8G8B8, src,
                                  2 * 16 + 12, &err));

  /* a 2x2 update at (1,1) with stride 8 */
  memset (upd, 0xee, sizeof (upd));
  fail_unless (qdd_frame_update (&f, 1, 1, 2, 2, 8, QDD_PIXMAN_X8R8G8B8, upd,
                                 sizeof (upd), &err));
  fail_unless (memcmp (f.fb, src, 12) == 0);
  fail_unless (memcmp (f.fb + 12, src + 16, 4) == 0);
  for (guint i = 0; i < 8; i++) {
    fail_unless_equals_int (f.fb[12 + 4 + i], 0xee);
    fail_unless_equals_int (f.fb[24 + 4 + i], 0xee);
  }
  /* empty updates are fine */
  fail_unless (qdd_frame_update (&f, 3, 3, 0, 0, 0, 0, NULL, 0, &err));
  qdd_frame_clear (&f);
}

GST_END_TEST;

static void
expect (gboolean ok, GError **err, gint code)
{
  fail_if (ok);
  fail_unless (*err != NULL);
  fail_unless (g_error_matches (*err, RFB_ERROR, code), "%s (%d)",
               (*err)->message, (*err)->code);
  g_clear_error (err);
}

GST_START_TEST (test_rejects)
{
  QddFrame f;
  guint8 px[64 * 4];
  GError *err = NULL;

  memset (px, 1, sizeof (px));
  qdd_frame_init (&f, 16, 16);
  expect (
      qdd_frame_update (&f, 0, 0, 1, 1, 4, QDD_PIXMAN_X8R8G8B8, px, 4, &err),
      &err, RFB_ERROR_BAD_MESSAGE); /* before any scanout */
  expect (qdd_frame_scanout (&f, 0, 4, 16, QDD_PIXMAN_X8R8G8B8, px, 64, &err),
          &err, RFB_ERROR_TOO_LARGE);
  expect (qdd_frame_scanout (&f, 17, 1, 68, QDD_PIXMAN_X8R8G8B8, px, 68, &err),
          &err, RFB_ERROR_TOO_LARGE);
  expect (qdd_frame_scanout (&f, 0xffffffffu, 0xffffffffu, 0,
                             QDD_PIXMAN_X8R8G8B8, px, 0, &err),
          &err, RFB_ERROR_TOO_LARGE);
  expect (qdd_frame_scanout (&f, 4, 4, 12, QDD_PIXMAN_X8R8G8B8, px, 64, &err),
          &err, RFB_ERROR_BAD_RECT); /* stride below 4 * width */
  expect (qdd_frame_scanout (&f, 4, 4, 16, QDD_PIXMAN_X8R8G8B8, px, 63, &err),
          &err, RFB_ERROR_BAD_RECT); /* one byte short */
  expect (
      qdd_frame_scanout (&f, 4, 4, 16, 0x10020565 /* r5g6b5 */, px, 64, &err),
      &err, RFB_ERROR_BAD_ENCODING);
  fail_unless_equals_int (f.width, 0);
  fail_unless (f.fb == NULL);

  fail_unless (
      qdd_frame_scanout (&f, 4, 4, 16, QDD_PIXMAN_X8R8G8B8, px, 64, &err));
  expect (
      qdd_frame_update (&f, 3, 0, 2, 1, 8, QDD_PIXMAN_X8R8G8B8, px, 8, &err),
      &err, RFB_ERROR_BAD_RECT);
  expect (
      qdd_frame_update (&f, -1, 0, 1, 1, 4, QDD_PIXMAN_X8R8G8B8, px, 4, &err),
      &err, RFB_ERROR_BAD_RECT);
  expect (
      qdd_frame_update (&f, 0, 0, -4, 1, 4, QDD_PIXMAN_X8R8G8B8, px, 4, &err),
      &err, RFB_ERROR_BAD_RECT);
  expect (qdd_frame_update (&f, G_MAXINT, G_MAXINT, G_MAXINT, G_MAXINT, 0,
                            QDD_PIXMAN_X8R8G8B8, px, 4, &err),
          &err, RFB_ERROR_BAD_RECT);
  expect (
      qdd_frame_update (&f, 0, 0, 4, 4, 16, QDD_PIXMAN_X8R8G8B8, px, 60, &err),
      &err, RFB_ERROR_BAD_RECT);
  expect (qdd_frame_update (&f, 0, 0, 1, 1, 4, 0, px, 4, &err), &err,
          RFB_ERROR_BAD_ENCODING);
  /* the picture is still the one scanned out */
  for (guint i = 0; i < 64; i++)
    fail_unless_equals_int (f.fb[i], 1);
  qdd_frame_clear (&f);
}

GST_END_TEST;

static Suite *
dbusframe_suite (void)
{
  Suite *s = suite_create ("dbusframe");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_scanout_update);
  tcase_add_test (tc, test_rejects);
  return s;
}

GST_CHECK_MAIN (dbusframe);
