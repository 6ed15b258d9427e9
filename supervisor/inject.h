/* vmstream: injects GstNavigation events into an X display (XTest) or a
 * QEMU guest (QMP input-send-event). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _VmsInjector VmsInjector;

/* @qmp_path set: QEMU; else @display (or $DISPLAY) through XTest. */
VmsInjector *vms_injector_new (const gchar *display, const gchar *qmp_path);
/* @video_width/@video_height: size of the stream the coordinates of mouse
 * events refer to. Returns TRUE if the event was injected. */
gboolean vms_injector_handle (VmsInjector *inj, GstEvent *event,
                              gint video_width, gint video_height);
void vms_injector_free (VmsInjector *inj);

G_END_DECLS
