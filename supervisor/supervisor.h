/* vmstream-supervisor: shared declarations */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "vmsinput.h"
#include "vmssession.h"

#ifndef VMS_PLUGINS_DIR
#define VMS_PLUGINS_DIR "/usr/local/lib/gstreamer-1.0"
#endif

G_BEGIN_DECLS

typedef struct {
  gchar *templates_dir;
  gchar *vm_backend;   /* qemu | utm | none */
  gchar *encoder_mode; /* native | vm */
  gchar *capture;      /* guest | qemu: sessions' default capture mode */
  gchar *encoder;      /* auto | x264 | openh264 | ... */
  gint vsock_port;
  gint vm_cpus;
  gchar *vm_memory;
  gchar *listen;
  gchar *listen_host;
  guint listen_port;
  gboolean listen_loopback;
  gchar *token;             /* the administrator's: configured or generated */
  gchar *token_file;        /* where the generated one is stored, else NULL */
  gchar *public_names_list; /* --public-names, comma-separated */
  gchar **public_names;     /* Host names served besides IP literals */
  gchar *allowed_origins_list;
  gchar **allowed_origins; /* Origins accepted besides our own */
  gint max_sessions;
  gint rtsp_port;
  gchar *display;
  gchar *session_bin;
  gchar *qemu_command;
  gchar *vm_dir;
  gchar *vm_variant;  /* desktop | test: the guest image vm/vmstream-vm boots */
  gchar *vm_snapshot; /* on | off: sessions restore a saved base guest */
  gchar *vsock_uri;
  gchar *runtime_dir;
  gint powerdown_timeout;
  gint stop_timeout;
  gchar *default_template;
  gint backoff_initial_ms;
  gint backoff_max_ms;
  gint start_timeout;
  GHashTable *extra_vars; /* --var NAME=VALUE, HELIX_VAR_NAME */
  /* runtime.c */
  gchar *state_dir;          /* $STATE_DIRECTORY (systemd) or NULL */
  gchar *rtsp_user;          /* NULL: RTSP without authentication */
  gchar *rtsp_password_file; /* 0600, in state_dir or runtime_dir */
  /* tls.c: HTTPS on the listen port */
  gchar *tls_cert_file; /* HELIX_TLS_CERT, or the self-signed one; "" none */
  gchar *tls_key_file;  /* HELIX_TLS_KEY; "" none */
  GTlsCertificate *tls_certificate; /* NULL: plain HTTP */
  gchar *tls_fingerprint;           /* SHA-256 "AA:BB:...", or NULL */
} VmsConfig;

typedef enum {
  VMS_STATE_STARTING,
  VMS_STATE_RUNNING,
  VMS_STATE_BACKOFF,
  VMS_STATE_FAILED,
  VMS_STATE_STOPPING,
} VmsState;

typedef struct _VmsSupervisor VmsSupervisor;
typedef struct _VmsSession VmsSession;
typedef struct _VmsApi VmsApi; /* api.c */

/* A session's state is sessions.c's alone: the others read it through
 * the accessors below (docs/architecture.md, "Layers"). */

/* What the API shows of a session (vms_session_get_info): numbers copied,
 * strings owned by the session, valid while it is not changed. */
typedef struct {
  const gchar *id;
  const gchar *template_name;
  const gchar *encoder;
  const gchar *capture;
  const gchar *viewer_token;
  const gchar *last_error; /* NULL: none */
  VmsState state;
  gint width, height, fps;
  guint vsock_port;
  gboolean has_process; /* a session process runs: pid is its pid */
  gint pid;
  gboolean has_qemu; /* its QEMU runs: qemu_pid */
  gint qemu_pid;
  guint restarts;
  gint last_exit;        /* G_MININT: none yet */
  guint64 frames, bytes; /* over all runs */
  gdouble fps_measured;
  gint clients; /* -1: not reported yet */
  guint64 input_events;
} VmsSessionInfo;

/* The session's answer to a request: @status is an HTTP status; @body
 * (screenshots) and @type may be NULL, @message is a sentence for errors. */
typedef void (*VmsAnswerFunc) (guint status, const gchar *type, GBytes *body,
                               const gchar *message, gpointer user_data);

struct _VmsSupervisor {
  VmsConfig *cfg;
  GMainLoop *loop;
  SoupServer *server;
  GHashTable *sessions; /* id -> VmsSession */
  guint next_id;
  gboolean shutting_down;
  gint64 started_at;
  /* rtspdoor.c: the one RTSP port, clients whose request is being read */
  GSocket *rtsp_listener;
  GSource *rtsp_source;
  GList *rtsp_doors;
  guint rtsp_port; /* bound (cfg->rtsp_port 0 = any free port) */
  /* sessions.c calls it after every change of a session (state, process
   * gone); the API registers it (vms_api_start) */
  void (*session_changed) (VmsSession *s, gpointer user_data);
  gpointer session_changed_data;
  VmsApi *api; /* api.c's state, between vms_api_start and vms_api_stop */
};

