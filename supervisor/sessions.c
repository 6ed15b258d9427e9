/* vmstream-supervisor: session lifecycle.
 *
 * A session is one vmstream-session child process (and, with the qemu
 * backend, one QEMU process). A process that dies is restarted after an
 * exponential backoff (backoff-initial doubling up to backoff-max); a
 * pipeline that does not parse is not retried (state "failed"). Stopping a
 * session sends SIGTERM (SIGKILL after stop-timeout) to the session process
 * and system_powerdown, then quit, then SIGKILL to QEMU (qemu.c).
 *
 * Even a SIGKILLed supervisor leaves no orphan: on Linux children get
 * PR_SET_PDEATHSIG; everywhere a session process exits when its stdin (a
 * pipe from us) reaches EOF, and QEMU's launcher (vm/vmstream-vm) watches
 * the read end of a pipe whose write end only the supervisor holds
 * (VMSTREAM_PARENT_FD): EOF there means we are gone, and the watcher kills
 * QEMU. QEMU runs in a process group of its own, which is removed when QEMU
 * ends, watcher included. */
#include "supervisor.h"

#include "vmstemplate.h"
#include "vmsauth.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "qemu.h"
#include "sessionvars.h"
#include "vmssession.h"
#include "vmsfs.h"
#include "vmsrtsp.h"

#define STABLE_RUN_US (30 * G_USEC_PER_SEC)

/* The session (opaque to the other files: supervisor.h's accessors). */
struct _VmsSession {
  VmsSupervisor *sup;
  gint refcount;
  gchar *id;
  gchar *template_name;
  gchar *encoder;
  gchar *capture; /* guest | qemu (VmsConfig.capture unless the POST says) */
  gint width, height, fps;
  guint vsock_port; /* viewers: relay.c; RTSP: the supervisor's port, rtspdoor.c
                     */
  gchar *pipeline;
  gchar *viewer_token; /* watch and send input to this session only */
  VmsState state;
  gboolean removed; /* stop requested: free when every process is gone */

  GSubprocess *proc;
  gint pid; /* of proc, kept: GSubprocess forgets it once it exited */
  GOutputStream *proc_in;
  GQueue input_queue; /* GBytes lines waiting for the session's stdin */
  gsize input_queued;
  gboolean input_writing;
  gint64 started_at;
  guint restarts;
  guint failures_in_a_row;
  guint backoff_id;
  guint kill_id;
  gint last_exit;
  gchar *last_error;

  guint64 frames_total, bytes_total; /* over all runs */
  guint64 frames_run, bytes_run;     /* this run */
  gdouble fps_measured;
  gint clients;
  guint64 input_events;

  /* QEMU (HELIX_VM_BACKEND=qemu): qemu.c's */
  VmsQemuState vm;
  gchar *run_dir;
  gchar *qmp_path;
  /* 64 hex digits, made once per session: vsocksrc requires it of the
   * guest (RUN_DIR/link-secret, mode 0600; see session_vars()) */
  gchar *link_secret;

  /* requests sent to the session process (screenshot, resize): id ->
   * VmsPending, answered by its answer line or failed when it ends */
  GHashTable *requests;
  guint next_request;
};

static void session_spawn (VmsSession *s);
static void session_maybe_gone (VmsSession *s);

const gchar *
vms_state_name (VmsState st)
{
  switch (st) {
    case VMS_STATE_STARTING:
      return "starting";
    case VMS_STATE_RUNNING:
      return "running";
    case VMS_STATE_BACKOFF:
      return "restarting";
    case VMS_STATE_FAILED:
      return "failed";
    case VMS_STATE_STOPPING:
      return "stopping";
  }
  return "unknown";
}

void
vms_session_ref (VmsSession *s)
{
  s->refcount++;
}

void
vms_session_unref (VmsSession *s)
{
  if (--s->refcount > 0)
    return;
  g_assert (s->proc == NULL && s->vm.proc == NULL);
  if (s->backoff_id)
    g_source_remove (s->backoff_id);
  if (s->kill_id)
    g_source_remove (s->kill_id);
  if (s->vm.timer_id)
    g_source_remove (s->vm.timer_id);
  if (s->run_dir) {
    g_autofree gchar *secret_file
        = g_build_filename (s->run_dir, "link-secret", NULL);
    g_autofree gchar *rtsp_socket
        = g_build_filename (s->run_dir, VMS_RTSP_HANDOFF_NAME, NULL);
    if (s->qmp_path)
      g_unlink (s->qmp_path);
    g_unlink (secret_file);
    g_unlink (rtsp_socket); /* left by a session process that was killed */
    g_rmdir (s->run_dir);
  }
  if (s->link_secret)
    memset (s->link_secret, 0, strlen (s->link_secret));
  g_free (s->link_secret);
  g_queue_clear_full (&s->input_queue, (GDestroyNotify)g_bytes_unref);
  g_hash_table_destroy (s->requests); /* empty: failed when the run ended */
  g_free (s->id);
  g_free (s->template_name);
  g_free (s->encoder);
  g_free (s->pipeline);
  g_free (s->viewer_token);
  g_free (s->last_error);
  g_free (s->run_dir);
  g_free (s->qmp_path);
  g_free (s->capture);
  g_free (s);
}

