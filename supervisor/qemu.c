/* vmstream-supervisor: one session's QEMU (HELIX_VM_BACKEND=qemu).
 *
 * vms_qemu_start runs the expanded HELIX_QEMU_COMMAND in a process group of
 * its own, with the read end of the parent pipe (VMSTREAM_PARENT_FD: QEMU's
 * launcher kills QEMU when it reaches EOF, i.e. when the supervisor is
 * gone); when QEMU ends its group is removed and the session is told.
 * vms_qemu_stop: QMP system_powerdown, after powerdown-timeout QMP quit (or
 * SIGTERM), after stop-timeout SIGKILL. */
#include "qemu.h"

#include "qmp.h"
#include "vmstemplate.h"

#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void
qemu_child_setup (gpointer user_data)
{
  vms_child_setup (user_data);
  /* a group of its own: removed with QEMU (see qemu_wait_cb) */
  setpgid (0, 0);
}

/* The read end of the pipe QEMU's launcher watches; the write end stays in
 * this process (close-on-exec) until it exits. -1 when it cannot be made. */
static gint
parent_pipe_read_end (void)
{
  static gint fds[2] = { -1, -1 };

  if (fds[0] < 0 && !g_unix_open_pipe (fds, FD_CLOEXEC, NULL))
    fds[0] = fds[1] = -1;
  return fds[0];
}

static void
qemu_wait_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  VmsSession *s = user_data;
  VmsQemuState *vm = vms_session_qemu (s);
  GSubprocess *q = G_SUBPROCESS (src);

  g_subprocess_wait_finish (q, res, NULL);
  {
    /* whatever QEMU's launcher left in its group (its parent watcher) */
    gint pgid = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (q), "vms-pgid"));
    if (pgid > 1)
      kill (-pgid, SIGKILL);
  }
  if (vm->proc == q) {
    g_clear_object (&vm->proc);
    if (vm->timer_id) {
      g_source_remove (vm->timer_id);
      vm->timer_id = 0;
    }
  }
  {
    VmsQemuEndedFunc ended = g_object_get_data (G_OBJECT (q), "vms-ended");
    ended (s, q);
  }
  vms_session_unref (s);
}

gboolean
vms_qemu_start (VmsSession *s, GHashTable *vars, VmsQemuEndedFunc ended,
                GError **error)
{
  VmsConfig *cfg = vms_session_get_supervisor (s)->cfg;
  VmsQemuState *vm = vms_session_qemu (s);
  const gchar *id = vms_session_get_id (s);
  g_autofree gchar *cmd = NULL;
  g_auto (GStrv) argv = NULL;
  g_autoptr (GSubprocessLauncher) l = NULL;

  {
    GHashTable *layers[] = { vars, cfg->extra_vars, NULL };
    cmd = vms_template_expand (cfg->qemu_command, layers, error);
  }
  if (cmd == NULL)
    return FALSE;
  if (g_str_equal (vms_session_get_capture (s), "qemu")
      && strstr (cmd, (const gchar *)g_hash_table_lookup (vars, "VNC_SOCKET"))
             == NULL)
    g_message ("session %s: capture mode qemu, but the QEMU command does not "
               "serve ${VNC_SOCKET} (add ${CAPTURE_ARGS} to "
               "HELIX_QEMU_COMMAND): the stream will stay black",
               id);
  if (!g_shell_parse_argv (cmd, NULL, &argv, error))
    return FALSE;
  l = vms_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  {
    g_autofree gchar *cpus = g_strdup_printf ("%d", cfg->vm_cpus);
    g_subprocess_launcher_setenv (l, "HELIX_VM_CPUS", cpus, TRUE);
    g_subprocess_launcher_setenv (l, "HELIX_VM_MEMORY", cfg->vm_memory, TRUE);
  }
  g_subprocess_launcher_set_child_setup (l, qemu_child_setup,
                                         GINT_TO_POINTER (SIGKILL), NULL);
  if (parent_pipe_read_end () >= 0) {
    g_subprocess_launcher_take_fd (l, dup (parent_pipe_read_end ()), 3);
    g_subprocess_launcher_setenv (l, "VMSTREAM_PARENT_FD", "3", TRUE);
  }
  g_subprocess_launcher_set_cwd (l, vms_session_get_run_dir (s));
  vm->proc
      = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv, error);
  if (vm->proc == NULL)
    return FALSE;
  vm->stop_stage = 0;
  vm->pid = vms_subprocess_pid (vm->proc);
  g_object_set_data (G_OBJECT (vm->proc), "vms-pgid",
                     GINT_TO_POINTER (vm->pid));
  g_object_set_data (G_OBJECT (vm->proc), "vms-ended", ended);
  vms_session_ref (s);
  g_subprocess_wait_async (vm->proc, NULL, qemu_wait_cb, s);
  g_message ("session %s: started QEMU (pid %d): %s", id, vm->pid, cmd);
  return TRUE;
}

static gboolean
qemu_send (VmsSession *s, const gchar *command)
{
  g_autoptr (GError) error = NULL;
  VmsQmp *q = vms_qmp_connect_sync (vms_session_get_qmp_path (s), 2, &error);
  gboolean ok;

  if (q != NULL && vms_qmp_execute_sync (q, command, &error)) {
    ok = TRUE;
  } else {
    g_message ("session %s: QMP %s: %s", vms_session_get_id (s), command,
               error->message);
    ok = FALSE;
  }
  vms_qmp_free (q);
  return ok;
}

static gboolean
qemu_stop_step (gpointer user_data)
{
  VmsSession *s = user_data;
  VmsConfig *cfg = vms_session_get_supervisor (s)->cfg;
  VmsQemuState *vm = vms_session_qemu (s);
  const gchar *id = vms_session_get_id (s);

  vm->timer_id = 0;
  if (vm->proc == NULL)
    return G_SOURCE_REMOVE;
  switch (vm->stop_stage++) {
    case 0:
      g_message ("session %s: asking the guest to power down", id);
      qemu_send (s, "system_powerdown");
      /* not g_timeout_add_seconds(): it may fire up to a second early,
       * which would cut the guest's grace period short */
      vm->timer_id = g_timeout_add ((guint)cfg->powerdown_timeout * 1000,
                                    qemu_stop_step, s);
      break;
    case 1:
      g_message ("session %s: the guest did not power down in %d s: quit", id,
                 cfg->powerdown_timeout);
      if (!qemu_send (s, "quit"))
        g_subprocess_send_signal (vm->proc, SIGTERM);
      vm->timer_id
          = g_timeout_add ((guint)cfg->stop_timeout * 1000, qemu_stop_step, s);
      break;
    default:
      g_message ("session %s: QEMU did not quit: killing it", id);
      g_subprocess_force_exit (vm->proc);
      break;
  }
  return G_SOURCE_REMOVE;
}

void
vms_qemu_stop (VmsSession *s)
{
  VmsQemuState *vm = vms_session_qemu (s);

  if (vm->proc == NULL || vm->stop_stage > 0)
    return;
  qemu_stop_step (s);
}
