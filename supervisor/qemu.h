/* vmstream-supervisor: one session's QEMU (qemu.c) */
#pragma once

#include "supervisor.h"

G_BEGIN_DECLS

/* One session's QEMU: kept in the session (vms_session_qemu), read and
 * written by qemu.c only (sessions.c asks whether proc is set). */
typedef struct {
  GSubprocess *proc; /* NULL: no QEMU runs */
  gint pid;          /* of proc, kept: GSubprocess forgets it once it exited */
  guint timer_id;    /* the next step of a stop */
  gint stop_stage;
} VmsQemuState;

/* sessions.c: @s's QEMU state */
VmsQemuState *vms_session_qemu (VmsSession *s);

/* Called from the main loop when @qemu, the session's QEMU, has ended
 * (its proc is already cleared when it was this one). */
typedef void (*VmsQemuEndedFunc) (VmsSession *s, GSubprocess *qemu);

/* Starts the session's QEMU from cfg->qemu_command expanded with @vars
 * (then cfg->extra_vars), in the session's run_dir; sets proc and pid and
 * holds a reference on @s until @ended has been called. */
gboolean vms_qemu_start (VmsSession *s, GHashTable *vars,
                         VmsQemuEndedFunc ended, GError **error);
/* powerdown -> quit -> kill (see qemu.c); once, later calls do nothing. */
void vms_qemu_stop (VmsSession *s);

G_END_DECLS
