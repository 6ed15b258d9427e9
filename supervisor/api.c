/* vmstream-supervisor: HTTP API (libsoup 3, JSON).
 *
 *   GET    /healthz                     liveness, never needs the token
 *   GET    /metrics                     Prometheus text
 *   GET    /                            HTML list of sessions
 *   GET    /player/{id}/...             the session's player page (relay.c)
 *   GET    /stream/{id}                 the session's WebSocket (relay.c)
 *   GET    /api/v1/templates            template names
 *   GET    /api/v1/info                 version, TLS on/off, fingerprint
 *   GET    /api/v1/sessions             all sessions
 *   POST   /api/v1/sessions             create (answers once it runs)
 *   GET    /api/v1/sessions/{id}        one session
 *   DELETE /api/v1/sessions/{id}        stop (answers once it is gone)
 *   POST   /api/v1/sessions/{id}/input  input events (input contract)
 *   GET    /api/v1/sessions/{id}/stream the same WebSocket as /stream/{id}
 *   GET    /api/v1/sessions/{id}/screenshot  the latest frame, PNG or JPEG
 *                                       (?format=jpeg, ?width=N)
 *   POST   /api/v1/sessions/{id}/resize {"width":W,"height":H}
 *
 * Who may ask (docs/security.md):
 * - every request: a Host from the allow-list (else 421), an Origin that is
 *   absent, ours or the operator's (else 403), a POST body of type
 *   application/json (else 415) and at most VMS_API_MAX_BODY bytes (else
 *   413, before the body is read); checked when the headers arrive;
 * - every route but /healthz, / and /player/{id} (which hold no secret)
 *   needs the administrator token, "Authorization: Bearer <token>", never
 *   in a URL; /input, /screenshot and /resize also take that session's
 *   viewer token; the streams (/stream/{id}, .../stream) take the viewer
 *   token, which the session's wsh264sink checks at the WebSocket
 *   handshake (a browser cannot set Authorization on a WebSocket). */
#include "supervisor.h"

#include "apibody.h"
#include "vmsauth.h"
#include "vmsinput.h"
#include "vmsnet.h"
#include "vmstemplate.h"

#include <string.h>

#define MAX_BODY VMS_API_MAX_BODY

typedef struct {
  VmsApi *api;
  SoupServerMessage *msg;
  VmsSession *s;
  gboolean is_delete;
  gchar *host;
  guint timeout_id;
  gboolean finished;
  gulong finished_id;
} Waiter;

/* The API's state, the user_data of its handlers (sup->api) */
struct _VmsApi {
  VmsSupervisor *sup;
  GList *waiters; /* Waiter: answers held until a session started/stopped */
};

/* --- responses ---------------------------------------------------------- */

static void
respond_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  g_autofree gchar *text = json_to_string (node, TRUE);
  gsize len = strlen (text);
  gchar *body = g_malloc (len + 2);
  memcpy (body, text, len);
  body[len] = '\n';
  body[len + 1] = '\0';
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    body, len + 1);
}

static void respond_error (SoupServerMessage *msg, guint status,
                           const gchar *fmt, ...) G_GNUC_PRINTF (3, 4);

/* The body of every refusal: {"error": TEXT, "status": STATUS}. */
static JsonNode *
error_node (guint status, const gchar *text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, status);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
respond_error (SoupServerMessage *msg, guint status, const gchar *fmt, ...)
{
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  root = error_node (status, text);
  respond_json (msg, status, root);
}

/* Host name the client used (for URLs in answers), without the port. The
 * gate let only allowed Host values through. */
static gchar *
request_host (VmsApi *api, SoupServerMessage *msg)
{
  gchar *name = vms_host_header_name (soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Host"));
  return name ? name : g_strdup (api->sup->cfg->listen_host);
}

/* --- refusals ------------------------------------------------------------ */

/* One line per refused request, with who sent it. */
static void
log_refusal (SoupServerMessage *msg, guint status, const gchar *text)
{
  const gchar *peer = soup_server_message_get_remote_host (msg);
  g_autofree gchar *path
      = vms_printable (g_uri_get_path (soup_server_message_get_uri (msg)), 128);

  g_message ("refused %s %s from %s: %u %s",
             soup_server_message_get_method (msg), path,
             peer ? peer : "an unknown address", status, text);
}

static void refuse (SoupServerMessage *msg, guint status, const gchar *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static void
refuse (SoupServerMessage *msg, guint status, const gchar *fmt, ...)
{
  g_autofree gchar *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  log_refusal (msg, status, text);
  respond_error (msg, status, "%s", text);
}

typedef struct {
  GIOStream *stream;
  gchar *answer;
} Cutoff;

static void
cutoff_closed_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Cutoff *c = user_data;
  g_io_stream_close_finish (G_IO_STREAM (src), res, NULL);
  g_object_unref (c->stream);
  g_free (c->answer);
  g_free (c);
}

static void
cutoff_written_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Cutoff *c = user_data;
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, NULL);
  g_io_stream_close_async (c->stream, G_PRIORITY_DEFAULT, NULL,
                           cutoff_closed_cb, c);
}

/* Answers @status now and closes the connection, without reading the rest
 * of the request (logged unless a refusal of this request was already). libsoup
 * reads a whole body before it answers whatever status a got-headers handler
 * sets (unless the client sent "Expect: 100-continue"), so the connection is
 * taken from it, as its WebSocket upgrade does. */
