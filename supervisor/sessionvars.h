/* vmstream-supervisor: the template variables a session gets
 * (sessionvars.c; docs/operations.md lists them) */
#pragma once

#include "supervisor.h"

G_BEGIN_DECLS

/* What a session's variables are made of: the session's own values; NULL
 * strings where it has none. */
typedef struct {
  const gchar *id;
  gint width, height, fps;
  const gchar *encoder;
  const gchar *capture; /* guest | qemu */
  const gchar *viewer_token;
  guint vsock_port;
  guint rtsp_port;               /* the supervisor's (bound) RTSP port */
  const gchar *run_dir;          /* the session's private folder */
  const gchar *qmp_path;         /* QEMU's QMP socket (qemu backend) */
  const gchar *link_secret_file; /* handed to the guest (qemu backend) */
} VmsSessionVarsIn;

/* name -> value (names static, values owned by the table): every variable
 * a session's pipeline template and QEMU command may use, besides
 * cfg->extra_vars and the template's defaults. Pure: reads @cfg and @in,
 * touches no file. */
GHashTable *vms_session_vars (const VmsConfig *cfg, const VmsSessionVarsIn *in);

G_END_DECLS
