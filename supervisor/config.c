/* vmstream-supervisor: its configuration. The options and the environment
 * into a VmsConfig (vms_config_load), their checks with a sentence each,
 * the --print-config view and vms_config_clear. See docs/operations.md. */
#include "supervisor.h"

#include "vmsnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VMS_SESSION_BIN
#define VMS_SESSION_BIN "vmstream-session"
#endif
#ifndef VMS_TEMPLATES_DIR
#define VMS_TEMPLATES_DIR "pipelines"
#endif
#ifndef VMS_VM_DIR
#define VMS_VM_DIR "vm"
#endif

/* vm/vmstream-vm execs QEMU (so the pid we watch is QEMU's), after
 * building the ${VM_VARIANT} image on first use; with ${SNAPSHOT_ARGS}
 * (--snapshot, HELIX_VM_SNAPSHOT=on) it restores a saved base of the guest,
 * booting it as that base first when there is none. The guest runs
 * ${GUEST_PIPELINE} (a guest template) with this project's plugins from
 * ${GUEST_PLUGINS}, at the session's size and rate. */
#define DEFAULT_QEMU_COMMAND                                                   \
  "${VM_DIR}/vmstream-vm run --name ${SESSION_ID} --runtime-dir ${RUN_DIR} "   \
  "--variant ${VM_VARIANT} --build-missing "                                   \
  "--qmp ${QMP_SOCKET} --stream-socket ${RUN_DIR}/stream.sock "                \
  "--port ${VSOCK_PORT} --pipeline ${GUEST_PIPELINE} "                         \
  "--plugins ${GUEST_PLUGINS} --set WIDTH=${WIDTH} --set HEIGHT=${HEIGHT} "    \
  "--set FRAMERATE=${FPS} ${CAPTURE_ARGS} ${SNAPSHOT_ARGS}"

/* Settings from the environment: each NAME is read as VMSTREAM_NAME, else
 * HELIX_NAME (vms_setting_env); callers name it by its HELIX_ form, the one
 * docs and the Helix control plane use. */
static const gchar *
env_or (const gchar *helix_name, const gchar *def)
{
  const gchar *v = vms_setting_env (helix_name + strlen ("HELIX_"));
  return v ? v : def;
}

static gint
env_int_or (const gchar *helix_name, gint def)
{
  const gchar *v = env_or (helix_name, NULL);
  return v ? atoi (v) : def;
}

static gboolean
parse_listen (VmsConfig *cfg, GError **error)
{
  const gchar *l = cfg->listen;
  const gchar *colon = strrchr (l, ':');
  g_autoptr (GInetAddress) ia = NULL;
  gchar *end = NULL;
  guint64 port;

  if (colon == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "listen address \"%s\" must be HOST:PORT, e.g. 127.0.0.1:8080",
                 l);
    return FALSE;
  }
  port = g_ascii_strtoull (colon + 1, &end, 10);
  if (end == colon + 1 || *end || port > 65535) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "listen address \"%s\" has no valid port", l);
    return FALSE;
  }
  if (l[0] == '[' && colon > l && colon[-1] == ']')
    cfg->listen_host = g_strndup (l + 1, colon - l - 2);
  else
    cfg->listen_host = g_strndup (l, colon - l);
  if (g_str_equal (cfg->listen_host, "localhost")) {
    g_free (cfg->listen_host);
    cfg->listen_host = g_strdup ("127.0.0.1");
  }
  ia = g_inet_address_new_from_string (cfg->listen_host);
  if (ia == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "listen host \"%s\" is not an IP address", cfg->listen_host);
    return FALSE;
  }
  cfg->listen_port = (guint)port;
  cfg->listen_loopback = g_inet_address_get_is_loopback (ia);
  return TRUE;
}

static gchar *
default_sibling (const gchar *argv0, const gchar *name)
{
  /* Prefer the vmstream-session next to this binary (build tree or
   * install prefix), then $PATH. */
  g_autofree gchar *self = g_file_read_link ("/proc/self/exe", NULL);
  if (self) {
    g_autofree gchar *dir = g_path_get_dirname (self);
    gchar *p = g_build_filename (dir, name, NULL);
    if (g_file_test (p, G_FILE_TEST_IS_EXECUTABLE))
      return p;
    g_free (p);
  }
  return g_strdup (VMS_SESSION_BIN);
}