static void
refuse_and_close (SoupServerMessage *msg, guint status, const gchar *text)
{
  g_autoptr (JsonNode) root = error_node (status, text);
  g_autofree gchar *json = json_to_string (root, FALSE);
  GIOStream *stream;
  Cutoff *c;

  if (soup_server_message_get_status (msg) == 0)
    log_refusal (msg, status, text);

  g_object_ref (msg);
  stream = soup_server_message_steal_connection (msg);
  g_object_unref (msg);
  if (stream == NULL)
    return;
  c = g_new0 (Cutoff, 1);
  c->stream = stream;
  c->answer = g_strdup_printf ("HTTP/1.1 %u %s\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                               "Cache-Control: no-store\r\n"
                               "Connection: close\r\n\r\n%s\n",
                               status, soup_status_get_phrase (status),
                               strlen (json) + 1, json);
  g_output_stream_write_all_async (
      g_io_stream_get_output_stream (stream), c->answer, strlen (c->answer),
      G_PRIORITY_DEFAULT, NULL, cutoff_written_cb, c);
}

/* --- the gate: every request, as soon as its headers are in ------------- */

static void
gate_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autofree gchar *text = NULL;

  if (body->length <= MAX_BODY)
    return;
  g_signal_handlers_disconnect_by_func (msg, gate_got_chunk, user_data);
  text = g_strdup_printf ("the request body is larger than %d bytes: refused "
                          "as it passed the limit",
                          MAX_BODY);
  refuse_and_close (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, text);
}

static gboolean
is_json (SoupMessageHeaders *h)
{
  const gchar *type = soup_message_headers_get_content_type (h, NULL);
  return type && g_ascii_strcasecmp (type, "application/json") == 0;
}

static void
gate_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  VmsApi *api = user_data;
  VmsConfig *cfg = api->sup->cfg;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const gchar *host = soup_message_headers_get_one (h, "Host");
  const gchar *origin = soup_message_headers_get_one (h, "Origin");

  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (h) > MAX_BODY) {
    g_autofree gchar *text = g_strdup_printf (
        "the request body (Content-Length %" G_GOFFSET_FORMAT
        ") is larger than %d bytes",
        soup_message_headers_get_content_length (h), MAX_BODY);
    refuse_and_close (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, text);
    return;
  }
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CHUNKED)
    g_signal_connect (msg, "got-chunk", G_CALLBACK (gate_got_chunk), NULL);
  if (soup_server_message_get_status (msg) != 0)
    return; /* libsoup refused it already */

  if (!vms_host_allowed (host, (const gchar *const *)cfg->public_names)) {
    g_autofree gchar *p = vms_printable (host, 128);
    refuse (msg, SOUP_STATUS_MISDIRECTED_REQUEST,
            "this server does not serve the host name \"%s\": use its IP "
            "address or localhost, or add the name to VMSTREAM_PUBLIC_NAMES "
            "(--public-names)",
            p);
    return;
  }
  if (!vms_origin_allowed (origin, host,
                           (const gchar *const *)cfg->allowed_origins)) {
    g_autofree gchar *p = vms_printable (origin, 128);
    refuse (msg, SOUP_STATUS_FORBIDDEN,
            "requests from pages of %s are not accepted: only the "
            "supervisor's own origin and those in VMSTREAM_ALLOWED_ORIGINS "
            "(--allowed-origins) are",
            p);
    return;
  }
  if (g_str_equal (soup_server_message_get_method (msg), "POST")
      && !is_json (h)) {
    g_autofree gchar *p
        = vms_printable (soup_message_headers_get_one (h, "Content-Type"), 64);
    refuse (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
            "a POST must carry \"Content-Type: application/json\" (this one "
            "has %s%s%s)",
            *p ? "\"" : "", *p ? p : "none", *p ? "\"" : "");
    return;
  }
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg,
                    gpointer user_data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (gate_got_headers),
                    user_data);
}

/* --- waiters (answers that wait for a session to start or stop) --------- */

static void
waiter_free (Waiter *w)
{
  if (w->timeout_id)
    g_source_remove (w->timeout_id);
  if (!w->finished)
    g_signal_handler_disconnect (w->msg, w->finished_id);
  g_object_unref (w->msg);
  vms_session_unref (w->s);
  g_free (w->host);
  g_free (w);
}

static void
waiter_respond (Waiter *w)
{
  VmsSession *s = w->s;
  gboolean gone = vms_session_is_gone (s);

  w->api->waiters = g_list_remove (w->api->waiters, w);
  if (!w->finished) {
    if (w->is_delete) {
      g_autoptr (JsonNode) node = vms_session_to_json (s, w->host);
      json_object_set_string_member (json_node_get_object (node), "state",
                                     gone ? "stopped" : "stopping");
      respond_json (w->msg, SOUP_STATUS_OK, node);
    } else if (vms_session_get_state (s) == VMS_STATE_FAILED) {
      const gchar *why = vms_session_get_last_error (s);
      respond_error (w->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
                     "session \"%s\" (template \"%s\") failed to start: %s",
                     vms_session_get_id (s), vms_session_get_template_name (s),
                     why ? why : "unknown error");
      if (!vms_session_is_removed (s))
        vms_session_stop (s); /* do not keep a session that never ran */
    } else {
      g_autoptr (JsonNode) node = vms_session_to_json (s, w->host);
      respond_json (w->msg, SOUP_STATUS_CREATED, node);
    }
    soup_server_message_unpause (w->msg);
  }
  waiter_free (w);
}