/* --- what the other files read ----------------------------------------- */

VmsSupervisor *
vms_session_get_supervisor (VmsSession *s)
{
  return s->sup;
}

const gchar *
vms_session_get_id (VmsSession *s)
{
  return s->id;
}

VmsState
vms_session_get_state (VmsSession *s)
{
  return s->state;
}

const gchar *
vms_session_get_template_name (VmsSession *s)
{
  return s->template_name;
}

const gchar *
vms_session_get_capture (VmsSession *s)
{
  return s->capture;
}

const gchar *
vms_session_get_viewer_token (VmsSession *s)
{
  return s->viewer_token;
}

const gchar *
vms_session_get_last_error (VmsSession *s)
{
  return s->last_error;
}

guint
vms_session_get_vsock_port (VmsSession *s)
{
  return s->vsock_port;
}

const gchar *
vms_session_get_run_dir (VmsSession *s)
{
  return s->run_dir;
}

const gchar *
vms_session_get_qmp_path (VmsSession *s)
{
  return s->qmp_path;
}

gboolean
vms_session_is_removed (VmsSession *s)
{
  return s->removed;
}

gboolean
vms_session_is_gone (VmsSession *s)
{
  return s->removed && s->proc == NULL && s->vm.proc == NULL;
}

VmsQemuState *
vms_session_qemu (VmsSession *s)
{
  return &s->vm;
}

void
vms_session_get_info (VmsSession *s, VmsSessionInfo *info)
{
  *info = (VmsSessionInfo){
    .id = s->id,
    .template_name = s->template_name,
    .encoder = s->encoder,
    .capture = s->capture,
    .viewer_token = s->viewer_token,
    .last_error = s->last_error,
    .state = s->state,
    .width = s->width,
    .height = s->height,
    .fps = s->fps,
    .vsock_port = s->vsock_port,
    .has_process = s->proc != NULL,
    .pid = s->pid,
    .has_qemu = s->vm.proc != NULL,
    .qemu_pid = s->vm.pid,
    .restarts = s->restarts,
    .last_exit = s->last_exit,
    .frames = s->frames_total,
    .bytes = s->bytes_total,
    .fps_measured = s->fps_measured,
    .clients = s->clients,
    .input_events = s->input_events,
  };
}

/* The capture modes (docs/architecture.md "Capture modes"): guest = the
 * guest's own sender streams its screen; qemu = the host reads the VM's
 * display from QEMU (VNC on RUN_DIR/vnc.sock), no guest software. */
gboolean
vms_capture_is_valid (const gchar *capture)
{
  return g_strcmp0 (capture, "guest") == 0 || g_strcmp0 (capture, "qemu") == 0;
}

/* --- template variables -------------------------------------------------- */

/* The guest link secret: made once per session from the system's random
 * source and written to RUN_DIR/link-secret (0600), which the host
 * template's vsocksrc reads (secret-file=${LINK_SECRET_FILE}) and
 * vm/vmstream-vm copies into the guest's read-only share. Never on a
 * command line. Only the qemu backend hands it to the guest, so only there
 * the host requires it: the file's path then, else NULL. */
static gchar *
link_secret_file (VmsSession *s)
{
  g_autofree gchar *path = NULL;
  g_autoptr (GError) err = NULL;

  if (s->link_secret == NULL) {
    s->link_secret = vms_token_generate (32, &err);
    if (s->link_secret == NULL)
      g_error ("session %s: %s", s->id, err->message);
  }
  if (s->run_dir == NULL || g_strcmp0 (s->sup->cfg->vm_backend, "qemu") != 0)
    return NULL;
  path = g_build_filename (s->run_dir, "link-secret", NULL);
  if (!vms_private_file_write (path, s->link_secret, &err)) {
    g_warning ("session %s: %s", s->id, err->message);
    return NULL;
  }
  return g_steal_pointer (&path);
}

