/* vmstream: injects input events (the input contract, common/vmsinput.h)
 * into an X display (XTest) or a QEMU guest (QMP input-send-event). */
#pragma once

#include <glib.h>

#include "vmsinput.h"

G_BEGIN_DECLS

typedef struct _VmsInjector VmsInjector;

/* @qmp_path set: QEMU. Else the X display @display through XTest: the
 * session's configured one only, never $DISPLAY. With neither, every
 * event is refused (said once on stderr). */
VmsInjector *vms_injector_new (const gchar *display, const gchar *qmp_path);
/* @video_width/@video_height: size of the stream the coordinates of mouse
 * events refer to. Events the contract does not allow are refused here
 * too. Returns TRUE if the event was injected. */
gboolean vms_injector_handle (VmsInjector *inj, const VmsInputEvent *event,
                              gint video_width, gint video_height);
/* X protocol errors the display reported so far (they never end the
 * process). */
guint vms_injector_x_errors (VmsInjector *inj);
void vms_injector_free (VmsInjector *inj);

G_END_DECLS