static gboolean
waiter_timeout_cb (gpointer user_data)
{
  Waiter *w = user_data;
  w->timeout_id = 0;
  waiter_respond (w);
  return G_SOURCE_REMOVE;
}

static void
waiter_finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  Waiter *w = user_data;
  w->finished = TRUE;
  g_signal_handler_disconnect (msg, w->finished_id);
}

static void
add_waiter (VmsApi *api, SoupServerMessage *msg, VmsSession *s,
            gboolean is_delete)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->msg = g_object_ref (msg);
  w->s = s;
  vms_session_ref (s);
  w->is_delete = is_delete;
  w->host = request_host (api, msg);
  w->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (waiter_finished_cb), w);
  if (!is_delete)
    w->timeout_id = g_timeout_add_seconds ((guint)api->sup->cfg->start_timeout,
                                           waiter_timeout_cb, w);
  w->api = api;
  api->waiters = g_list_append (api->waiters, w);
  soup_server_message_pause (msg);
}

/* sessions.c calls it (VmsSupervisor.session_changed) after every change
 * of @s: answers the requests waiting for it. */
static void
session_changed (VmsSession *s, gpointer user_data)
{
  VmsApi *api = user_data;
  gboolean gone;
  GList *l;

  /* a waiter holds a reference on @s: answering the last one could free it
   * while this loop still reads it */
  vms_session_ref (s);
again:
  /* Answering may stop a session, which re-enters here and can free other
   * waiters: rescan from the start after each answer. */
  gone = vms_session_is_gone (s);
  for (l = api->waiters; l; l = l->next) {
    Waiter *w = l->data;
    if (w->s != s)
      continue;
    if (w->is_delete
            ? gone
            : (vms_session_get_state (s) != VMS_STATE_STARTING || gone)) {
      waiter_respond (w);
      goto again;
    }
  }
  vms_session_unref (s);
}

/* --- auth --------------------------------------------------------------- */

/* The token the client presented: "Authorization: Bearer <token>" only,
 * never one in a URL (URLs end up in logs, histories and Referer). */
static const gchar *
presented_token (SoupServerMessage *msg)
{
  const gchar *h = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");

  if (h && g_ascii_strncasecmp (h, "Bearer ", 7) == 0)
    return h + 7;
  return NULL;
}

/* TRUE for the administrator; else *viewer_of is the session whose viewer
 * token was presented, or NULL. */
static gboolean
identify (VmsApi *api, SoupServerMessage *msg, VmsSession **viewer_of)
{
  const gchar *t = presented_token (msg);
  GHashTableIter it;
  gpointer v;

  *viewer_of = NULL;
  if (t == NULL || *t == '\0')
    return FALSE;
  if (vms_token_equal (api->sup->cfg->token, t))
    return TRUE;
  g_hash_table_iter_init (&it, api->sup->sessions);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    if (vms_token_equal (vms_session_get_viewer_token (v), t)) {
      *viewer_of = v;
      break;
    }
  }
  return FALSE;
}

static void
deny (SoupServerMessage *msg, VmsSession *viewer_of)
{
  if (viewer_of) {
    refuse (msg, SOUP_STATUS_FORBIDDEN,
            "a viewer token may only watch its own session and send it "
            "input; this needs the administrator token");
    return;
  }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "WWW-Authenticate",
                                "Bearer realm=\"vmstream\"");
  refuse (msg, SOUP_STATUS_UNAUTHORIZED,
          "a valid administrator token is required: send \"Authorization: "
          "Bearer <token>\" (HELIX_TOKEN, or the token the supervisor "
          "generated at start: its log says where it is)");
}

static gboolean
check_admin (VmsApi *api, SoupServerMessage *msg)
{
  VmsSession *viewer_of;

  if (identify (api, msg, &viewer_of))
    return TRUE;
  deny (msg, viewer_of);
  return FALSE;
}

/* --- body parsing ------------------------------------------------------- */

static JsonNode *
parse_body (SoupServerMessage *msg, GError **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);

  return vms_api_body_parse (data, len, error);
}

static gboolean
member_int (JsonObject *o, const gchar *name, gint def, gint min, gint max,
            gint *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  gint64 v;
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    *out = def;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_INT64) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"%s\" must be an integer", name);
    return FALSE;
  }
  v = json_node_get_int (n);
  if (v < min || v > max) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"%s\" is %" G_GINT64_FORMAT ", outside %d..%d", name, v, min,
                 max);
    return FALSE;
  }
  *out = (gint)v;
  return TRUE;
}

static gboolean
member_name (JsonObject *o, const gchar *name, const gchar *def,
             const gchar **out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL || JSON_NODE_HOLDS_NULL (n)) {
    *out = def;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING
      || !vms_template_name_is_valid (json_node_get_string (n))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"%s\" must be a name of letters, digits, '-', '_' or '.' "
                 "(at most 64)",
                 name);
    return FALSE;
  }
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
capture_check (const gchar *capture, VmsConfig *cfg, GError **error)
{
  if (!vms_capture_is_valid (capture)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"capture\" must be \"guest\" (the guest sends its screen) "
                 "or \"qemu\" (the host reads the VM's display from QEMU), "
                 "not \"%s\"",
                 capture);
    return FALSE;
  }
  if (g_str_equal (capture, "qemu") && g_strcmp0 (cfg->vm_backend, "qemu")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"capture\": \"qemu\" reads the screen from the QEMU this "
                 "supervisor starts, and this one runs no VM (VM backend "
                 "%s; see HELIX_VM_BACKEND)",
                 cfg->vm_backend);
    return FALSE;
  }
  return TRUE;
}

