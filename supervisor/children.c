/* vmstream-supervisor: what every child process (a session's
 * vmstream-session, its QEMU) is started with. */
#include "supervisor.h"

#include <signal.h>
#ifdef HAVE_SYS_PRCTL_H
#include <sys/prctl.h>
#endif

void
vms_child_setup (gpointer user_data)
{
#ifdef HAVE_SYS_PRCTL_H
  /* Die with the supervisor, whatever kills it. */
  prctl (PR_SET_PDEATHSIG, GPOINTER_TO_INT (user_data));
#endif
  /* The supervisor ignores SIGPIPE; an ignored signal survives exec. */
  signal (SIGPIPE, SIG_DFL);
}

/* Children (sessions, QEMU) inherit the supervisor's environment, but
 * never its administrator token: a session knows its viewer token only. */
GSubprocessLauncher *
vms_launcher_new (GSubprocessFlags flags)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_unsetenv (l, "HELIX_TOKEN");
  return l;
}

/* The pid of @p, 0 once GLib has reaped it: a process that ends at once
 * may be gone before we ask (g_subprocess_get_identifier() is NULL then). */
gint
vms_subprocess_pid (GSubprocess *p)
{
  const gchar *id = g_subprocess_get_identifier (p);
  return id ? (gint)g_ascii_strtoll (id, NULL, 10) : 0;
}