/* config.c: the options and the environment into @cfg (zeroed first),
 * checked. -1: go on; otherwise the exit status (2 after a sentence on
 * stderr, 0 after --print-config). The caller clears @cfg in every case. */
gint vms_config_load (VmsConfig *cfg, int *argc, char ***argv);
void vms_config_print (const VmsConfig *cfg);
void vms_config_clear (VmsConfig *cfg);

/* sessions.c */
VmsSession *vms_session_create (VmsSupervisor *sup, const gchar *id,
                                const gchar *template_name, gint width,
                                gint height, gint fps, const gchar *encoder,
                                const gchar *capture, guint *http_status,
                                GError **error);
gboolean vms_capture_is_valid (const gchar *capture);
void vms_session_stop (VmsSession *s);
gboolean vms_session_send_input (VmsSession *s, const VmsInputEvent *events,
                                 guint n, GError **error);
/* Sends @req (its id is set here) to the running session process; @cb is
 * called exactly once, later, from the main loop: with the answer, 503 when
 * the process ends first, 504 after a timeout. FALSE with @error (and no
 * call) when the session is not running or not reading its stdin. */
gboolean vms_session_request (VmsSession *s, VmsRequest *req, VmsAnswerFunc cb,
                              gpointer user_data, GError **error);
/* After a resize: the size the session reports and restarts with. */
void vms_session_set_size (VmsSession *s, gint width, gint height);
const gchar *vms_state_name (VmsState st);
void vms_supervisor_shutdown (VmsSupervisor *sup);
void vms_session_ref (VmsSession *s);
void vms_session_unref (VmsSession *s);
void vms_session_get_info (VmsSession *s, VmsSessionInfo *info);
VmsSupervisor *vms_session_get_supervisor (VmsSession *s);
const gchar *vms_session_get_id (VmsSession *s);
VmsState vms_session_get_state (VmsSession *s);
const gchar *vms_session_get_template_name (VmsSession *s);
const gchar *vms_session_get_capture (VmsSession *s);
const gchar *vms_session_get_viewer_token (VmsSession *s);
const gchar *vms_session_get_last_error (VmsSession *s);
guint vms_session_get_vsock_port (VmsSession *s);
/* the session's private runtime folder and QEMU's QMP socket in it (NULL
 * without the qemu backend) */
const gchar *vms_session_get_run_dir (VmsSession *s);
const gchar *vms_session_get_qmp_path (VmsSession *s);
/* a stop was asked for (DELETE, shutdown) */
gboolean vms_session_is_removed (VmsSession *s);
/* stopped and every process of it (session, QEMU) gone */
gboolean vms_session_is_gone (VmsSession *s);

/* ports.c: the guest-link port of a new session: the first from
 * cfg->vsock_port that no session in @sup->sessions holds (1000 tried) */
gboolean vms_ports_allocate (VmsSupervisor *sup, guint *port, GError **error);

/* children.c: every child (session process, QEMU) starts with these */
/* the environment without the administrator token */
GSubprocessLauncher *vms_launcher_new (GSubprocessFlags flags);
/* child setup: dies with the supervisor (Linux), SIGPIPE back to default;
 * @user_data is the death signal (GINT_TO_POINTER) */
void vms_child_setup (gpointer user_data);
/* the pid of @p, 0 once GLib has reaped it */
gint vms_subprocess_pid (GSubprocess *p);

/* runtime.c: settings, private runtime/state folders, RTSP credentials */
/* The environment's value of setting @name ("LISTEN"): VMSTREAM_NAME, else
 * HELIX_NAME (the name the Helix control plane, which starts us, uses);
 * NULL when neither is set or both are empty. */
const gchar *vms_setting_env (const gchar *name);
gboolean vms_runtime_prepare (VmsConfig *cfg, GError **error);

/* tls.c: loads the operator's certificate, or makes/reuses a self-signed
 * one off loopback (docs/security.md) */
gboolean vms_tls_prepare (VmsConfig *cfg, GError **error);
/* "https"/"wss" with TLS, else "http"/"ws" */
const gchar *vms_url_scheme (const VmsConfig *cfg, gboolean websocket);
/* relay.c: the front door's relay to a session's wsh264sink, which
 * listens on RUN_DIR/VMS_WS_SOCKET (WS_SOCKET in templates) */
#define VMS_WS_SOCKET "ws.sock"
gboolean vms_relay_start (VmsSession *s, SoupServerMessage *msg,
                          const gchar *sink_path, gboolean upgrade,
                          GError **error);
/* rtspdoor.c: the RTSP port of every session (handoff to the session) */
gboolean vms_rtsp_door_start (VmsSupervisor *sup, GError **error);
void vms_rtsp_door_stop (VmsSupervisor *sup);

/* apiview.c: the JSON view of a session; @host: the one the client used */
JsonNode *vms_session_to_json (VmsSession *s, const gchar *host);

/* api.c */
gboolean vms_api_start (VmsSupervisor *sup, GError **error);
void vms_api_stop (VmsSupervisor *sup);

G_END_DECLS