/* --- routes ------------------------------------------------------------- */

static void
sessions_list (VmsApi *api, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonArray *arr = json_array_new ();
  g_autofree gchar *host = request_host (api, msg);
  GList *vals = g_hash_table_get_values (api->sup->sessions);

  for (GList *l = vals; l; l = l->next)
    json_array_add_element (arr, vms_session_to_json (l->data, host));
  g_list_free (vals);
  json_object_set_array_member (o, "sessions", arr);
  json_node_take_object (root, o);
  respond_json (msg, SOUP_STATUS_OK, root);
}

static void
sessions_create (VmsApi *api, SoupServerMessage *msg)
{
  VmsConfig *cfg = api->sup->cfg;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_body (msg, &error);
  static const gchar *known[] = { "template", "width",   "height", "fps",
                                  "encoder",  "capture", "id",     NULL };
  JsonObject *o;
  const gchar *tmpl, *encoder, *id, *capture;
  gint width, height, fps;
  guint status = SOUP_STATUS_BAD_REQUEST;
  VmsSession *s;
  GList *members;

  if (root == NULL) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    respond_error (
        msg, SOUP_STATUS_BAD_REQUEST,
        "the body must be a JSON object such as {\"template\": \"%s\", "
        "\"width\": 1280, \"height\": 720, \"fps\": 30}",
        cfg->default_template);
    return;
  }
  o = json_node_get_object (root);
  members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next) {
    if (!g_strv_contains (known, l->data)) {
      respond_error (
          msg, SOUP_STATUS_BAD_REQUEST,
          "unknown field \"%.64s\" (known: template, width, height, fps, "
          "encoder, capture, id)",
          (const gchar *)l->data);
      g_list_free (members);
      return;
    }
  }
  g_list_free (members);
  if (!member_name (o, "capture", cfg->capture, &capture, &error)
      || !capture_check (capture, cfg, &error)
      /* qemu capture reads QEMU's display: its own host template */
      || !member_name (o, "template",
                       g_str_equal (capture, "qemu") ? "host-qemu-display"
                                                     : cfg->default_template,
                       &tmpl, &error)
      || !member_name (o, "encoder", cfg->encoder, &encoder, &error)
      || !member_name (o, "id", NULL, &id, &error)
      || !member_int (o, "width", 1280, 16, 7680, &width, &error)
      || !member_int (o, "height", 720, 16, 4320, &height, &error)
      || !member_int (o, "fps", 30, 1, 240, &fps, &error)) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (width % 2 || height % 2) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST,
                   "width and height must be even (H.264 4:2:0), not %dx%d",
                   width, height);
    return;
  }
  if (api->sup->shutting_down) {
    respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                   "the supervisor is shutting down");
    return;
  }
  s = vms_session_create (api->sup, id, tmpl, width, height, fps, encoder,
                          capture, &status, &error);
  if (s == NULL) {
    respond_error (msg, status, "%s", error->message);
    return;
  }
  add_waiter (api, msg, s, FALSE);
  session_changed (s, api); /* it may already have failed */
}

static void
metrics (VmsApi *api, SoupServerMessage *msg)
{
  GString *out = g_string_new (NULL);
  GHashTableIter it;
  gpointer v;
  guint counts[VMS_STATE_STOPPING + 1] = { 0 };

  g_hash_table_iter_init (&it, api->sup->sessions);
  while (g_hash_table_iter_next (&it, NULL, &v))
    counts[vms_session_get_state (v)]++;
  g_string_append (out, "# HELP vmstream_sessions Sessions by state.\n"
                        "# TYPE vmstream_sessions gauge\n");
  for (gint st = 0; st <= VMS_STATE_STOPPING; st++)
    g_string_append_printf (out, "vmstream_sessions{state=\"%s\"} %u\n",
                            vms_state_name (st), counts[st]);
  g_string_append_printf (
      out,
      "# HELP vmstream_uptime_seconds Seconds since the supervisor started.\n"
      "# TYPE vmstream_uptime_seconds gauge\n"
      "vmstream_uptime_seconds %.1f\n",
      (g_get_monotonic_time () - api->sup->started_at) / 1e6);

#define FAMILY(name, type, help)                                               \
  g_string_append (out,                                                        \
                   "# HELP " name " " help "\n# TYPE " name " " type "\n");    \
  g_hash_table_iter_init (&it, api->sup->sessions);                            \
  while (g_hash_table_iter_next (&it, NULL, &v))
/* @val reads i, the session's VmsSessionInfo */
#define LINE(name, fmt, val)                                                   \
  {                                                                            \
    VmsSessionInfo i;                                                          \
    vms_session_get_info (v, &i);                                              \
    g_string_append_printf (out,                                               \
                            name "{session=\"%s\",template=\"%s\"} " fmt "\n", \
                            i.id, i.template_name, val);                       \
  }

  FAMILY ("vmstream_session_up", "gauge",
          "1 when the session pipeline is running.")
  LINE ("vmstream_session_up", "%d", i.state == VMS_STATE_RUNNING);
  FAMILY ("vmstream_session_restarts_total", "counter",
          "Times the session process was restarted.")
  LINE ("vmstream_session_restarts_total", "%u", i.restarts);
  FAMILY ("vmstream_session_frames_total", "counter",
          "Encoded frames delivered to the stream sinks.")
  LINE ("vmstream_session_frames_total", "%" G_GUINT64_FORMAT, i.frames);
  FAMILY ("vmstream_session_bytes_total", "counter",
          "Encoded bytes delivered to the stream sinks.")
  LINE ("vmstream_session_bytes_total", "%" G_GUINT64_FORMAT, i.bytes);
  FAMILY ("vmstream_session_clients", "gauge",
          "WebSocket clients connected (-1: unknown).")
  LINE ("vmstream_session_clients", "%d", i.clients);
  FAMILY ("vmstream_session_encode_fps", "gauge",
          "Encoded frames per second over the last stats interval.")
  LINE ("vmstream_session_encode_fps", "%.2f", i.fps_measured);
  FAMILY ("vmstream_session_input_events_total", "counter",
          "Input events received through the HTTP API.")
  LINE ("vmstream_session_input_events_total", "%" G_GUINT64_FORMAT,
        i.input_events);
#undef FAMILY
#undef LINE

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4",
                                    SOUP_MEMORY_TAKE, out->str, out->len);
  g_string_free (out, FALSE);
}

