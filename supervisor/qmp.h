/* vmstream: minimal QMP (QEMU Machine Protocol) client over a Unix socket */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _VmsQmp VmsQmp;

/* Connects, reads the greeting and negotiates capabilities (blocking, at
 * most @timeout_s seconds). Replies and events are then read and dropped in
 * the background on the thread-default main context. */
VmsQmp *vms_qmp_connect (const gchar *socket_path, guint timeout_s,
                         GError **error);
/* Same, but replies are not drained: for vms_qmp_execute_sync(). */
VmsQmp *vms_qmp_connect_sync (const gchar *socket_path, guint timeout_s,
                              GError **error);
/* Sends a command and waits (at most the connect timeout) for its reply. */
gboolean vms_qmp_execute_sync (VmsQmp *qmp, const gchar *command,
                               GError **error);
/* Sends {"execute": command, "arguments": arguments}; @arguments_json is a
 * JSON object text or NULL. */
gboolean vms_qmp_execute (VmsQmp *qmp, const gchar *command,
                          const gchar *arguments_json, GError **error);
gboolean vms_qmp_is_connected (VmsQmp *qmp);
void vms_qmp_free (VmsQmp *qmp);

G_END_DECLS