/* The option table: one entry per option, so it is long by nature (and
 * read by --help and docs/operations.md as one list). */
static GOptionContext *
option_context_new (VmsConfig *cfg, GStrv *var_args, gboolean *print_config)
{
  GOptionContext *ctx;
  GOptionEntry entries[] = {
    { "templates", 't', 0, G_OPTION_ARG_FILENAME, &cfg->templates_dir,
      "folder of pipeline templates *.txt [HELIX_TEMPLATES_DIR]", "DIR" },
    { "vm-backend", 'b', 0, G_OPTION_ARG_STRING, &cfg->vm_backend,
      "qemu, utm or none [HELIX_VM_BACKEND, default none]", "BACKEND" },
    { "encoder-mode", 'm', 0, G_OPTION_ARG_STRING, &cfg->encoder_mode,
      "native (encode on the host) or vm (the guest sends H.264) "
      "[HELIX_ENCODER_MODE, default native]",
      "MODE" },
    { "capture", 'c', 0, G_OPTION_ARG_STRING, &cfg->capture,
      "default capture mode of sessions: guest (the guest's own sender "
      "streams its screen, host-native) or qemu (the host reads the VM's "
      "display from QEMU's VNC server on RUN_DIR/vnc.sock, no guest "
      "software, host-qemu-display; needs --vm-backend qemu); a POST may "
      "choose per session with \"capture\" [HELIX_CAPTURE, default guest]",
      "MODE" },
    { "encoder", 'e', 0, G_OPTION_ARG_STRING, &cfg->encoder,
      "default encoder for ${ENCODER}: auto, x264, openh264, vaapi, "
      "nvenc, vtenc [HELIX_ENCODER, default auto]",
      "NAME" },
    { "vsock-port", 0, 0, G_OPTION_ARG_INT, &cfg->vsock_port,
      "first vsock port; session N gets the next free one "
      "[HELIX_VSOCK_PORT, default 5000]",
      "PORT" },
    { "vsock-uri", 0, 0, G_OPTION_ARG_STRING, &cfg->vsock_uri,
      "value of ${VSOCK_URI}, may use ${VSOCK_PORT} and ${RUN_DIR} "
      "[HELIX_VSOCK_URI; default with the qemu backend "
      "vsock://any:${VSOCK_PORT} for HELIX_VM_PROFILE=linux-kvm, else "
      "unix://${RUN_DIR}/stream.sock, the serial stream socket of "
      "vm/vmstream-vm; otherwise the template's own default]",
      "URI" },
    { "vm-cpus", 0, 0, G_OPTION_ARG_INT, &cfg->vm_cpus,
      "guest CPUs [HELIX_VM_CPUS, default 2]", "N" },
    { "vm-memory", 0, 0, G_OPTION_ARG_STRING, &cfg->vm_memory,
      "guest memory in MiB [HELIX_VM_MEMORY, default 2048]", "MIB" },
    { "vm-dir", 0, 0, G_OPTION_ARG_FILENAME, &cfg->vm_dir,
      "folder holding vmstream-vm [HELIX_VM_DIR]", "DIR" },
    { "vm-variant", 0, 0, G_OPTION_ARG_STRING, &cfg->vm_variant,
      "guest of the qemu backend: desktop (Sway, a terminal, PipeWire "
      "ScreenCast; guest pipeline pipelines/guest-pipewire.txt) or test "
      "(a test pattern, vm/guest/testsrc.txt); ${VM_VARIANT} in the QEMU "
      "command; its image is built on first use "
      "[HELIX_VM_VARIANT, default desktop]",
      "VARIANT" },
    { "vm-snapshot", 0, 0, G_OPTION_ARG_STRING, &cfg->vm_snapshot,
      "on: sessions start from a saved snapshot of the guest in seconds "
      "(the first one boots it once and saves it; ${SNAPSHOT_ARGS} is "
      "--snapshot), off: every session boots its guest "
      "[HELIX_VM_SNAPSHOT, default on]",
      "on|off" },
    { "qemu-command", 0, 0, G_OPTION_ARG_STRING, &cfg->qemu_command,
      "command that runs one session's QEMU in the foreground, with "
      "${VARIABLES} [HELIX_QEMU_COMMAND, default: vm/vmstream-vm run ...]",
      "CMD" },
    { "powerdown-timeout", 0, 0, G_OPTION_ARG_INT, &cfg->powerdown_timeout,
      "seconds between QMP system_powerdown and quit "
      "[HELIX_POWERDOWN_TIMEOUT, default 20]",
      "S" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &cfg->listen,
      "HTTP(S) address HOST:PORT [HELIX_LISTEN, default 127.0.0.1:8080]",
      "ADDR" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &cfg->tls_cert_file,
      "PEM certificate (and chain): the listen port serves HTTPS and WSS; "
      "needs --tls-key. Without one a loopback listen is plain HTTP and "
      "any other gets a self-signed certificate, made once in the state "
      "folder and reused; its SHA-256 fingerprint is logged and in "
      "GET /api/v1/info [HELIX_TLS_CERT]",
      "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &cfg->tls_key_file,
      "PEM private key of --tls-cert [HELIX_TLS_KEY]", "FILE" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &cfg->token,
      "administrator bearer token for the API; required when not listening "
      "on loopback; without one a new token is generated at each start into "
      "RUNTIME_DIR/admin-token (mode 0600) [HELIX_TOKEN]",
      "TOKEN" },
    { "public-names", 0, 0, G_OPTION_ARG_STRING, &cfg->public_names_list,
      "comma-separated host names clients use to reach this server (Host "
      "header), besides IP addresses and localhost; others are refused (421) "
      "[VMSTREAM_PUBLIC_NAMES or HELIX_PUBLIC_NAMES]",
      "NAMES" },
    { "allowed-origins", 0, 0, G_OPTION_ARG_STRING, &cfg->allowed_origins_list,
      "comma-separated web origins (scheme://host:port) whose pages may use "
      "the API, besides the supervisor's own; others are refused (403) "
      "[VMSTREAM_ALLOWED_ORIGINS or HELIX_ALLOWED_ORIGINS]",
      "ORIGINS" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &cfg->max_sessions,
      "most sessions at a time; a POST beyond it is refused (503) "
      "[HELIX_MAX_SESSIONS or VMSTREAM_MAX_SESSIONS, default 16]",
      "N" },
    { "rtsp-port", 0, 0, G_OPTION_ARG_INT, &cfg->rtsp_port,
      "the RTSP port of every session, rtsp://HOST:PORT/ID, on the listen "
      "address; 0 picks a free one [HELIX_RTSP_PORT, default 8554]. Each "
      "client is handed to its session's process (RTSP_HANDOFF_SOCKET in "
      "templates). RTSP login: VMSTREAM_RTSP_USER and "
      "VMSTREAM_RTSP_PASSWORD (or HELIX_RTSP_*); off loopback without them "
      "user vmstream and a generated password (RTSP_USER, "
      "RTSP_PASSWORD_FILE in templates)",
      "PORT" },
    { "display", 0, 0, G_OPTION_ARG_STRING, &cfg->display,
      "X display of the local desktop (${DISPLAY}, XTest input) "
      "[HELIX_DISPLAY, no default: without it sessions without a VM take "
      "no input; $DISPLAY is never used]",
      "DISPLAY" },
    { "default-template", 0, 0, G_OPTION_ARG_STRING, &cfg->default_template,
      "template used when a request names none [HELIX_TEMPLATE, default "
      "demo-local, or host-native / host-vm-encoded with a VM; a session "
      "in capture mode qemu uses host-qemu-display]",
      "NAME" },
    { "session-bin", 0, 0, G_OPTION_ARG_FILENAME, &cfg->session_bin,
      "vmstream-session executable [HELIX_SESSION_BIN]", "PATH" },
    { "runtime-dir", 0, 0, G_OPTION_ARG_FILENAME, &cfg->runtime_dir,
      "per-session runtime folders, ours alone (0700; refused when "
      "another user's, a symlink or writable by others) [HELIX_RUNTIME_DIR, "
      "default $RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR/vmstream or "
      "/tmp/vmstream-UID]",
      "DIR" },
    { "backoff-initial", 0, 0, G_OPTION_ARG_INT, &cfg->backoff_initial_ms,
      "first restart delay of a dead session, doubled per failure "
      "[HELIX_BACKOFF_INITIAL_MS, default 500]",
      "MS" },
    { "backoff-max", 0, 0, G_OPTION_ARG_INT, &cfg->backoff_max_ms,
      "restart delay cap [HELIX_BACKOFF_MAX_MS, default 30000]", "MS" },
    { "stop-timeout", 0, 0, G_OPTION_ARG_INT, &cfg->stop_timeout,
      "seconds before a process that ignores SIGTERM/quit is killed "
      "[HELIX_STOP_TIMEOUT, default 5]",
      "S" },
    { "start-timeout", 0, 0, G_OPTION_ARG_INT, &cfg->start_timeout,
      "seconds POST /api/v1/sessions waits for the pipeline to play "
      "[HELIX_START_TIMEOUT, default 10]",
      "S" },
    { "var", 0, 0, G_OPTION_ARG_STRING_ARRAY, var_args,
      "template variable for every session, e.g. --var "
      "'SOURCE=ximagesrc ! videoconvert' (repeatable) [HELIX_VAR_NAME=VALUE]; "
      "session variables (SESSION_ID, WS_SOCKET...) cannot be overridden",
      "NAME=VALUE" },
    { "print-config", 0, 0, G_OPTION_ARG_NONE, print_config,
      "print the effective configuration and exit", NULL },
    { NULL }
  };

  ctx = g_option_context_new ("- run vmstream streaming sessions");
  g_option_context_set_summary (
      ctx,
      "Runs one vmstream-session process per streaming session from the "
      "pipeline templates, restarts dead ones with exponential backoff, and "
      "serves the HTTP API (JSON) and the player links.\n"
      "Every HELIX_NAME setting can also be given as VMSTREAM_NAME, "
      "which wins when both are set.\n"
      "Every option has an environment variable (in brackets); the option "
      "wins.");
  g_option_context_set_description (
      ctx,
      "HTTP API (Authorization: Bearer <administrator token>; POST bodies "
      "are Content-Type: application/json):\n"
      "  POST   /api/v1/sessions             "
      "{\"template\",\"width\",\"height\","
      "\"fps\",\"encoder\",\"capture\",\"id\"}\n"
      "  GET    /api/v1/sessions[/ID]        state, URLs, stats\n"
      "  DELETE /api/v1/sessions/ID          stop it\n"
      "  POST   /api/v1/sessions/ID/input    {\"type\":\"key\",...} or an "
      "array\n"
      "  GET    /api/v1/templates, /api/v1/info (version, TLS, "
      "fingerprint), /healthz, /metrics (Prometheus)\n"
      "Viewers (viewer token, on the same port): /player/ID (the player "
      "page), /stream/ID (its WebSocket, also "
      "/api/v1/sessions/ID/stream)\n"
      "Template variables: SESSION_ID WIDTH HEIGHT FPS FRAMERATE ENCODER "
      "ENCODER_MODE CAPTURE VNC_SOCKET CAPTURE_ARGS WS_SOCKET RTSP_PORT "
      "RTSP_ADDRESS RTSP_HANDOFF_SOCKET RTSP_USER RTSP_PASSWORD_FILE "
      "VSOCK_PORT "
      "VSOCK_URI DISPLAY TOKEN WS_TOKEN RUN_DIR VM_DIR VM_VARIANT "
      "SNAPSHOT_ARGS "
      "VM_CPUS "
      "VM_MEMORY "
      "QMP_SOCKET, GUEST_PIPELINE and GUEST_PLUGINS (QEMU command), plus "
      "--var ones and the template's #:NAME= defaults.\n"
      "SIGTERM/SIGINT stop every session (and QEMU: system_powerdown, then "
      "quit) and exit. See docs/operations.md.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  return ctx;
}

/* What neither an option nor the environment gave: the defaults. */
static void
config_defaults (VmsConfig *cfg, const gchar *argv0)
{
#define STR_DEFAULT(field, env, def)                                           \
  if (cfg->field == NULL)                                                      \
  cfg->field = g_strdup (env_or (env, def))
#define INT_DEFAULT(field, env, def)                                           \
  if (cfg->field < 0)                                                          \
  cfg->field = env_int_or (env, def)
  STR_DEFAULT (templates_dir, "HELIX_TEMPLATES_DIR", VMS_TEMPLATES_DIR);
  STR_DEFAULT (vm_backend, "HELIX_VM_BACKEND", "none");
  STR_DEFAULT (encoder_mode, "HELIX_ENCODER_MODE", "native");
  STR_DEFAULT (encoder, "HELIX_ENCODER", "auto");
  STR_DEFAULT (capture, "HELIX_CAPTURE", "guest");
  if (cfg->vsock_uri == NULL && env_or ("HELIX_VSOCK_URI", NULL))
    cfg->vsock_uri = g_strdup (env_or ("HELIX_VSOCK_URI", NULL));
  STR_DEFAULT (vm_memory, "HELIX_VM_MEMORY", "2048");
  STR_DEFAULT (vm_dir, "HELIX_VM_DIR", VMS_VM_DIR);
  STR_DEFAULT (vm_variant, "HELIX_VM_VARIANT", "desktop");
  STR_DEFAULT (vm_snapshot, "HELIX_VM_SNAPSHOT", "on");
  STR_DEFAULT (qemu_command, "HELIX_QEMU_COMMAND", DEFAULT_QEMU_COMMAND);
  STR_DEFAULT (listen, "HELIX_LISTEN", "127.0.0.1:8080");
  STR_DEFAULT (token, "HELIX_TOKEN", "");
  STR_DEFAULT (tls_cert_file, "HELIX_TLS_CERT", "");
  STR_DEFAULT (tls_key_file, "HELIX_TLS_KEY", "");
  /* no default from $DISPLAY: the desktop sessions type into is chosen,
   * never inherited from whoever started the supervisor */
  STR_DEFAULT (display, "HELIX_DISPLAY", "");
  INT_DEFAULT (vsock_port, "HELIX_VSOCK_PORT", 5000);
  INT_DEFAULT (vm_cpus, "HELIX_VM_CPUS", 2);
  INT_DEFAULT (rtsp_port, "HELIX_RTSP_PORT", 8554);
  INT_DEFAULT (powerdown_timeout, "HELIX_POWERDOWN_TIMEOUT", 20);
  INT_DEFAULT (backoff_initial_ms, "HELIX_BACKOFF_INITIAL_MS", 500);
  INT_DEFAULT (backoff_max_ms, "HELIX_BACKOFF_MAX_MS", 30000);
  INT_DEFAULT (stop_timeout, "HELIX_STOP_TIMEOUT", 5);
  INT_DEFAULT (start_timeout, "HELIX_START_TIMEOUT", 10);
  if (cfg->max_sessions < 0)
    cfg->max_sessions = env_int_or ("HELIX_MAX_SESSIONS", 16);
  STR_DEFAULT (public_names_list, "HELIX_PUBLIC_NAMES", "");
  STR_DEFAULT (allowed_origins_list, "HELIX_ALLOWED_ORIGINS", "");
  cfg->public_names = vms_split_list (cfg->public_names_list);
  cfg->allowed_origins = vms_split_list (cfg->allowed_origins_list);
#undef STR_DEFAULT
#undef INT_DEFAULT
  if (cfg->session_bin == NULL) {
    const gchar *e = env_or ("HELIX_SESSION_BIN", NULL);
    cfg->session_bin
        = e && *e ? g_strdup (e) : default_sibling (argv0, "vmstream-session");
  }
  if (cfg->runtime_dir == NULL) {
    const gchar *e = env_or ("HELIX_RUNTIME_DIR", NULL);
    const gchar *x = g_getenv ("XDG_RUNTIME_DIR");
    const gchar *sd = g_getenv ("RUNTIME_DIRECTORY"); /* systemd's */
    if (e && *e)
      cfg->runtime_dir = g_strdup (e);
    else if (sd && *sd)
      cfg->runtime_dir = g_strndup (sd, strcspn (sd, ":"));
    else if (x && *x)
      cfg->runtime_dir = g_build_filename (x, "vmstream", NULL);
    else
      cfg->runtime_dir = g_strdup_printf ("/tmp/vmstream-%u", getuid ());
  }
  if (cfg->default_template == NULL) {
    const gchar *e = env_or ("HELIX_TEMPLATE", NULL);
    if (e && *e)
      cfg->default_template = g_strdup (e);
    else if (g_str_equal (cfg->vm_backend, "none"))
      cfg->default_template = g_strdup ("demo-local");
    else
      cfg->default_template
          = g_strdup (g_str_equal (cfg->encoder_mode, "vm") ? "host-vm-encoded"
                                                            : "host-native");
  }
  /* The guest reaches the host over the serial stream socket of
   * vm/vmstream-vm, or over real vsock with the linux-kvm profile. */
  if (cfg->vsock_uri == NULL && g_str_equal (cfg->vm_backend, "qemu"))
    cfg->vsock_uri = g_strdup (
        g_strcmp0 (env_or ("HELIX_VM_PROFILE", NULL), "linux-kvm") == 0
            ? "vsock://any:${VSOCK_PORT}"
            : "unix://${RUN_DIR}/stream.sock");
}

/* Template variables for every session: HELIX_VAR_NAME, VMSTREAM_VAR_NAME,
 * then --var NAME=VALUE. */
static gboolean
config_vars (VmsConfig *cfg, gchar **var_args)
{
  cfg->extra_vars
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  {
    g_auto (GStrv) env = g_get_environ ();
    /* HELIX_VAR_NAME, then VMSTREAM_VAR_NAME (which wins), then --var */
    const gchar *prefixes[] = { "HELIX_VAR_", "VMSTREAM_VAR_" };
    for (guint p = 0; p < G_N_ELEMENTS (prefixes); p++) {
      gsize plen = strlen (prefixes[p]);
      for (gchar **e = env; *e; e++) {
        const gchar *eq = strchr (*e, '=');
        if (g_str_has_prefix (*e, prefixes[p]) && eq && eq > *e + plen)
          g_hash_table_replace (cfg->extra_vars,
                                g_strndup (*e + plen, eq - *e - plen),
                                g_strdup (eq + 1));
      }
    }
    for (gchar **a = var_args; a && *a; a++) {
      const gchar *eq = strchr (*a, '=');
      if (eq == NULL || eq == *a) {
        g_printerr ("vmstream-supervisor: --var takes NAME=VALUE, not "
                    "\"%s\"\n",
                    *a);
        return FALSE;
      }
      g_hash_table_replace (cfg->extra_vars, g_strndup (*a, eq - *a),
                            g_strdup (eq + 1));
    }
  }
  if (!g_strv_contains ((const gchar *[]){ "desktop", "test", NULL },
                        cfg->vm_variant)) {
    g_printerr ("vmstream-supervisor: HELIX_VM_VARIANT (--vm-variant) must "
                "be desktop (the Sway desktop guest) or test (the test "
                "pattern guest), not \"%s\"\n",
                cfg->vm_variant);
    return FALSE;
  }
  g_hash_table_insert (cfg->extra_vars, g_strdup ("VM_VARIANT"),
                       g_strdup (cfg->vm_variant));
  if (!g_strv_contains ((const gchar *[]){ "on", "off", NULL },
                        cfg->vm_snapshot)) {
    g_printerr ("vmstream-supervisor: HELIX_VM_SNAPSHOT (--vm-snapshot) must "
                "be on (sessions restore a saved guest) or off (each "
                "session boots its guest), not \"%s\"\n",
                cfg->vm_snapshot);
    return FALSE;
  }
  g_hash_table_insert (
      cfg->extra_vars, g_strdup ("SNAPSHOT_ARGS"),
      g_strdup (g_str_equal (cfg->vm_snapshot, "on") ? "--snapshot" : ""));
  /* the desktop's screen comes from PipeWire; vm/vmstream-vm adds the
   * PIPEWIRE_SOURCE_ARGS of its ScreenCast node */
  if (!g_hash_table_contains (cfg->extra_vars, "GUEST_PIPELINE"))
    g_hash_table_insert (
        cfg->extra_vars, g_strdup ("GUEST_PIPELINE"),
        g_str_equal (cfg->vm_variant, "desktop")
            ? g_build_filename (cfg->templates_dir, "guest-pipewire.txt", NULL)
            : g_build_filename (cfg->vm_dir, "guest", "testsrc.txt", NULL));
  if (!g_hash_table_contains (cfg->extra_vars, "GUEST_PLUGINS"))
    g_hash_table_insert (cfg->extra_vars, g_strdup ("GUEST_PLUGINS"),
                         g_strdup (VMS_PLUGINS_DIR));

  return TRUE;
}

static gboolean
config_validate (VmsConfig *cfg)
{
  g_autoptr (GError) error = NULL;

  if (!g_strv_contains ((const gchar *[]){ "qemu", "utm", "none", NULL },
                        cfg->vm_backend)) {
    g_printerr ("vmstream-supervisor: HELIX_VM_BACKEND must be qemu, utm or "
                "none, not \"%s\"\n",
                cfg->vm_backend);
    return FALSE;
  }
  if (!g_strv_contains ((const gchar *[]){ "native", "vm", NULL },
                        cfg->encoder_mode)) {
    g_printerr ("vmstream-supervisor: HELIX_ENCODER_MODE must be native or "
                "vm, not \"%s\"\n",
                cfg->encoder_mode);
    return FALSE;
  }
  if (!vms_capture_is_valid (cfg->capture)) {
    g_printerr ("vmstream-supervisor: HELIX_CAPTURE (--capture) must be guest "
                "(the guest sends its screen) or qemu (read from QEMU's "
                "display), not \"%s\"\n",
                cfg->capture);
    return FALSE;
  }
  if (g_str_equal (cfg->capture, "qemu")
      && !g_str_equal (cfg->vm_backend, "qemu")) {
    g_printerr (
        "vmstream-supervisor: HELIX_CAPTURE=qemu reads the screen from "
        "the QEMU this supervisor starts: it needs HELIX_VM_BACKEND=qemu "
        "(--vm-backend qemu), not %s\n",
        cfg->vm_backend);
    return FALSE;
  }
  if (cfg->backoff_initial_ms < 1
      || cfg->backoff_max_ms < cfg->backoff_initial_ms || cfg->vsock_port < 1
      || cfg->rtsp_port < 0 || cfg->rtsp_port > 65535 || cfg->vm_cpus < 1
      || cfg->stop_timeout < 1 || cfg->start_timeout < 1
      || cfg->powerdown_timeout < 0 || cfg->max_sessions < 1) {
    g_printerr ("vmstream-supervisor: a numeric option is out of range "
                "(see --help)\n");
    return FALSE;
  }
  if (!parse_listen (cfg, &error)) {
    g_printerr ("vmstream-supervisor: %s\n", error->message);
    return FALSE;
  }
  if (!cfg->listen_loopback && *cfg->token == '\0') {
    g_printerr ("vmstream-supervisor: listening on %s, which is not a "
                "loopback address, needs a token: set HELIX_TOKEN or "
                "--token\n",
                cfg->listen);
    return FALSE;
  }
  return TRUE;
}

gint
vms_config_load (VmsConfig *cfg, int *argc, char ***argv)
{
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) var_args = NULL;
  gboolean print_config = FALSE;

  memset (cfg, 0, sizeof (*cfg));
  cfg->vsock_port = -1;
  cfg->vm_cpus = -1;
  cfg->rtsp_port = -1;
  cfg->powerdown_timeout = -1;
  cfg->backoff_initial_ms = -1;
  cfg->backoff_max_ms = -1;
  cfg->stop_timeout = -1;
  cfg->start_timeout = -1;
  cfg->max_sessions = -1;

  ctx = option_context_new (cfg, &var_args, &print_config);
  if (!g_option_context_parse (ctx, argc, argv, &error)) {
    g_printerr ("vmstream-supervisor: %s (see --help)\n", error->message);
    return 2;
  }
  config_defaults (cfg, (*argv)[0]);
  if (!config_vars (cfg, var_args) || !config_validate (cfg))
    return 2;
  if (print_config) {
    vms_config_print (cfg);
    return 0;
  }
  return -1;
}