static void
method_not_allowed (SoupServerMessage *msg, const gchar *allow)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", allow);
  respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                 "%s is not allowed here; use %s",
                 soup_server_message_get_method (msg), allow);
}

/* What a client needs to know before it trusts this server: the version
 * and whether the port is HTTPS, with the certificate's SHA-256 fingerprint
 * to compare with (or pin) what its TLS library was shown. */
static void
info (VmsApi *api, SoupServerMessage *msg)
{
  VmsConfig *cfg = api->sup->cfg;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, VERSION);
  json_builder_set_member_name (b, "tls");
  json_builder_add_boolean_value (b, cfg->tls_certificate != NULL);
  json_builder_set_member_name (b, "fingerprint");
  if (cfg->tls_fingerprint)
    json_builder_add_string_value (b, cfg->tls_fingerprint);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "self_signed");
  json_builder_add_boolean_value (b, cfg->tls_certificate
                                         && *cfg->tls_key_file == '\0');
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  respond_json (msg, SOUP_STATUS_OK, root);
}

/* Relays the request to session @id's wsh264sink at @sink_path (relay.c),
 * or answers why not. */
static void
relay_to (VmsApi *api, SoupServerMessage *msg, const gchar *id,
          const gchar *sink_path, gboolean upgrade)
{
  VmsSession *s = g_hash_table_lookup (api->sup->sessions, id);
  g_autoptr (GError) error = NULL;

  if (s == NULL || vms_session_is_removed (s)) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND,
                   "no session \"%.64s\": it was never created or it was "
                   "deleted",
                   id);
    return;
  }
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")
      && !(g_str_equal (soup_server_message_get_method (msg), "HEAD")
           && !upgrade)) {
    method_not_allowed (msg, "GET");
    return;
  }
  if (!vms_relay_start (s, msg, sink_path, upgrade, &error))
    respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s", error->message);
}

/* "/api/v1/sessions/ID/stream" -> ID, else NULL */
static gchar *
api_stream_id (const gchar *path)
{
  const gchar *id = path + strlen ("/api/v1/sessions/");
  const gchar *slash;

  if (!g_str_has_prefix (path, "/api/v1/sessions/")
      || (slash = strchr (id, '/')) == NULL || slash == id
      || !g_str_equal (slash, "/stream"))
    return NULL;
  return g_strndup (id, slash - id);
}

static void
handle_stream (SoupServer *server, SoupServerMessage *msg, const char *path,
               GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  const gchar *id = path + strlen ("/stream/");
  g_autofree gchar *sink_path = NULL;

  if (!g_str_has_prefix (path, "/stream/") || *id == '\0' || strchr (id, '/')) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND,
                   "no such stream: %.128s (streams are /stream/ID)", path);
    return;
  }
  sink_path = g_strdup_printf ("/stream/%s", id);
  relay_to (api, msg, id, sink_path, TRUE);
}

/* A request passed to the session process (vms_session_request()): the
 * HTTP message waits, paused, for its answer. */
typedef struct {
  SoupServerMessage *msg;
  gboolean finished; /* the client went away: answer nobody */
  gchar *session_id;
  gint width, height; /* resize */
} Asked;

static void
asked_finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  Asked *a = user_data;
  a->finished = TRUE;
}

static Asked *
asked_new (SoupServerMessage *msg, VmsSession *s)
{
  Asked *a = g_new0 (Asked, 1);
  a->msg = g_object_ref (msg);
  a->session_id = g_strdup (vms_session_get_id (s));
  g_signal_connect (msg, "finished", G_CALLBACK (asked_finished_cb), a);
  return a;
}

static void
asked_free (Asked *a)
{
  g_signal_handlers_disconnect_by_data (a->msg, a);
  g_object_unref (a->msg);
  g_free (a->session_id);
  g_free (a);
}

/* FALSE (and answered) when the session could not be asked. */
static gboolean
ask (SoupServerMessage *msg, VmsSession *s, VmsRequest *req, VmsAnswerFunc cb,
     Asked *a)
{
  g_autoptr (GError) error = NULL;

  if (!vms_session_request (s, req, cb, a, &error)) {
    respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s", error->message);
    asked_free (a);
    return FALSE;
  }
  soup_server_message_pause (msg);
  return TRUE;
}

