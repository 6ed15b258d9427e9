/* dbusframe: see dbusframe.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dbusframe.h"

#include "rfbproto.h"

#include <string.h>

void
qdd_frame_init (QddFrame *f, guint max_width, guint max_height)
{
  memset (f, 0, sizeof (*f));
  f->max_width = CLAMP (max_width, 1, RFB_HARD_MAX_DIMENSION);
  f->max_height = CLAMP (max_height, 1, RFB_HARD_MAX_DIMENSION);
}

void
qdd_frame_clear (QddFrame *f)
{
  g_clear_pointer (&f->fb, g_free);
  f->width = f->height = 0;
}

static gboolean
check_pixels (guint64 width, guint64 height, guint stride, guint32 format,
              gsize len, GError **error)
{
  if (format != QDD_PIXMAN_X8R8G8B8 && format != QDD_PIXMAN_A8R8G8B8) {
    g_set_error (error, RFB_ERROR, RFB_ERROR_BAD_ENCODING,
                 "QEMU sent pixels in pixman format 0x%08x; only 32-bit "
                 "x8r8g8b8/a8r8g8b8 is supported",
                 format);
    return FALSE;
  }
  if ((guint64)stride < width * 4) {
    g_set_error (error, RFB_ERROR, RFB_ERROR_BAD_RECT,
                 "QEMU sent rows of %" G_GUINT64_FORMAT
                 " pixels with a stride of %u bytes",
                 width, stride);
    return FALSE;
  }
  /* 64-bit: width, height and stride are at most 2^32 each, the product of
   * stride and height below 2^64 */
  if (height > 0 && (guint64)len < (height - 1) * stride + width * 4) {
    g_set_error (error, RFB_ERROR, RFB_ERROR_BAD_RECT,
                 "QEMU sent %zu bytes for %" G_GUINT64_FORMAT
                 "x%" G_GUINT64_FORMAT " pixels with stride %u",
                 len, width, height, stride);
    return FALSE;
  }
  return TRUE;
}

static void
copy_rows (QddFrame *f, guint x, guint y, guint w, guint h, guint stride,
           const guint8 *data)
{
  gsize fstride = (gsize)f->width * 4;

  for (guint i = 0; i < h; i++)
    memcpy (f->fb + (gsize)(y + i) * fstride + (gsize)x * 4,
            data + (gsize)i * stride, (gsize)w * 4);
}

gboolean
qdd_frame_scanout (QddFrame *f, guint width, guint height, guint stride,
                   guint32 format, const guint8 *data, gsize len,
                   GError **error)
{
  guint8 *fb;

  if (width == 0 || height == 0 || width > f->max_width
      || height > f->max_height) {
    g_set_error (error, RFB_ERROR, RFB_ERROR_TOO_LARGE,
                 "QEMU's display is %ux%u; accepted are 1x1 to %ux%u", width,
                 height, f->max_width, f->max_height);
    return FALSE;
  }
  if (!check_pixels (width, height, stride, format, len, error))
    return FALSE;
  if (width != f->width || height != f->height) {
    fb = g_try_malloc ((gsize)width * height * 4);
    if (fb == NULL) {
      g_set_error (error, RFB_ERROR, RFB_ERROR_TOO_LARGE,
                   "no memory for a %ux%u framebuffer", width, height);
      return FALSE;
    }
    g_free (f->fb);
    f->fb = fb;
    f->width = width;
    f->height = height;
  }
  copy_rows (f, 0, 0, width, height, stride, data);
  return TRUE;
}

gboolean
qdd_frame_update (QddFrame *f, gint x, gint y, gint width, gint height,
                  guint stride, guint32 format, const guint8 *data, gsize len,
                  GError **error)
{
  if (f->fb == NULL) {
    g_set_error (error, RFB_ERROR, RFB_ERROR_BAD_MESSAGE,
                 "QEMU sent an update before the first scanout");
    return FALSE;
  }
  if (x < 0 || y < 0 || width < 0 || height < 0 || (gint64)x + width > f->width
      || (gint64)y + height > f->height) {
    g_set_error (error, RFB_ERROR, RFB_ERROR_BAD_RECT,
                 "QEMU sent a %dx%d update at %d,%d outside its %ux%u "
                 "display",
                 width, height, x, y, f->width, f->height);
    return FALSE;
  }
  if (width == 0 || height == 0)
    return TRUE;
  if (!check_pixels (width, height, stride, format, len, error))
    return FALSE;
  copy_rows (f, x, y, width, height, stride, data);
  return TRUE;
}