void
vms_config_print (const VmsConfig *cfg)
{
  g_print ("templates=%s\nvm-backend=%s\nencoder-mode=%s\ncapture=%s\n"
           "encoder=%s\n"
           "vsock-port=%d\nvsock-uri=%s\nvm-cpus=%d\nvm-memory=%s\n"
           "vm-dir=%s\nvm-variant=%s\nvm-snapshot=%s\nqemu-command=%s\n"
           "listen=%s\ntoken=%s\nrtsp-port=%d\n"
           "display=%s\ndefault-template=%s\nsession-bin=%s\n"
           "runtime-dir=%s\nmax-sessions=%d\npublic-names=%s\n"
           "allowed-origins=%s\ntls-cert=%s\ntls-key=%s\n",
           cfg->templates_dir, cfg->vm_backend, cfg->encoder_mode, cfg->capture,
           cfg->encoder, cfg->vsock_port,
           cfg->vsock_uri ? cfg->vsock_uri : "(template default)", cfg->vm_cpus,
           cfg->vm_memory, cfg->vm_dir, cfg->vm_variant, cfg->vm_snapshot,
           cfg->qemu_command, cfg->listen,
           *cfg->token ? "(set)" : "(generated at start)", cfg->rtsp_port,
           cfg->display, cfg->default_template, cfg->session_bin,
           cfg->runtime_dir, cfg->max_sessions, cfg->public_names_list,
           cfg->allowed_origins_list,
           *cfg->tls_cert_file    ? cfg->tls_cert_file
           : cfg->listen_loopback ? "(none: plain HTTP on loopback)"
                                  : "(self-signed, made at start)",
           cfg->tls_key_file);
  {
    g_autoptr (GList) names = g_hash_table_get_keys (cfg->extra_vars);
    names = g_list_sort (names, (GCompareFunc)strcmp);
    for (GList *l = names; l; l = l->next)
      g_print ("var.%s=%s\n", (const gchar *)l->data,
               (const gchar *)g_hash_table_lookup (cfg->extra_vars, l->data));
  }
}