static void
screenshot_answered (guint status, const gchar *type, GBytes *body,
                     const gchar *message, gpointer user_data)
{
  Asked *a = user_data;

  if (!a->finished) {
    if (status == SOUP_STATUS_OK && body && type) {
      soup_message_headers_replace (
          soup_server_message_get_response_headers (a->msg), "Cache-Control",
          "no-store");
      soup_server_message_set_status (a->msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (a->msg, type, SOUP_MEMORY_COPY,
                                        g_bytes_get_data (body, NULL),
                                        g_bytes_get_size (body));
    } else {
      respond_error (a->msg, status == SOUP_STATUS_OK ? 502 : status,
                     "session \"%s\": %s", a->session_id,
                     message ? message : "no picture in the answer");
    }
    soup_server_message_unpause (a->msg);
  }
  asked_free (a);
}

static void
screenshot (SoupServerMessage *msg, VmsSession *s, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  VmsRequest req;

  if (!g_str_equal (soup_server_message_get_method (msg), "GET")) {
    method_not_allowed (msg, "GET");
    return;
  }
  /* common/vmssession: the limits the session applies too */
  if (!vms_screenshot_query_parse (
          query ? g_hash_table_lookup (query, "format") : NULL,
          query ? g_hash_table_lookup (query, "width") : NULL, &req, &error)) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  ask (msg, s, &req, screenshot_answered, asked_new (msg, s));
}

static void
resize_answered (guint status, const gchar *type, GBytes *body,
                 const gchar *message, gpointer user_data)
{
  Asked *a = user_data;

  /* the session's size line, before this answer, set the new size */
  if (!a->finished) {
    if (status == SOUP_STATUS_OK) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) res = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, a->width);
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, a->height);
      json_builder_end_object (b);
      res = json_builder_get_root (b);
      respond_json (a->msg, SOUP_STATUS_OK, res);
    } else {
      respond_error (a->msg, status, "session \"%s\": %s", a->session_id,
                     message ? message : "not resized");
    }
    soup_server_message_unpause (a->msg);
  }
  asked_free (a);
}

static void
resize (SoupServerMessage *msg, VmsSession *s)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  VmsRequest req = { .kind = VMS_REQUEST_RESIZE };
  JsonObject *o;
  GList *members;
  Asked *a;

  if (!g_str_equal (soup_server_message_get_method (msg), "POST")) {
    method_not_allowed (msg, "POST");
    return;
  }
  root = parse_body (msg, &error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s",
                   error ? error->message
                         : "the body must be a JSON object such as "
                           "{\"width\": 1280, \"height\": 720}");
    return;
  }
  o = json_node_get_object (root);
  members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next) {
    if (!g_str_equal (l->data, "width") && !g_str_equal (l->data, "height")) {
      respond_error (msg, SOUP_STATUS_BAD_REQUEST,
                     "unknown field \"%.64s\" (known: width, height)",
                     (const gchar *)l->data);
      g_list_free (members);
      return;
    }
  }
  g_list_free (members);
  if (!member_int (o, "width", -1, G_MININT, G_MAXINT, &req.width, &error)
      || !member_int (o, "height", -1, G_MININT, G_MAXINT, &req.height, &error)
      || !vms_request_check (&req, &error)) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  a = asked_new (msg, s);
  a->width = req.width;
  a->height = req.height;
  ask (msg, s, &req, resize_answered, a);
}

/* A viewer token reaches .../sessions/{its session}/input, /screenshot or
 * /resize, nothing else (each route's own checks follow). */
static gboolean
viewer_route (const gchar *path, VmsSession *viewer_of)
{
  g_autofree gchar *mine
      = viewer_of ? g_strdup_printf ("/api/v1/sessions/%s/",
                                     vms_session_get_id (viewer_of))
                  : NULL;
  const gchar *rest
      = mine && g_str_has_prefix (path, mine) ? path + strlen (mine) : NULL;

  return rest != NULL
         && (g_str_equal (rest, "input") || g_str_equal (rest, "screenshot")
             || g_str_equal (rest, "resize"));
}

/* GET /api/v1/templates */
static void
templates_list (VmsApi *api, SoupServerMessage *msg)
{
  g_autoptr (GPtrArray) names
      = vms_template_list (api->sup->cfg->templates_dir);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "templates");
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++)
    json_builder_add_string_value (b, names->pdata[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "default");
  json_builder_add_string_value (b, api->sup->cfg->default_template);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  respond_json (msg, SOUP_STATUS_OK, root);
}

/* POST /api/v1/sessions/ID/input */
static void
session_input (VmsApi *api, SoupServerMessage *msg, VmsSession *s)
{
  g_autoptr (GError) error = NULL;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);
  g_autoptr (GArray) events = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  g_autoptr (JsonNode) res = NULL;

  /* the input contract (common/vmsinput.h): the same rules as the
   * browser's messages and the session's stdin */
  events = vms_input_line_parse (data ? data : "", (gssize)len, &error);
  if (events == NULL) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (!vms_session_send_input (s, (const VmsInputEvent *)events->data,
                               events->len, &error)) {
    respond_error (msg,
                   g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY)
                       ? SOUP_STATUS_SERVICE_UNAVAILABLE
                       : SOUP_STATUS_CONFLICT,
                   "%s", error->message);
    return;
  }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "accepted");
  json_builder_add_int_value (b, events->len);
  json_builder_end_object (b);
  res = json_builder_get_root (b);
  respond_json (msg, SOUP_STATUS_ACCEPTED, res);
}

/* /api/v1/sessions/ID[/input|/screenshot|/resize]: @what is NULL for the
 * session itself */