/* sessionvars.c: the variables of @s's templates and QEMU command */
static GHashTable *
session_vars (VmsSession *s)
{
  g_autofree gchar *secret_file = link_secret_file (s);
  VmsSessionVarsIn in = {
    .id = s->id,
    .width = s->width,
    .height = s->height,
    .fps = s->fps,
    .encoder = s->encoder,
    .capture = s->capture,
    .viewer_token = s->viewer_token,
    .vsock_port = s->vsock_port,
    .rtsp_port = s->sup->rtsp_port,
    .run_dir = s->run_dir,
    .qmp_path = s->qmp_path,
    .link_secret_file = secret_file,
  };

  return vms_session_vars (s->sup->cfg, &in);
}

/* --- the session process ----------------------------------------------- */

typedef struct {
  VmsSession *s;
  GSubprocess *proc;
  GDataInputStream *out;
  GCancellable *cancel;
  guint eof_timer;
  gboolean exited, eof;
  /* the raw bytes of an answer being read (after its line) */
  guint answer_id;
  guint answer_status;
  gchar *answer_type;
  guint8 *answer_body;
  gsize answer_len;
} Run;

static void requests_fail (VmsSession *s, guint status, const gchar *message);
static void request_answered (VmsSession *s, guint id, guint status,
                              const gchar *type, GBytes *body,
                              const gchar *message);

/* The API (or whoever registered) hears of every change. */
static void
session_changed (VmsSession *s)
{
  VmsSupervisor *sup = s->sup;

  if (sup->session_changed)
    sup->session_changed (s, sup->session_changed_data);
}

static void
session_update (VmsSession *s)
{
  session_changed (s);
}

static void read_line_cb (GObject *src, GAsyncResult *res, gpointer user_data);

static void
body_read_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Run *r = user_data;
  gsize got = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;

  if (!g_input_stream_read_all_finish (G_INPUT_STREAM (src), res, &got, &error)
      || got != r->answer_len) {
    /* the process ended mid-answer: read_line_cb ends the run */
    g_clear_pointer (&r->answer_body, g_free);
    g_clear_pointer (&r->answer_type, g_free);
    request_answered (r->s, r->answer_id, 502, NULL, NULL,
                      "the session process ended while sending its answer");
  } else {
    body = g_bytes_new_take (g_steal_pointer (&r->answer_body), got);
    request_answered (r->s, r->answer_id, r->answer_status, r->answer_type,
                      body, NULL);
    g_clear_pointer (&r->answer_type, g_free);
  }
  g_data_input_stream_read_line_async (r->out, G_PRIORITY_DEFAULT, r->cancel,
                                       read_line_cb, r);
}

/* TRUE when the answer's bytes are being read: the next line comes after. */
static gboolean
handle_answer (Run *r, VmsStatus *st)
{
  if (st->bytes == 0) {
    request_answered (r->s, st->id, st->status, st->type, NULL, st->text);
    return FALSE;
  }
  r->answer_id = st->id;
  r->answer_status = st->status;
  r->answer_type = g_strdup (st->type);
  r->answer_len = (gsize)st->bytes; /* at most VMS_ANSWER_MAX_BYTES */
  r->answer_body = g_malloc (r->answer_len);
  g_input_stream_read_all_async (G_INPUT_STREAM (r->out), r->answer_body,
                                 r->answer_len, G_PRIORITY_DEFAULT, r->cancel,
                                 body_read_cb, r);
  return TRUE;
}

/* TRUE when the line was an answer whose bytes are now being read. */
static gboolean
handle_status_line (Run *r, const gchar *line, gsize len)
{
  VmsSession *s = r->s;
  g_auto (VmsStatus) st = { 0 };

  /* common/vmssession.h: the lines vmstream-session writes */
  if (!vms_status_parse (line, (gssize)len, &st, NULL))
    return FALSE;
  switch (st.kind) {
    case VMS_STATUS_ANSWER:
      return handle_answer (r, &st);
    case VMS_STATUS_SIZE:
      /* a resize (the API's or a player's): restarts keep it */
      if (st.width != s->width || st.height != s->height) {
        g_message ("session %s: now %dx%d", s->id, st.width, st.height);
        vms_session_set_size (s, st.width, st.height);
      }
      break;
    case VMS_STATUS_STATE:
      if (strcmp (st.text, "playing") == 0 && s->state == VMS_STATE_STARTING) {
        s->state = VMS_STATE_RUNNING;
        g_message ("session %s: running (pid %d)", s->id, s->pid);
        session_update (s);
      }
      break;
    case VMS_STATUS_STATS:
      s->frames_total
          += st.frames >= s->frames_run ? st.frames - s->frames_run : 0;
      s->bytes_total += st.bytes >= s->bytes_run ? st.bytes - s->bytes_run : 0;
      s->frames_run = st.frames;
      s->bytes_run = st.bytes;
      s->fps_measured = st.fps;
      s->clients = st.clients;
      break;
    case VMS_STATUS_ERROR:
      g_free (s->last_error);
      s->last_error = g_strdup (st.text);
      g_message ("session %s: %s", s->id, s->last_error);
      break;
    default:
      break;
  }
  return FALSE;
}

