/* vmstream-supervisor: the runtime and state folders, and RTSP credentials.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The runtime folder holds every session's run folder (QMP socket, guest
 * link socket, console log) and the RTSP password file: it must be ours
 * alone (common/vmsfs.h). The supervisor runs with umask 077, so every
 * socket and file it, its sessions or QEMU create there is 0600/0700.
 *
 * RTSP is served on the supervisor's listen address. Off loopback
 * rtsph264sink refuses to start without credentials, so the supervisor
 * always has some: VMSTREAM_RTSP_USER / VMSTREAM_RTSP_PASSWORD (or
 * HELIX_RTSP_*), else user "vmstream" and a generated password. Sessions
 * get the password as a file (RTSP_PASSWORD_FILE, mode 0600), never in the
 * pipeline text. See docs/security.md. */
#include "supervisor.h"

#include "vmsauth.h"
#include "vmsfs.h"

#include <string.h>

#define RTSP_DEFAULT_USER "vmstream"
#define RTSP_PASSWORD_BYTES 16

const gchar *
vms_setting_env (const gchar *name)
{
  g_autofree gchar *vmstream = g_strconcat ("VMSTREAM_", name, NULL);
  g_autofree gchar *helix = g_strconcat ("HELIX_", name, NULL);
  const gchar *v = g_getenv (vmstream);

  if (v == NULL || *v == '\0')
    v = g_getenv (helix);
  return v && *v ? v : NULL;
}

static gboolean
private_dir (const gchar *what, const gchar *path, const gchar *how,
             GError **error)
{
  g_autoptr (GError) e = NULL;
  gboolean tightened = FALSE;

  if (!vms_private_dir_ensure (path, &tightened, &e)) {
    g_set_error (error, G_FILE_ERROR, e->code,
                 "refusing the %s folder: %s. Remove it, or choose another "
                 "folder with %s.",
                 what, e->message, how);
    return FALSE;
  }
  if (tightened)
    g_message ("%s folder %s was readable by others: made it mode 0700", what,
               path);
  return TRUE;
}

static gboolean
rtsp_credentials (VmsConfig *cfg, GError **error)
{
  const gchar *user = vms_setting_env ("RTSP_USER");
  const gchar *password = vms_setting_env ("RTSP_PASSWORD");
  g_autofree gchar *generated = NULL;
  g_autofree gchar *file = NULL;

  if (user == NULL && password == NULL && cfg->listen_loopback)
    return TRUE; /* this machine only, as before: no RTSP authentication */
  file = g_build_filename (cfg->state_dir ? cfg->state_dir : cfg->runtime_dir,
                           "rtsp-password", NULL);
  if (password == NULL && cfg->state_dir) {
    /* a persistent folder: keep the password clients already know */
    gchar *old = NULL;
    if (g_file_get_contents (file, &old, NULL, NULL))
      g_strstrip (old);
    if (old && *old)
      generated = old;
    else
      g_free (old);
  }
  if (password == NULL && generated == NULL) {
    generated = vms_token_generate (RTSP_PASSWORD_BYTES, error);
    if (generated == NULL)
      return FALSE;
  }
  {
    g_autofree gchar *line
        = g_strconcat (password ? password : generated, "\n", NULL);
    if (!vms_private_file_write (file, line, error))
      return FALSE;
  }
  cfg->rtsp_user = g_strdup (user ? user : RTSP_DEFAULT_USER);
  cfg->rtsp_password_file = g_steal_pointer (&file);
  if (password == NULL)
    g_message ("RTSP needs a login: user \"%s\", password in %s (set "
               "VMSTREAM_RTSP_USER and VMSTREAM_RTSP_PASSWORD to choose them)",
               cfg->rtsp_user, cfg->rtsp_password_file);
  else
    g_message ("RTSP needs a login: user \"%s\" and VMSTREAM_RTSP_PASSWORD",
               cfg->rtsp_user);
  return TRUE;
}

gboolean
vms_runtime_prepare (VmsConfig *cfg, GError **error)
{
  const gchar *state = g_getenv ("STATE_DIRECTORY"); /* systemd */

  if (!private_dir ("runtime", cfg->runtime_dir,
                    "HELIX_RUNTIME_DIR or --runtime-dir", error))
    return FALSE;
  if (state && *state && cfg->state_dir == NULL) {
    /* systemd lists several, colon-separated, when the unit names several */
    cfg->state_dir = g_strndup (state, strcspn (state, ":"));
    if (!private_dir ("state", cfg->state_dir, "StateDirectory= in the unit",
                      error))
      return FALSE;
  }
  return rtsp_credentials (cfg, error);
}
