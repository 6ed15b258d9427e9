/* vmstream common: the input contract.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One rule set for every keyboard/mouse event, whichever way it comes in:
 * a browser's WebSocket message (wsh264sink), a body of the HTTP API
 * (supervisor) and a line the supervisor writes to a session process.
 *
 *   {"type":"key","action":"down"|"up","code":"KeyA"}
 *   {"type":"pointer","action":"move"|"down"|"up","x":10,"y":20,"button":0}
 *   {"type":"wheel","x":10,"y":20,"dx":0,"dy":120}
 *
 * The rules (docs/operations.md, docs/websocket.md):
 * - the text is strict JSON (RFC 8259: no comments, no single quotes, none
 *   of json-glib's extensions) nested at most VMS_INPUT_MAX_DEPTH levels,
 *   checked by vms_json_nesting_check() before json-glib parses it; one
 *   event is at most VMS_INPUT_MAX_MESSAGE bytes, a line (API body, session
 *   stdin) at most VMS_INPUT_MAX_LINE bytes and VMS_INPUT_MAX_EVENTS events;
 * - "type" and "action" are strings of the lists above; other members are
 *   ignored;
 * - "code" is KeyboardEvent.code and must be in the keymap (vmskeymap.h),
 *   which also limits it to ASCII letters and digits;
 * - "x", "y" are finite numbers (video pixels), clamped to
 *   0..VMS_INPUT_MAX_COORD here and to the screen or tablet range by whoever
 *   injects them;
 * - "button" is DOM MouseEvent.button, an integer 0..4 (left, middle,
 *   right, back, forward), required for pointer down/up, ignored for move;
 * - "dx", "dy" are finite numbers (DOM wheel deltas, > 0 scrolls down or
 *   right), both required, clamped to +-VMS_INPUT_MAX_SCROLL.
 *
 * Why two libraries: this file and vmsinput.c need GLib and json-glib only,
 * so the supervisor (which never links GStreamer) validates API bodies and
 * writes session lines with them. Turning an event into a GstNavigation
 * event and back is vmsinput-gst.h, in the separate static library
 * vmscommon_gst that only the plugins and the session process link. */
#pragma once

#include <glib.h>

#include "vmskeymap.h"

G_BEGIN_DECLS

#define VMS_INPUT_MAX_MESSAGE 4096
#define VMS_INPUT_MAX_LINE (1024 * 1024)
#define VMS_INPUT_MAX_EVENTS 1024
#define VMS_INPUT_MAX_DEPTH 4
#define VMS_INPUT_MAX_BUTTON 4
#define VMS_INPUT_MAX_COORD 16384
#define VMS_INPUT_MAX_SCROLL 10000

typedef enum {
  VMS_INPUT_KEY = 1,
  VMS_INPUT_POINTER,
  VMS_INPUT_WHEEL,
} VmsInputType;

typedef enum {
  VMS_INPUT_ACTION_NONE = 0, /* wheel */
  VMS_INPUT_ACTION_MOVE,     /* pointer */
  VMS_INPUT_ACTION_DOWN,     /* key, pointer */
  VMS_INPUT_ACTION_UP,       /* key, pointer */
} VmsInputAction;

/* One validated event. Plain data: copy it, compare it, no free. */
typedef struct {
  VmsInputType type;
  VmsInputAction action;
  const VmsKeyMapEntry *key; /* key: its keymap entry (static) */
  gdouble x, y;              /* pointer, wheel: 0..VMS_INPUT_MAX_COORD */
  guint button;              /* pointer down/up: 0..VMS_INPUT_MAX_BUTTON */
  gdouble dx, dy;            /* wheel */
} VmsInputEvent;

/* One event as one message (a browser's WebSocket text message): a JSON
 * object of at most VMS_INPUT_MAX_MESSAGE bytes (@len -1: NUL-terminated).
 * FALSE with @error set (G_IO_ERROR_INVALID_DATA, a sentence) otherwise. */
gboolean vms_input_event_parse (const gchar *text, gssize len,
                                VmsInputEvent *out, GError **error);

/* A line of the API or of a session's stdin: one event object or an array
 * of 1..VMS_INPUT_MAX_EVENTS of them, at most VMS_INPUT_MAX_LINE bytes.
 * Returns the events (an array of VmsInputEvent), or NULL with @error
 * naming the first bad event ("event 3: ..."). Every event gets the
 * verdict vms_input_event_parse() gives it alone, except for the size
 * limit: a line may be larger than one message. */
GArray *vms_input_line_parse (const gchar *text, gssize len, GError **error);

/* TRUE when @ev holds only what the parsers can produce (for injectors
 * that get events from elsewhere: they refuse the others). */
gboolean vms_input_event_is_valid (const VmsInputEvent *ev);

/* The canonical JSON object of @ev (no newline); parsing it gives @ev back.
 * Appended to @out. */
void vms_input_event_append_json (const VmsInputEvent *ev, GString *out);

/* The canonical line of @n events: a JSON array, no newline. */
gchar *vms_input_line_build (const VmsInputEvent *events, guint n);

const gchar *vms_input_type_name (VmsInputType type);
const gchar *vms_input_action_name (VmsInputAction action);

G_END_DECLS
