/* qemudisplaysrc: host-side live source of a QEMU VM's own display.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gst/base/gstpushsrc.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum {
  GST_QEMU_DISPLAY_SRC_BACKEND_VNC,
  GST_QEMU_DISPLAY_SRC_BACKEND_DBUS,
} GstQemuDisplaySrcBackend;

GType gst_qemu_display_src_backend_get_type (void);
#define GST_TYPE_QEMU_DISPLAY_SRC_BACKEND                                      \
  (gst_qemu_display_src_backend_get_type ())

#define GST_TYPE_QEMU_DISPLAY_SRC (gst_qemu_display_src_get_type ())
G_DECLARE_FINAL_TYPE (GstQemuDisplaySrc, gst_qemu_display_src, GST,
                      QEMU_DISPLAY_SRC, GstPushSrc)

struct _GstQemuDisplaySrc {
  GstPushSrc parent;

  /* properties (object lock) */
  GstQemuDisplaySrcBackend backend;
  gchar *socket_path;
  gint fps_n, fps_d;
  gboolean new_only;  /* new-pictures-only */
  guint keepalive_ms; /* keepalive: repeat interval in new-pictures-only */

  /* the I/O thread: connects, speaks RFB, publishes whole frames */
  GThread *thread;
  GstPoll *poll; /* flushing stops the thread */
  gint running;  /* atomic */
  /* the D-Bus backend's context and cancellable while a session runs
   * (object lock); stop() cancels and wakes it */
  GMainContext *dbus_ctx;
  GCancellable *dbus_cancel;

  /* the last complete frame (frame_lock) */
  GMutex frame_lock;
  GstBuffer *frame; /* BGRx, frame_width x frame_height, with capture meta */
  guint frame_width, frame_height;
  /* new-pictures-only: create() waits on frame_cond for a picture it has
   * not pushed (frame_seq counts published pictures), a repeat request (a
   * force-key-unit event from downstream: a viewer joined) or flushing */
  GCond frame_cond;
  guint64 frame_seq;
  gboolean repeat_wanted;
  gboolean frame_flushing;

  /* streaming thread */
  GstClockID clock_id; /* object lock */
  gboolean flushing;   /* object lock */
  GstClockTime next_time;
  guint64 pushed_seq;  /* frame_seq of the picture pushed last */
  gint64 last_push_us; /* monotonic time of the last push, 0 before */
  guint caps_width, caps_height;
  GstBuffer *black;

  /* stats (object lock) */
  guint64 frames_pushed;
  guint64 repeats; /* new-pictures-only: keepalive and on-request repeats */
  guint64 updates;
  guint64 connections;
  guint64 disconnects;
  guint64 caps_changes;
  gboolean connected;
};

GST_ELEMENT_REGISTER_DECLARE (qemudisplaysrc);

G_END_DECLS