void
vms_config_clear (VmsConfig *cfg)
{
  g_free (cfg->templates_dir);
  g_free (cfg->vm_backend);
  g_free (cfg->encoder_mode);
  g_free (cfg->capture);
  g_free (cfg->encoder);
  g_free (cfg->vsock_uri);
  g_free (cfg->vm_memory);
  g_free (cfg->vm_dir);
  g_free (cfg->vm_variant);
  g_free (cfg->vm_snapshot);
  g_free (cfg->qemu_command);
  g_free (cfg->listen);
  g_free (cfg->listen_host);
  g_free (cfg->token);
  g_free (cfg->token_file);
  g_free (cfg->public_names_list);
  g_strfreev (cfg->public_names);
  g_free (cfg->allowed_origins_list);
  g_strfreev (cfg->allowed_origins);
  g_free (cfg->display);
  g_free (cfg->session_bin);
  g_free (cfg->runtime_dir);
  g_free (cfg->default_template);
  g_free (cfg->state_dir);
  g_free (cfg->rtsp_user);
  g_free (cfg->rtsp_password_file);
  g_free (cfg->tls_cert_file);
  g_free (cfg->tls_key_file);
  g_clear_object (&cfg->tls_certificate);
  g_free (cfg->tls_fingerprint);
  if (cfg->extra_vars)
    g_hash_table_unref (cfg->extra_vars);
  memset (cfg, 0, sizeof (*cfg));
}
