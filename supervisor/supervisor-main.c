/* vmstream-supervisor: runs streaming sessions from pipeline templates and
 * serves the HTTP API. main: the configuration (config.c), the private
 * folders and TLS, the API and the RTSP door, the main loop, the shutdown.
 * See docs/operations.md. */
#include "supervisor.h"

#include "vmsfs.h"

#include "vmsauth.h"

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The administrator token when none is configured: a new one at each
 * start, in a file only this user can read ($runtime_dir/admin-token,
 * 0600, written atomically) in a folder only this user can change
 * (vms_runtime_prepare checked it first). */
static gboolean
generate_admin_token (VmsConfig *cfg, GError **error)
{
  g_autofree gchar *text = NULL;

  g_free (cfg->token);
  cfg->token = vms_token_generate (32, error);
  if (cfg->token == NULL)
    return FALSE;
  cfg->token_file = g_build_filename (cfg->runtime_dir, "admin-token", NULL);
  text = g_strconcat (cfg->token, "\n", NULL);
  if (!vms_private_file_write (cfg->token_file, text, error)) {
    g_prefix_error (error, "cannot store the generated administrator token: ");
    return FALSE;
  }
  return TRUE;
}

static gboolean
signal_cb (gpointer user_data)
{
  VmsSupervisor *sup = user_data;
  if (sup->shutting_down) {
    g_message ("second signal: leaving now (children get SIGTERM/SIGKILL "
               "from the kernel)");
    exit (1);
  }
  g_message ("signal received: stopping");
  vms_supervisor_shutdown (sup);
  return G_SOURCE_CONTINUE;
}

/* What the configuration means for the operator, once at start. */
static void
config_notes (const VmsConfig *cfg)
{
  if (g_str_equal (cfg->vm_backend, "none") && *cfg->display == '\0')
    g_message ("no X display configured (HELIX_DISPLAY / --display): "
               "sessions without a VM refuse input%s",
               g_getenv ("DISPLAY") ? " ($DISPLAY is never used)" : "");
  if (g_str_equal (cfg->vm_backend, "utm"))
    g_message ("HELIX_VM_BACKEND=utm: the VM is managed by UTM, not by this "
               "supervisor; sessions only run their pipelines");
}

/* The listen line, how to reach the API with a generated token, and the
 * readiness line for scripts: "READY <port>" on stdout. */
static void
announce (const VmsConfig *cfg)
{
  g_message ("listening on %s://%s:%u/ (templates %s, VM backend %s)",
             vms_url_scheme (cfg, FALSE),
             strchr (cfg->listen_host, ':') ? "[v6]" : cfg->listen_host,
             cfg->listen_port, cfg->templates_dir, cfg->vm_backend);
  if (cfg->token_file) {
    g_autofree gchar *hb = strchr (cfg->listen_host, ':')
                               ? g_strdup_printf ("[%s]", cfg->listen_host)
                               : g_strdup (cfg->listen_host);
    g_message (
        "no token configured (HELIX_TOKEN, --token): the API needs "
        "the administrator token generated into %s (readable by this "
        "user only, new at each start), e.g.\n  curl -H "
        "\"Authorization: Bearer $(cat %s)\" %s%s%s://%s:%u/api/v1/sessions",
        cfg->token_file, cfg->token_file,
        cfg->tls_certificate ? "--cacert " : "",
        cfg->tls_certificate ? cfg->tls_cert_file : "",
        cfg->tls_certificate ? " https" : "http", hb, cfg->listen_port);
  }
  g_print ("READY %u\n", cfg->listen_port);
  fflush (stdout);
}

/* The generated token dies with this process, unless another supervisor
 * on the same runtime folder has replaced it since. */
static void
remove_generated_token (const VmsConfig *cfg)
{
  g_autofree gchar *text = NULL;

  if (cfg->token_file
      && g_file_get_contents (cfg->token_file, &text, NULL, NULL)
      && g_str_equal (g_strstrip (text), cfg->token))
    g_unlink (cfg->token_file);
}

static void
supervisor_clear (VmsSupervisor *sup)
{
  g_hash_table_destroy (sup->sessions);
  g_main_loop_unref (sup->loop);
  g_clear_object (&sup->server);
}

int
main (int argc, char **argv)
{
  VmsConfig cfg = { 0 };
  VmsSupervisor sup = { 0 };
  g_autoptr (GError) error = NULL;
  guint sig1, sig2;
  gint status = vms_config_load (&cfg, &argc, &argv);

  if (status >= 0) {
    vms_config_clear (&cfg);
    return status;
  }
  config_notes (&cfg);

  /* sockets, logs and folders of ours and of our children: owner only */
  umask (077);
  if (!vms_runtime_prepare (&cfg, &error) || !vms_tls_prepare (&cfg, &error)
      || (*cfg.token == '\0' && !generate_admin_token (&cfg, &error))) {
    g_printerr ("vmstream-supervisor: %s\n", error->message);
    vms_config_clear (&cfg);
    return 1;
  }

  /* A session that died leaves a closed stdin pipe: writing to it must be
   * an error, not a SIGPIPE that kills the supervisor. */
  signal (SIGPIPE, SIG_IGN);
  sup.cfg = &cfg;
  sup.loop = g_main_loop_new (NULL, FALSE);
  sup.sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                        (GDestroyNotify)vms_session_unref);
  sup.started_at = g_get_monotonic_time ();
  if (!vms_api_start (&sup, &error) || !vms_rtsp_door_start (&sup, &error)) {
    g_printerr ("vmstream-supervisor: %s\n", error->message);
    vms_api_stop (&sup);
    supervisor_clear (&sup);
    vms_config_clear (&cfg);
    return 1;
  }
  sig1 = g_unix_signal_add (SIGTERM, signal_cb, &sup);
  sig2 = g_unix_signal_add (SIGINT, signal_cb, &sup);
  announce (&cfg);

  g_main_loop_run (sup.loop);

  vms_rtsp_door_stop (&sup);
  vms_api_stop (&sup);
  g_source_remove (sig1);
  g_source_remove (sig2);
  supervisor_clear (&sup);
  remove_generated_token (&cfg);
  vms_config_clear (&cfg);
  g_message ("stopped");
  return 0;
}