static void
session_route (VmsApi *api, SoupServerMessage *msg, VmsSession *s,
               const gchar *what, GHashTable *query)
{
  const gchar *method = soup_server_message_get_method (msg);

  if (what == NULL) {
    if (g_str_equal (method, "GET")) {
      g_autofree gchar *host = request_host (api, msg);
      g_autoptr (JsonNode) node = vms_session_to_json (s, host);
      respond_json (msg, SOUP_STATUS_OK, node);
    } else if (g_str_equal (method, "DELETE")) {
      add_waiter (api, msg, s, TRUE);
      vms_session_stop (s);
    } else {
      method_not_allowed (msg, "GET, DELETE");
    }
  } else if (g_str_equal (what, "screenshot")) {
    screenshot (msg, s, query);
  } else if (g_str_equal (what, "resize")) {
    resize (msg, s);
  } else if (!g_str_equal (method, "POST")) { /* input */
    method_not_allowed (msg, "POST");
  } else {
    session_input (api, msg, s);
  }
}

/* "/api/v1/sessions[/id[/input|/screenshot|/resize]]" */
static void
sessions_route (VmsApi *api, SoupServerMessage *msg, const char *path,
                GHashTable *query)
{
  const gchar *method = soup_server_message_get_method (msg);
  g_auto (GStrv) parts
      = g_strsplit (path + strlen ("/api/v1/sessions"), "/", -1);
  guint n = g_strv_length (parts);
  VmsSession *s;

  if (n > 0 && parts[n - 1][0] == '\0')
    n--; /* trailing slash */
  if (n <= 1) {
    if (n == 1 && parts[0][0] != '\0') {
      respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such API route: %.128s",
                     path);
    } else if (g_str_equal (method, "GET")) {
      sessions_list (api, msg);
    } else if (g_str_equal (method, "POST")) {
      sessions_create (api, msg);
    } else {
      method_not_allowed (msg, "GET, POST");
    }
    return;
  }
  if (parts[0][0] != '\0' || n > 3
      || (n == 3 && !g_str_equal (parts[2], "input")
          && !g_str_equal (parts[2], "screenshot")
          && !g_str_equal (parts[2], "resize"))) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such API route: %.128s",
                   path);
    return;
  }
  s = g_hash_table_lookup (api->sup->sessions, parts[1]);
  if (s == NULL) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no session \"%.64s\"",
                   parts[1]);
    return;
  }
  session_route (api, msg, s, n == 3 ? parts[2] : NULL, query);
}

static void
handle_api (SoupServer *server, SoupServerMessage *msg, const char *path,
            GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  g_autofree gchar *stream_id = api_stream_id (path);
  VmsSession *viewer_of;

  if (stream_id) {
    g_autofree gchar *sink_path = g_strdup_printf ("/stream/%s", stream_id);
    relay_to (api, msg, stream_id, sink_path, TRUE);
  } else if (!identify (api, msg, &viewer_of)
             && !viewer_route (path, viewer_of)) {
    deny (msg, viewer_of);
  } else if (g_str_equal (path, "/api/v1/info")) {
    if (!g_str_equal (method, "GET"))
      method_not_allowed (msg, "GET");
    else
      info (api, msg);
  } else if (g_str_equal (path, "/api/v1/templates")) {
    if (!g_str_equal (method, "GET"))
      method_not_allowed (msg, "GET");
    else
      templates_list (api, msg);
  } else if (!g_str_has_prefix (path, "/api/v1/sessions")) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such API route: %.128s",
                   path);
  } else {
    sessions_route (api, msg, path, query);
  }
}

static void
handle_healthz (SoupServer *server, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b,
                                 api->sup->shutting_down ? "stopping" : "ok");
  json_builder_set_member_name (b, "sessions");
  json_builder_add_int_value (b, g_hash_table_size (api->sup->sessions));
  json_builder_set_member_name (b, "vm_backend");
  json_builder_add_string_value (b, api->sup->cfg->vm_backend);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  respond_json (msg,
                api->sup->shutting_down ? SOUP_STATUS_SERVICE_UNAVAILABLE
                                        : SOUP_STATUS_OK,
                root);
}

static void
handle_metrics (SoupServer *server, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  if (!check_admin (api, msg))
    return;
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")) {
    method_not_allowed (msg, "GET");
    return;
  }
  metrics (api, msg);
}

/* /player/ID/REST: the session's player page, served by its wsh264sink
 * through the relay (REST "" is its index.html; player.js and config.json
 * follow relative to it). /player/ID itself redirects to /player/ID/ so
 * relative URLs resolve there; the browser keeps a viewer link's #token=
 * fragment across the redirect. No token here: the page holds no secret
 * and its WebSocket needs the viewer token. */
static void
handle_player (SoupServer *server, SoupServerMessage *msg, const char *path,
               GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  const gchar *id = path + strlen ("/player/");
  const gchar *slash;
  g_autofree gchar *sid = NULL;
  g_autofree gchar *sink_path = NULL;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Referrer-Policy", "no-referrer");
  if (!g_str_has_prefix (path, "/player/") || *id == '\0') {
    respond_error (msg, SOUP_STATUS_NOT_FOUND,
                   "no such page: %.128s (players are /player/ID)", path);
    return;
  }
  slash = strchr (id, '/');
  if (slash == NULL) {
    g_autofree gchar *to = g_strdup_printf ("%s/", path);
    if (g_hash_table_lookup (api->sup->sessions, id) == NULL) {
      relay_to (api, msg, id, "/", FALSE); /* answers 404 */
      return;
    }
    /* a relative Location: soup_server_message_set_redirect() would make
     * it absolute with our own scheme, http://, which is wrong behind a
     * TLS proxy (docs/operations.md) */
    soup_server_message_set_status (msg, SOUP_STATUS_FOUND, NULL);
    soup_message_headers_replace (
        soup_server_message_get_response_headers (msg), "Location", to);
    return;
  }
  sid = g_strndup (id, slash - id);
  sink_path = g_strdup (slash); /* "/", "/player.js", "/config.json" */
  relay_to (api, msg, sid, sink_path, FALSE);
}

