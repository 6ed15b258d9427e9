/* vmstream common: the session process <-> supervisor protocol.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vmstream-session (supervisor/session-main.c) writes these lines on its
 * stdout and ends with these exit codes; vmstream-supervisor
 * (supervisor/sessions.c) reads them. One definition for both
 * (docs/operations.md). Input goes the other way, on the session's stdin,
 * as input contract lines (vmsinput.h).
 *
 * Status lines, one JSON object each:
 *   {"event":"state","state":"playing"}      the pipeline reached PLAYING
 *   {"event":"state","state":"eos"}          end of stream
 *   {"event":"stats","frames":N,"bytes":N,"fps":F,"clients":N,
 *    "input_events":N}                       every --stats-interval
 *   {"event":"error","message":"..."}        the session is ending with it
 *   {"event":"warning","message":"..."}
 * GLib and json-glib only: the supervisor links it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VMS_SESSION_EXIT_OK = 0,      /* stopped on request, EOS or stdin closed */
  VMS_SESSION_EXIT_USAGE = 2,   /* bad command line */
  VMS_SESSION_EXIT_PARSE = 3,   /* the pipeline description does not parse */
  VMS_SESSION_EXIT_STATE = 4,   /* the pipeline refused to start */
  VMS_SESSION_EXIT_RUNTIME = 5, /* an element posted an error while running */
} VmsSessionExit;

/* TRUE when a session that ended with @code can never run as it is (bad
 * command line, a pipeline that does not parse): not restarted. */
gboolean vms_session_exit_is_permanent (gint code);

/* Longest status line the supervisor reads; longer ones are ignored. */
#define VMS_STATUS_MAX_LINE (64 * 1024)

typedef enum {
  VMS_STATUS_STATE = 1,
  VMS_STATUS_STATS,
  VMS_STATUS_ERROR,
  VMS_STATUS_WARNING,
} VmsStatusKind;

typedef struct {
  VmsStatusKind kind;
  gchar *text; /* state: its name; error, warning: the message */
  guint64 frames, bytes;
  gdouble fps;
  gint clients; /* -1: unknown */
  guint64 input_events;
} VmsStatus;

/* The lines, without newline; newly allocated. */
gchar *vms_status_line_state (const gchar *state);
gchar *vms_status_line_message (VmsStatusKind kind, const gchar *message);
gchar *vms_status_line_stats (guint64 frames, guint64 bytes, gdouble fps,
                              gint clients, guint64 input_events);

/* Reads one status line into @out (clear it with vms_status_clear()).
 * FALSE with @error set for anything else (not strict JSON, nested, an
 * unknown event, fields of the wrong type). */
gboolean vms_status_parse (const gchar *line, gssize len, VmsStatus *out,
                           GError **error);
void vms_status_clear (VmsStatus *status);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VmsStatus, vms_status_clear)

G_END_DECLS
