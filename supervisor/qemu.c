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
  GSubprocess *q = G_SUBPROCESS (src);

  g_subprocess_wait_finish (q, res, NULL);
  {
    /* whatever QEMU's launcher left in its group (its parent watcher) */
    gint pgid = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (q), "vms-pgid"));
    if (pgid > 1)
      kill (-pgid, SIGKILL);
  }
  if (s->qemu == q) {
    g_clear_object (&s->qemu);
    if (s->qemu_timer_id) {
      g_source_remove (s->qemu_timer_id);
      s->qemu_timer_id = 0;
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
  VmsConfig *cfg = s->sup->cfg;
  g_autofree gchar *cmd = NULL;
  g_auto (GStrv) argv = NULL;
  g_autoptr (GSubprocessLauncher) l = NULL;

  {
    GHashTable *layers[] = { vars, cfg->extra_vars, NULL };
    cmd = vms_template_expand (cfg->qemu_command, layers, error);
  }
  if (cmd == NULL)
    return FALSE;
  if (g_str_equal (s->capture, "qemu")
      && strstr (cmd, (const gchar *)g_hash_table_lookup (vars, "VNC_SOCKET"))
             == NULL)
    g_message ("session %s: capture mode qemu, but the QEMU command does not "
               "serve ${VNC_SOCKET} (add ${CAPTURE_ARGS} to "
               "HELIX_QEMU_COMMAND): the stream will stay black",
               s->id);
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
  g_subprocess_launcher_set_cwd (l, s->run_dir);
  s->qemu = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv, error);
  if (s->qemu == NULL)
    return FALSE;
  s->qemu_stop_stage = 0;
  s->qemu_pid = vms_subprocess_pid (s->qemu);
  g_object_set_data (G_OBJECT (s->qemu), "vms-pgid",
                     GINT_TO_POINTER (s->qemu_pid));
  g_object_set_data (G_OBJECT (s->qemu), "vms-ended", ended);
  vms_session_ref (s);
  g_subprocess_wait_async (s->qemu, NULL, qemu_wait_cb, s);
  g_message ("session %s: started QEMU (pid %d): %s", s->id, s->qemu_pid, cmd);
  return TRUE;
}

static gboolean
qemu_send (VmsSession *s, const gchar *command)
{
  g_autoptr (GError) error = NULL;
  VmsQmp *q = vms_qmp_connect_sync (s->qmp_path, 2, &error);
  gboolean ok;

  if (q != NULL && vms_qmp_execute_sync (q, command, &error)) {
    ok = TRUE;
  } else {
    g_message ("session %s: QMP %s: %s", s->id, command, error->message);
    ok = FALSE;
  }
  vms_qmp_free (q);
  return ok;
}

static gboolean
qemu_stop_step (gpointer user_data)
{
  VmsSession *s = user_data;
  VmsConfig *cfg = s->sup->cfg;

  s->qemu_timer_id = 0;
  if (s->qemu == NULL)
    return G_SOURCE_REMOVE;
  switch (s->qemu_stop_stage++) {
    case 0:
      g_message ("session %s: asking the guest to power down", s->id);
      qemu_send (s, "system_powerdown");
      /* not g_timeout_add_seconds(): it may fire up to a second early,
       * which would cut the guest's grace period short */
      s->qemu_timer_id = g_timeout_add ((guint)cfg->powerdown_timeout * 1000,
                                        qemu_stop_step, s);
      break;
    case 1:
      g_message ("session %s: the guest did not power down in %d s: quit",
                 s->id, cfg->powerdown_timeout);
      if (!qemu_send (s, "quit"))
        g_subprocess_send_signal (s->qemu, SIGTERM);
      s->qemu_timer_id
          = g_timeout_add ((guint)cfg->stop_timeout * 1000, qemu_stop_step, s);
      break;
    default:
      g_message ("session %s: QEMU did not quit: killing it", s->id);
      g_subprocess_force_exit (s->qemu);
      break;
  }
  return G_SOURCE_REMOVE;
}

void
vms_qemu_stop (VmsSession *s)
{
  if (s->qemu == NULL || s->qemu_stop_stage > 0)
    return;
  qemu_stop_step (s);
}
