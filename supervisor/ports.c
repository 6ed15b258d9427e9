/* vmstream-supervisor: the ports a session gets. */
#include "supervisor.h"

static gboolean
port_used_by_session (VmsSupervisor *sup, guint port)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, sup->sessions);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    if (vms_session_get_vsock_port (v) == port)
      return TRUE;
  }
  return FALSE;
}

/* The session's guest-link port; viewers reach it through the supervisor's
 * own ports (relay.c, rtspdoor.c), so it has no TCP port of its own. */
gboolean
vms_ports_allocate (VmsSupervisor *sup, guint *port, GError **error)
{
  *port = 0;
  for (guint p = sup->cfg->vsock_port; p < (guint)sup->cfg->vsock_port + 1000;
       p++) {
    if (!port_used_by_session (sup, p)) {
      *port = p;
      break;
    }
  }
  if (!*port) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                 "no free port for the session's guest link");
    return FALSE;
  }
  return TRUE;
}