static gboolean
restart_cb (gpointer user_data)
{
  VmsSession *s = user_data;
  s->backoff_id = 0;
  s->restarts++;
  session_spawn (s);
  return G_SOURCE_REMOVE;
}

static void
run_ended (Run *r)
{
  VmsSession *s = r->s;
  GSubprocess *proc = r->proc;
  gint code;

  if (g_subprocess_get_if_exited (proc))
    code = g_subprocess_get_exit_status (proc);
  else if (g_subprocess_get_if_signaled (proc))
    code = -g_subprocess_get_term_sig (proc);
  else
    code = -1;
  s->last_exit = code;
  if (s->proc == proc) {
    g_clear_object (&s->proc);
    g_clear_object (&s->proc_in);
    if (s->kill_id) {
      g_source_remove (s->kill_id);
      s->kill_id = 0;
    }
  }
  g_object_unref (r->out);
  g_object_unref (r->proc);
  g_object_unref (r->cancel);
  g_free (r->answer_type);
  g_free (r->answer_body);
  g_free (r);
  if (s->proc == NULL) /* not restarted yet: nobody left to answer */
    requests_fail (s, SOUP_STATUS_SERVICE_UNAVAILABLE,
                   "the session process ended before it answered");

  if (s->removed) {
    g_message ("session %s: process ended (%s %d)", s->id,
               code < 0 ? "signal" : "exit status", ABS (code));
    vms_qemu_stop (s); /* now that nobody holds its QMP socket */
    session_maybe_gone (s);
  } else if (vms_session_exit_is_permanent (code)) {
    g_message ("session %s: the pipeline cannot run (exit %d): not "
               "restarting",
               s->id, code);
    s->state = VMS_STATE_FAILED;
    session_update (s);
  } else {
    gint64 delay;
    if (g_get_monotonic_time () - s->started_at > STABLE_RUN_US)
      s->failures_in_a_row = 0;
    delay = (gint64)s->sup->cfg->backoff_initial_ms
            << MIN (s->failures_in_a_row, 16);
    delay = MIN (delay, s->sup->cfg->backoff_max_ms);
    s->failures_in_a_row++;
    g_message (
        "session %s: process ended (%s %d), restarting in %" G_GINT64_FORMAT
        " ms",
        s->id, code < 0 ? "signal" : "exit", ABS (code), delay);
    s->state = VMS_STATE_BACKOFF;
    s->backoff_id = g_timeout_add ((guint)delay, restart_cb, s);
    session_update (s);
  }
  vms_session_unref (s);
}

static void
read_line_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Run *r = user_data;
  gsize len = 0;
  g_autofree gchar *line = g_data_input_stream_read_line_finish (
      G_DATA_INPUT_STREAM (src), res, &len, NULL);

  if (line == NULL) { /* EOF, error, or cancelled by eof_timeout_cb */
    r->eof = TRUE;
    if (r->eof_timer) {
      g_source_remove (r->eof_timer);
      r->eof_timer = 0;
    }
    if (r->exited)
      run_ended (r);
    return;
  }
  if (handle_status_line (r, line, len))
    return; /* body_read_cb goes on */
  g_data_input_stream_read_line_async (r->out, G_PRIORITY_DEFAULT, r->cancel,
                                       read_line_cb, r);
}

static gboolean
eof_timeout_cb (gpointer user_data)
{
  Run *r = user_data;
  /* The process is gone but something it started still holds its stdout:
   * stop reading (read_line_cb then ends the run). */
  r->eof_timer = 0;
  g_cancellable_cancel (r->cancel);
  return G_SOURCE_REMOVE;
}

static void
wait_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Run *r = user_data;
  g_subprocess_wait_finish (G_SUBPROCESS (src), res, NULL);
  r->exited = TRUE;
  if (r->eof)
    run_ended (r);
  else
    r->eof_timer = g_timeout_add_seconds (2, eof_timeout_cb, r);
}

