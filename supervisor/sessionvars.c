/* vmstream-supervisor: the template variables a session gets. */
#include "sessionvars.h"

#include "vmsrtsp.h"
#include "vmstemplate.h"

/* @name in the session's folder, "" without one */
static gchar *
in_run_dir (const VmsSessionVarsIn *in, const gchar *name)
{
  return in->run_dir ? g_build_filename (in->run_dir, name, NULL)
                     : g_strdup ("");
}

static void
set (GHashTable *v, const gchar *name, const gchar *value)
{
  g_hash_table_insert (v, (gpointer)name, g_strdup (value));
}

/* the same, "" for none */
#define OR_EMPTY(s) ((s) ? (s) : "")

static void
set_int (GHashTable *v, const gchar *name, gint64 value)
{
  g_hash_table_insert (v, (gpointer)name,
                       g_strdup_printf ("%" G_GINT64_FORMAT, value));
}

/* qemu capture: QEMU serves the display on a socket in the session's
 * private runtime folder (vmstream-vm runs QEMU with umask 177, so it is
 * 0600); host-qemu-display.txt reads ${VNC_SOCKET}, the default QEMU
 * command gets ${CAPTURE_ARGS}. Input keeps going through QMP. */
static void
capture_vars (GHashTable *v, const VmsSessionVarsIn *in)
{
  set (v, "CAPTURE", in->capture);
  if (g_strcmp0 (in->capture, "qemu") == 0 && in->run_dir) {
    g_autofree gchar *vnc = in_run_dir (in, "vnc.sock");
    g_hash_table_insert (v, "CAPTURE_ARGS",
                         g_strdup_printf ("--vnc-socket %s", vnc));
    g_hash_table_insert (v, "VNC_SOCKET", g_steal_pointer (&vnc));
  } else {
    set (v, "CAPTURE_ARGS", "");
  }
}

/* RTSP: the supervisor's one port (rtspdoor.c) hands clients over to the
 * session's rtsph264sink through RTSP_HANDOFF_SOCKET */
static void
rtsp_vars (GHashTable *v, const VmsConfig *cfg, const VmsSessionVarsIn *in)
{
  set_int (v, "RTSP_PORT", in->rtsp_port);
  set (v, "RTSP_ADDRESS", cfg->listen_host);
  g_hash_table_insert (v, "RTSP_HANDOFF_SOCKET",
                       in_run_dir (in, VMS_RTSP_HANDOFF_NAME));
  set (v, "RTSP_USER", OR_EMPTY (cfg->rtsp_user));
  set (v, "RTSP_PASSWORD_FILE", OR_EMPTY (cfg->rtsp_password_file));
}

GHashTable *
vms_session_vars (const VmsConfig *cfg, const VmsSessionVarsIn *in)
{
  GHashTable *v = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

  set (v, "SESSION_ID", in->id);
  set_int (v, "WIDTH", in->width);
  set_int (v, "HEIGHT", in->height);
  set_int (v, "FPS", in->fps);
  set_int (v, "FRAMERATE", in->fps);
  set (v, "ENCODER", in->encoder);
  set (v, "ENCODER_MODE", cfg->encoder_mode);
  /* no TCP port for viewers: the sink serves the supervisor's relay on a
   * Unix socket in the session's private folder (relay.c) */
  g_hash_table_insert (v, "WS_SOCKET", in_run_dir (in, VMS_WS_SOCKET));
  capture_vars (v, in);
  rtsp_vars (v, cfg, in);
  set_int (v, "VSOCK_PORT", in->vsock_port);
  if (cfg->display && *cfg->display)
    set (v, "DISPLAY", cfg->display);
  /* The session's viewer token, never the administrator's: WS_TOKEN for
   * wsh264sink, TOKEN for templates and QEMU commands that want a secret
   * of this session. */
  set (v, "TOKEN", in->viewer_token);
  set (v, "WS_TOKEN", in->viewer_token);
  set (v, "RUN_DIR", OR_EMPTY (in->run_dir));
  set_int (v, "VM_CPUS", cfg->vm_cpus);
  set (v, "VM_MEMORY", cfg->vm_memory);
  set (v, "VM_DIR", cfg->vm_dir);
  set (v, "QMP_SOCKET", OR_EMPTY (in->qmp_path));
  if (in->link_secret_file)
    set (v, "LINK_SECRET_FILE", in->link_secret_file);
  if (cfg->vsock_uri) {
    GHashTable *layers[] = { v, NULL };
    g_autofree gchar *uri = vms_template_expand (cfg->vsock_uri, layers, NULL);
    set (v, "VSOCK_URI", uri ? uri : cfg->vsock_uri);
  }
  return v;
}
