/* dbusframe: the framebuffer of qemudisplaysrc's D-Bus backend, as pure
 * functions: QEMU's org.qemu.Display1.Listener.Scanout and .Update calls
 * (sizes, stride, pixman format, the pixel bytes) applied to a BGRx
 * framebuffer after every size and offset was checked. No D-Bus here; the
 * element calls these from its method handlers, the unit test directly.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* pixman formats QEMU uses for 32-bit surfaces; in little-endian memory
 * both are B, G, R, x/A: GStreamer's BGRx */
#define QDD_PIXMAN_X8R8G8B8 0x20020888u
#define QDD_PIXMAN_A8R8G8B8 0x20028888u

typedef struct {
  guint max_width, max_height;
  guint width, height; /* 0 before the first Scanout */
  guint8 *fb;          /* width * height * 4 bytes, BGRx */
} QddFrame;

void qdd_frame_init (QddFrame *f, guint max_width, guint max_height);
void qdd_frame_clear (QddFrame *f);

/* Scanout: a new size and the whole picture. FALSE (frame unchanged) when
 * the size is 0 or above the maximum, the stride too small, data too short
 * or the format not a 32-bit xRGB one. */
gboolean qdd_frame_scanout (QddFrame *f, guint width, guint height,
                            guint stride, guint32 format, const guint8 *data,
                            gsize len, GError **error);
/* Update: a rectangle of the current picture. FALSE when there is no
 * picture yet, the rectangle is not inside it, or as for scanout. */
gboolean qdd_frame_update (QddFrame *f, gint x, gint y, gint width, gint height,
                           guint stride, guint32 format, const guint8 *data,
                           gsize len, GError **error);

G_END_DECLS