/* QEMU ended: the end of a stop, or a crash that restarts the session. */
static void
qemu_ended (VmsSession *s, GSubprocess *q)
{
  if (s->removed) {
    g_message ("session %s: QEMU stopped", s->id);
    session_maybe_gone (s);
  } else {
    gint st = g_subprocess_get_if_exited (q) ? g_subprocess_get_exit_status (q)
                                             : -g_subprocess_get_term_sig (q);
    g_free (s->last_error);
    s->last_error
        = g_strdup_printf ("QEMU ended unexpectedly (%s %d); see "
                           "the supervisor's log for its messages",
                           st < 0 ? "signal" : "exit status", ABS (st));
    g_message ("session %s: %s; restarting the session", s->id, s->last_error);
    /* The restart path starts QEMU again before the session process. */
    if (s->proc)
      g_subprocess_send_signal (s->proc, SIGTERM);
  }
}

static gboolean
start_qemu (VmsSession *s, GError **error)
{
  g_autoptr (GHashTable) vars = session_vars (s);
  return vms_qemu_start (s, vars, qemu_ended, error);
}

static void
session_spawn (VmsSession *s)
{
  VmsConfig *cfg = s->sup->cfg;
  g_autoptr (GSubprocessLauncher) l = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  Run *r;

  if (g_strcmp0 (cfg->vm_backend, "qemu") == 0 && s->vm.proc == NULL
      && !start_qemu (s, &error)) {
    g_message ("session %s: %s", s->id, error->message);
    g_free (s->last_error);
    s->last_error = g_strdup (error->message);
    s->state = VMS_STATE_FAILED;
    session_update (s);
    return;
  }

  g_ptr_array_add (argv, g_strdup (cfg->session_bin));

  g_ptr_array_add (argv, g_strdup_printf ("--width=%d", s->width));
  g_ptr_array_add (argv, g_strdup_printf ("--height=%d", s->height));
  if (s->qmp_path) {
    /* QEMU's QMP socket takes one client at a time: the session holds it
     * for input while it runs; the supervisor uses it only to stop QEMU,
     * after the session process is gone. */
    g_ptr_array_add (argv, g_strdup ("--qmp"));
    g_ptr_array_add (argv, g_strdup (s->qmp_path));
  } else if (cfg->display && *cfg->display) {
    g_ptr_array_add (argv, g_strdup ("--display"));
    g_ptr_array_add (argv, g_strdup (cfg->display));
  }
  g_ptr_array_add (argv, NULL);

  l = vms_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                        | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (l, vms_child_setup,
                                         GINT_TO_POINTER (SIGTERM), NULL);
  /* In the environment, not argv: the pipeline holds the viewer token,
   * and /proc/PID/environ is private to the user while cmdline is not. */
  /* An installed supervisor finds the installed plugins without any setup;
   * an explicit GST_PLUGIN_PATH (build trees, tests) is left alone. */
  if (g_getenv ("GST_PLUGIN_PATH_1_0") == NULL
      && g_getenv ("GST_PLUGIN_PATH") == NULL)
    g_subprocess_launcher_setenv (l, "GST_PLUGIN_PATH_1_0", VMS_PLUGINS_DIR,
                                  TRUE);
  g_subprocess_launcher_setenv (l, "VMSTREAM_SESSION_PIPELINE", s->pipeline,
                                TRUE);
  s->state = VMS_STATE_STARTING;
  s->started_at = g_get_monotonic_time ();
  s->frames_run = s->bytes_run = 0;
  s->fps_measured = 0;
  s->proc = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv->pdata,
                                          &error);
  if (s->proc == NULL) {
    g_message ("session %s: cannot start %s: %s", s->id, cfg->session_bin,
               error->message);
    g_free (s->last_error);
    s->last_error = g_strdup (error->message);
    s->state = VMS_STATE_FAILED;
    session_update (s);
    return;
  }
  s->pid = vms_subprocess_pid (s->proc);
  s->proc_in = g_object_ref (g_subprocess_get_stdin_pipe (s->proc));
  r = g_new0 (Run, 1);
  r->s = s;
  vms_session_ref (s);
  r->proc = g_object_ref (s->proc);
  r->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  r->cancel = g_cancellable_new ();
  g_data_input_stream_read_line_async (r->out, G_PRIORITY_DEFAULT, r->cancel,
                                       read_line_cb, r);
  g_subprocess_wait_async (s->proc, NULL, wait_cb, r);
  g_message ("session %s: started process %d (template %s)", s->id, s->pid,
             s->template_name);
  session_update (s);
}

/* --- create / stop ------------------------------------------------------ */

/* The id a new session gets: @id, or "sN" when NULL; NULL (and
 * *http_status, @error) when the supervisor is full or @id is taken or
 * reserved. */
