/* vmstream common: input contract events <-> GstNavigation events.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The GStreamer half of the input contract (vmsinput.h), in the static
 * library vmscommon_gst so that the supervisor, which links vmscommon but
 * never GStreamer, does not get it. Linked by the plugins and the session
 * process. */
#pragma once

#include <gst/gst.h>

#include "vmsinput.h"

G_BEGIN_DECLS

/* The navigation event of @ev: key_press/key_release (code),
 * mouse_move (x, y), mouse_button_press/release (button + 1, x, y) (DOM
 * buttons 0..4 are GStreamer buttons 1..5), mouse_scroll (x, y, dx, dy).
 * NULL when @ev is not valid. */
GstEvent *vms_input_event_to_gst (const VmsInputEvent *ev);

/* The contract applied to a navigation event from anywhere (an element of
 * the pipeline posted it): TRUE with @out set when it is one the contract
 * allows (coordinates and deltas clamped as the parsers do), FALSE with
 * @error set otherwise (GStreamer buttons other than 1..5, keys not in the
 * keymap, non-finite numbers, other navigation events). */
gboolean vms_input_event_from_gst (GstEvent *event, VmsInputEvent *out,
                                   GError **error);

G_END_DECLS
