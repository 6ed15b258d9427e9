/* vmstream-supervisor: one session's QEMU (qemu.c) */
#pragma once

#include "supervisor.h"

G_BEGIN_DECLS

/* Called from the main loop when @qemu, the session's QEMU, has ended
 * (s->qemu is already cleared when it was this one). */
typedef void (*VmsQemuEndedFunc) (VmsSession *s, GSubprocess *qemu);

/* Starts the session's QEMU from cfg->qemu_command expanded with @vars
 * (then cfg->extra_vars), in s->run_dir; sets s->qemu and s->qemu_pid and
 * holds a reference on @s until @ended has been called. */
gboolean vms_qemu_start (VmsSession *s, GHashTable *vars,
                         VmsQemuEndedFunc ended, GError **error);
/* powerdown -> quit -> kill (see qemu.c); once, later calls do nothing. */
void vms_qemu_stop (VmsSession *s);

G_END_DECLS