static gchar *
session_id_choose (VmsSupervisor *sup, const gchar *id, guint *http_status,
                   GError **error)
{
  VmsConfig *cfg = sup->cfg;
  gchar *new_id = NULL;

  if (g_hash_table_size (sup->sessions) >= (guint)cfg->max_sessions) {
    *http_status = SOUP_STATUS_SERVICE_UNAVAILABLE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                 "%u sessions exist and this supervisor runs at most %d "
                 "(HELIX_MAX_SESSIONS): stop one first",
                 g_hash_table_size (sup->sessions), cfg->max_sessions);
    return NULL;
  }
  if (id == NULL) {
    /* "sN", skipping every id a client chose: a generated id must never
     * replace a live session in the table */
    do {
      g_free (new_id);
      new_id = g_strdup_printf ("s%u", ++sup->next_id);
    } while (g_hash_table_contains (sup->sessions, new_id));
    return new_id;
  }
  if (g_hash_table_contains (sup->sessions, id)) {
    *http_status = SOUP_STATUS_CONFLICT;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                 "a session with id \"%s\" already exists", id);
    return NULL;
  }
  if (g_str_equal (id, "admin-token")) {
    *http_status = SOUP_STATUS_BAD_REQUEST;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the id \"admin-token\" is reserved (a file in the runtime "
                 "folder)");
    return NULL;
  }
  return g_strdup (id);
}

/* Template @name from the templates folder; NULL (and *http_status,
 * @error) when there is none or it cannot be read. */
static VmsTemplate *
session_template_load (VmsConfig *cfg, const gchar *name, guint *http_status,
                       GError **error)
{
  g_autoptr (GError) err = NULL;
  VmsTemplate *text = vms_template_load (cfg->templates_dir, name, &err);

  if (text)
    return text;
  if (g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    *http_status = SOUP_STATUS_NOT_FOUND;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "unknown template \"%s\": there is no %s/%s.txt", name,
                 cfg->templates_dir, name);
  } else {
    *http_status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot read template \"%s\": %s", name, err->message);
  }
  return NULL;
}

/* The new session's port, private folder and pipeline (@text expanded);
 * FALSE (and *http_status, @error) when one of them cannot be had. */
static gboolean
session_prepare (VmsSession *s, const VmsTemplate *text, guint *http_status,
                 GError **error)
{
  VmsConfig *cfg = s->sup->cfg;
  g_autoptr (GError) err = NULL;
  g_autoptr (GHashTable) vars = NULL;

  if (!vms_ports_allocate (s->sup, &s->vsock_port, error)) {
    *http_status = SOUP_STATUS_SERVICE_UNAVAILABLE;
    return FALSE;
  }
  s->run_dir = g_build_filename (cfg->runtime_dir, s->id, NULL);
  if (g_strcmp0 (cfg->vm_backend, "qemu") == 0)
    s->qmp_path = g_build_filename (s->run_dir, "qmp.sock", NULL);
  if (!vms_private_dir_ensure (s->run_dir, NULL, error)) {
    *http_status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    return FALSE;
  }
  vars = session_vars (s);
  {
    GHashTable *layers[] = { vars, cfg->extra_vars, text->defaults, NULL };
    s->pipeline = vms_template_expand (text->body, layers, &err);
  }
  if (s->pipeline == NULL) {
    *http_status = SOUP_STATUS_UNPROCESSABLE_ENTITY;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "template \"%s\": %s", s->template_name, err->message);
    return FALSE;
  }
  return TRUE;
}

VmsSession *
vms_session_create (VmsSupervisor *sup, const gchar *id,
                    const gchar *template_name, gint width, gint height,
                    gint fps, const gchar *encoder, const gchar *capture,
                    guint *http_status, GError **error)
{
  g_autoptr (GError) err = NULL;
  VmsTemplate *text = NULL;
  VmsSession *s;
  g_autofree gchar *new_id = NULL;
  g_autofree gchar *viewer_token = NULL;
  gboolean ok;

  new_id = session_id_choose (sup, id, http_status, error);
  if (new_id == NULL)
    return NULL;
  viewer_token = vms_token_generate (32, &err);
  if (viewer_token == NULL) {
    *http_status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot make the session's viewer token: %s", err->message);
    return NULL;
  }
  text = session_template_load (sup->cfg, template_name, http_status, error);
  if (text == NULL)
    return NULL;

  s = g_new0 (VmsSession, 1);
  s->refcount = 1;
  s->sup = sup;
  s->id = g_steal_pointer (&new_id);
  s->viewer_token = g_steal_pointer (&viewer_token);
  s->template_name = g_strdup (template_name);
  s->encoder = g_strdup (encoder);
  s->capture = g_strdup (capture);
  s->width = width;
  s->height = height;
  s->fps = fps;
  s->clients = -1;
  s->last_exit = G_MININT;
  s->requests = g_hash_table_new (NULL, NULL);
  ok = session_prepare (s, text, http_status, error);
  vms_template_free (text);
  if (!ok) {
    vms_session_unref (s);
    return NULL;
  }
  g_assert (!g_hash_table_contains (sup->sessions, s->id));
  g_hash_table_insert (sup->sessions, s->id, s);
  session_spawn (s);
  return s;
}