/* The index page holds no session data and needs no token: its script
 * takes the administrator token from the URL fragment (/#token=...), which
 * the browser never sends to a server, and lists the sessions through the
 * API with it, linking each by its viewer link (/player/ID#token=...). */
static const gchar index_html[]
    = "<!doctype html>\n<html><head><meta charset=\"utf-8\">\n"
      "<meta name=\"referrer\" content=\"no-referrer\">\n"
      "<title>vmstream</title></head><body>\n"
      "<h1>vmstream sessions</h1>\n<ul id=\"sessions\"></ul>\n"
      "<p id=\"note\"></p>\n"
      "<p>API: <code>/api/v1/sessions</code></p>\n"
      "<script>\n"
      "'use strict';\n"
      "(async () => {\n"
      "  const note = document.getElementById('note');\n"
      "  const list = document.getElementById('sessions');\n"
      "  const token = new URLSearchParams(location.hash.slice(1))"
      ".get('token');\n"
      "  if (!token) {\n"
      "    note.textContent = 'Open this page as ' + location.origin +\n"
      "      '/#token=<administrator token> (HELIX_TOKEN, or the file the "
      "supervisor\\'s log names).';\n"
      "    return;\n"
      "  }\n"
      "  const r = await fetch('/api/v1/sessions', { cache: 'no-store',\n"
      "    headers: { Authorization: 'Bearer ' + token } });\n"
      "  const body = await r.json();\n"
      "  if (!r.ok) { note.textContent = body.error; return; }\n"
      "  for (const s of body.sessions) {\n"
      "    const li = document.createElement('li');\n"
      "    const a = document.createElement('a');\n"
      "    a.href = s.viewer_url;\n"
      "    a.textContent = s.id;\n"
      "    li.append(a, ` (${s.template}, ${s.width}x${s.height}@${s.fps}, "
      "${s.state})`);\n"
      "    list.append(li);\n"
      "  }\n"
      "  if (!body.sessions.length) note.textContent = 'No session.';\n"
      "})();\n"
      "</script>\n</body></html>\n";

static void
handle_index (SoupServer *server, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer user_data)
{
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);

  if (!g_str_equal (path, "/")) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "not found: %.128s", path);
    return;
  }
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")
      && !g_str_equal (soup_server_message_get_method (msg), "HEAD")) {
    method_not_allowed (msg, "GET");
    return;
  }
  soup_message_headers_replace (rh, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (rh, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8",
                                    SOUP_MEMORY_STATIC, index_html,
                                    sizeof (index_html) - 1);
}

gboolean
vms_api_start (VmsSupervisor *sup, GError **error)
{
  VmsConfig *cfg = sup->cfg;
  g_autoptr (GInetAddress) ia
      = g_inet_address_new_from_string (cfg->listen_host);
  g_autoptr (GSocketAddress) sa = NULL;
  VmsApi *api = g_new0 (VmsApi, 1);

  api->sup = sup;
  sup->api = api;
  sup->session_changed = session_changed;
  sup->session_changed_data = api;
  if (ia == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "listen address \"%s\" is not an IP address",
                 cfg->listen_host);
    return FALSE;
  }
  sup->server = soup_server_new ("server-header", "vmstream-supervisor ",
                                 "tls-certificate", cfg->tls_certificate, NULL);
  g_signal_connect (sup->server, "request-started",
                    G_CALLBACK (on_request_started), api);
  soup_server_add_handler (sup->server, NULL, handle_index, api, NULL);
  soup_server_add_handler (sup->server, "/healthz", handle_healthz, api, NULL);
  soup_server_add_handler (sup->server, "/metrics", handle_metrics, api, NULL);
  soup_server_add_handler (sup->server, "/player", handle_player, api, NULL);
  soup_server_add_handler (sup->server, "/stream", handle_stream, api, NULL);
  soup_server_add_handler (sup->server, "/api", handle_api, api, NULL);
  sa = g_inet_socket_address_new (ia, cfg->listen_port);
  if (!soup_server_listen (sup->server, sa,
                           cfg->tls_certificate ? SOUP_SERVER_LISTEN_HTTPS : 0,
                           error)) {
    g_prefix_error (error, "cannot listen on %s: ", cfg->listen);
    return FALSE;
  }
  if (cfg->listen_port == 0) {
    GSList *uris = soup_server_get_uris (sup->server);
    if (uris)
      cfg->listen_port = g_uri_get_port (uris->data);
    g_slist_free_full (uris, (GDestroyNotify)g_uri_unref);
  }
  return TRUE;
}

void
vms_api_stop (VmsSupervisor *sup)
{
  VmsApi *api = sup->api;

  sup->session_changed = NULL;
  while (api && api->waiters)
    waiter_respond (api->waiters->data);
  if (sup->server) {
    soup_server_disconnect (sup->server);
    g_clear_object (&sup->server);
  }
  /* after the server: its handlers' user_data */
  g_clear_pointer (&sup->api, g_free);
}