static gboolean
kill_cb (gpointer user_data)
{
  VmsSession *s = user_data;
  s->kill_id = 0;
  if (s->proc) {
    g_message ("session %s: process did not stop in %d s: killing it", s->id,
               s->sup->cfg->stop_timeout);
    g_subprocess_force_exit (s->proc);
  }
  return G_SOURCE_REMOVE;
}

static void
session_maybe_gone (VmsSession *s)
{
  VmsSupervisor *sup = s->sup;
  if (!vms_session_is_gone (s))
    return;
  g_message ("session %s: stopped", s->id);
  vms_session_ref (s);
  if (g_hash_table_lookup (sup->sessions, s->id) == s)
    g_hash_table_remove (sup->sessions, s->id); /* drops the table's ref */
  session_changed (s);
  vms_session_unref (s);
  if (sup->shutting_down && g_hash_table_size (sup->sessions) == 0)
    g_main_loop_quit (sup->loop);
}

void
vms_session_stop (VmsSession *s)
{
  if (s->removed)
    return;
  s->removed = TRUE;
  s->state = VMS_STATE_STOPPING;
  if (s->backoff_id) {
    g_source_remove (s->backoff_id);
    s->backoff_id = 0;
  }
  if (s->proc) {
    g_clear_object (&s->proc_in); /* EOF on its stdin also stops it */
    g_subprocess_send_signal (s->proc, SIGTERM);
    s->kill_id
        = g_timeout_add ((guint)s->sup->cfg->stop_timeout * 1000, kill_cb, s);
  } else {
    vms_qemu_stop (s);
  }
  session_changed (s);
  session_maybe_gone (s);
}

/* Input goes to the session's stdin asynchronously, one line per request:
 * a session that stops reading can never block the supervisor; past
 * MAX_INPUT_QUEUE bytes waiting, requests are refused. */
#define MAX_INPUT_QUEUE (1024 * 1024)

static void input_kick (VmsSession *s);
static gboolean queue_line (VmsSession *s, gchar *text, GError **error);

static void
input_written_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  VmsSession *s = user_data;
  g_autoptr (GError) error = NULL;
  GBytes *b = g_queue_pop_head (&s->input_queue);

  s->input_queued -= g_bytes_get_size (b);
  g_bytes_unref (b);
  s->input_writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL,
                                         &error)) {
    g_message ("session %s: cannot pass input to the session process: %s",
               s->id, error->message);
  }
  if (G_OUTPUT_STREAM (src) != s->proc_in || error) {
    /* the process is gone or restarted: its input goes with it */
    g_queue_clear_full (&s->input_queue, (GDestroyNotify)g_bytes_unref);
    s->input_queued = 0;
  }
  input_kick (s);
  vms_session_unref (s);
}

static void
input_kick (VmsSession *s)
{
  GBytes *b;
  if (s->input_writing || s->proc_in == NULL
      || (b = g_queue_peek_head (&s->input_queue)) == NULL)
    return;
  s->input_writing = TRUE;
  vms_session_ref (s);
  g_output_stream_write_all_async (s->proc_in, g_bytes_get_data (b, NULL),
                                   g_bytes_get_size (b), G_PRIORITY_DEFAULT,
                                   NULL, input_written_cb, s);
}

gboolean
vms_session_send_input (VmsSession *s, const VmsInputEvent *events, guint n,
                        GError **error)
{
  /* the canonical line of the validated events (common/vmsinput.h), which
   * the session parses with the same contract */
  if (!queue_line (s, vms_input_line_build (events, n), error))
    return FALSE;
  s->input_events += n;
  return TRUE;
}

/* --- requests to the session process (screenshot, resize) -------------- */

void
vms_session_set_size (VmsSession *s, gint width, gint height)
{
  VmsConfig *cfg = s->sup->cfg;
  g_autoptr (GError) err = NULL;
  VmsTemplate *text;
  gchar *pipeline = NULL;

  s->width = width;
  s->height = height;
  /* a restarted process comes back at the new size */
  text = vms_template_load (cfg->templates_dir, s->template_name, &err);
  if (text) {
    g_autoptr (GHashTable) vars = session_vars (s);
    GHashTable *layers[] = { vars, cfg->extra_vars, text->defaults, NULL };
    pipeline = vms_template_expand (text->body, layers, &err);
    vms_template_free (text);
  }
  if (pipeline == NULL) {
    g_message ("session %s: a restart will come back at the old size: %s",
               s->id, err ? err->message : "no template");
    return;
  }
  g_free (s->pipeline);
  s->pipeline = pipeline;
}

#define REQUEST_TIMEOUT_S 10

typedef struct {
  VmsSession *s;
  guint id;
  VmsAnswerFunc cb;
  gpointer user_data;
  guint timeout_id;
  guint timeout_s;
} VmsPending;

static void
request_answered (VmsSession *s, guint id, guint status, const gchar *type,
                  GBytes *body, const gchar *message)
{
  VmsPending *p = g_hash_table_lookup (s->requests, GUINT_TO_POINTER (id));

  if (p == NULL)
    return; /* timed out already, or not ours */
  g_hash_table_remove (s->requests, GUINT_TO_POINTER (id));
  if (p->timeout_id)
    g_source_remove (p->timeout_id);
  p->cb (status, type, body, message, p->user_data);
  g_free (p);
}

/* A resize of a guest is answered once the guest sends the new size, or
 * by the session after VMS_GUEST_RESIZE_TIMEOUT_S: wait for that answer. */
#define RESIZE_REQUEST_TIMEOUT_S (VMS_GUEST_RESIZE_TIMEOUT_S + 5)

static gboolean
request_timeout_cb (gpointer user_data)
{
  VmsPending *p = user_data;
  g_autofree gchar *msg = g_strdup_printf (
      "the session process did not answer within %u s", p->timeout_s);

  p->timeout_id = 0;
  request_answered (p->s, p->id, SOUP_STATUS_GATEWAY_TIMEOUT, NULL, NULL, msg);
  return G_SOURCE_REMOVE;
}

static void
requests_fail (VmsSession *s, guint status, const gchar *message)
{
  GList *ids = g_hash_table_get_keys (s->requests);
  for (GList *l = ids; l; l = l->next)
    request_answered (s, GPOINTER_TO_UINT (l->data), status, NULL, NULL,
                      message);
  g_list_free (ids);
}

static gboolean
queue_line (VmsSession *s, gchar *text, GError **error)
{
  gsize len;

  if (s->proc_in == NULL || s->state != VMS_STATE_RUNNING) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 "session \"%s\" is %s: it takes input and requests only "
                 "when running",
                 s->id, vms_state_name (s->state));
    g_free (text);
    return FALSE;
  }
  if (s->input_queued > MAX_INPUT_QUEUE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                 "session \"%s\" is not taking input (%" G_GSIZE_FORMAT
                 " bytes waiting)",
                 s->id, s->input_queued);
    g_free (text);
    return FALSE;
  }
  len = strlen (text);
  text = g_realloc (text, len + 1);
  text[len] = '\n';
  g_queue_push_tail (&s->input_queue, g_bytes_new_take (text, len + 1));
  s->input_queued += len + 1;
  input_kick (s);
  return TRUE;
}

gboolean
vms_session_request (VmsSession *s, VmsRequest *req, VmsAnswerFunc cb,
                     gpointer user_data, GError **error)
{
  VmsPending *p;

  if (++s->next_request == 0)
    s->next_request = 1;
  req->id = s->next_request;
  if (!queue_line (s, vms_request_line (req), error))
    return FALSE;
  p = g_new0 (VmsPending, 1);
  p->s = s;
  p->id = req->id;
  p->cb = cb;
  p->user_data = user_data;
  p->timeout_s = req->kind == VMS_REQUEST_RESIZE ? RESIZE_REQUEST_TIMEOUT_S
                                                 : REQUEST_TIMEOUT_S;
  p->timeout_id = g_timeout_add_seconds (p->timeout_s, request_timeout_cb, p);
  g_hash_table_insert (s->requests, GUINT_TO_POINTER (p->id), p);
  return TRUE;
}

void
vms_supervisor_shutdown (VmsSupervisor *sup)
{
  GList *all;
  if (sup->shutting_down)
    return;
  sup->shutting_down = TRUE;
  g_message ("stopping %u session(s)", g_hash_table_size (sup->sessions));
  all = g_hash_table_get_values (sup->sessions);
  for (GList *l = all; l; l = l->next)
    vms_session_ref (l->data);
  for (GList *l = all; l; l = l->next)
    vms_session_stop (l->data);
  for (GList *l = all; l; l = l->next)
    vms_session_unref (l->data);
  g_list_free (all);
  if (g_hash_table_size (sup->sessions) == 0)
    g_main_loop_quit (sup->loop);
}
