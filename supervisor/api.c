/* vmstream-supervisor: HTTP API (libsoup 3, JSON).
 *
 *   GET    /healthz                     liveness, never needs the token
 *   GET    /metrics                     Prometheus text
 *   GET    /                            HTML list of sessions
 *   GET    /player/{id}                 302 to the session's player page
 *   GET    /api/v1/templates            template names
 *   GET    /api/v1/sessions             all sessions
 *   POST   /api/v1/sessions             create (answers once it runs)
 *   GET    /api/v1/sessions/{id}        one session
 *   DELETE /api/v1/sessions/{id}        stop (answers once it is gone)
 *   POST   /api/v1/sessions/{id}/input  input events (input contract)
 *
 * With a token configured, every route but /healthz needs
 * "Authorization: Bearer <token>" (or ?token=<token> for browser pages). */
#include "supervisor.h"

#include "vmsinput.h"
#include "vmsauth.h"
#include "vmsnest.h"
#include "template.h"

#include <string.h>

#define MAX_BODY (1024 * 1024)

typedef struct {
  SoupServerMessage *msg;
  VmsSession *s;
  gboolean is_delete;
  gchar *host;
  guint timeout_id;
  gboolean finished;
  gulong finished_id;
} Waiter;

static GList *waiters;
static VmsSupervisor *the_sup;

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

static void
respond_error (SoupServerMessage *msg, guint status, const gchar *fmt, ...)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, status);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  respond_json (msg, status, root);
}

/* Host name the client used (for URLs in answers), without the port. */
static gchar *
request_host (SoupServerMessage *msg)
{
  const gchar *h = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Host");
  gchar *host, *colon;

  if (h == NULL || *h == '\0' || strlen (h) > 255)
    return g_strdup (the_sup->cfg->listen_host);
  for (const gchar *p = h; *p; p++) {
    if (!g_ascii_isalnum (*p) && !strchr (".-:[]", *p))
      return g_strdup (the_sup->cfg->listen_host);
  }
  if (h[0] == '[') { /* [v6]:port */
    const gchar *end = strchr (h, ']');
    return end ? g_strndup (h + 1, end - h - 1)
               : g_strdup (the_sup->cfg->listen_host);
  }
  host = g_strdup (h);
  colon = strrchr (host, ':');
  if (colon)
    *colon = '\0';
  return host;
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
  gboolean gone = s->removed && s->proc == NULL && s->qemu == NULL;

  waiters = g_list_remove (waiters, w);
  if (!w->finished) {
    if (w->is_delete) {
      g_autoptr (JsonNode) node = vms_session_to_json (s, w->host);
      json_object_set_string_member (json_node_get_object (node), "state",
                                     gone ? "stopped" : "stopping");
      respond_json (w->msg, SOUP_STATUS_OK, node);
    } else if (s->state == VMS_STATE_FAILED) {
      respond_error (w->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
                     "session \"%s\" (template \"%s\") failed to start: %s",
                     s->id, s->template_name,
                     s->last_error ? s->last_error : "unknown error");
      if (!s->removed)
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
add_waiter (SoupServerMessage *msg, VmsSession *s, gboolean is_delete)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->msg = g_object_ref (msg);
  w->s = s;
  vms_session_ref (s);
  w->is_delete = is_delete;
  w->host = request_host (msg);
  w->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (waiter_finished_cb), w);
  if (!is_delete)
    w->timeout_id = g_timeout_add_seconds ((guint)the_sup->cfg->start_timeout,
                                           waiter_timeout_cb, w);
  waiters = g_list_append (waiters, w);
  soup_server_message_pause (msg);
}

void
vms_api_session_changed (VmsSession *s)
{
  gboolean gone;
  GList *l;

again:
  /* Answering may stop a session, which re-enters here and can free other
   * waiters: rescan from the start after each answer. */
  gone = s->removed && s->proc == NULL && s->qemu == NULL;
  for (l = waiters; l; l = l->next) {
    Waiter *w = l->data;
    if (w->s != s)
      continue;
    if (w->is_delete ? gone : (s->state != VMS_STATE_STARTING || gone)) {
      waiter_respond (w);
      goto again;
    }
  }
}

/* --- auth --------------------------------------------------------------- */

static gboolean
authorized (SoupServerMessage *msg, GHashTable *query)
{
  const gchar *token = the_sup->cfg->token;
  const gchar *h;

  if (token == NULL || *token == '\0')
    return TRUE;
  h = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  if (h && g_ascii_strncasecmp (h, "Bearer ", 7) == 0
      && vms_token_equal (token, h + 7))
    return TRUE;
  if (query && g_hash_table_lookup (query, "token")
      && vms_token_equal (token, g_hash_table_lookup (query, "token")))
    return TRUE;
  return FALSE;
}

static gboolean
check_auth (SoupServerMessage *msg, GHashTable *query)
{
  if (authorized (msg, query))
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "WWW-Authenticate",
                                "Bearer realm=\"vmstream\"");
  respond_error (
      msg, SOUP_STATUS_UNAUTHORIZED,
      "a valid token is required: send \"Authorization: Bearer <token>\" "
      "(HELIX_TOKEN)");
  return FALSE;
}

/* --- body parsing ------------------------------------------------------- */

/* json-glib's parser recurses once per nesting level: a body of 100,000
 * '[' overflows the stack. Our schemas nest two levels; allow a few more. */
#define MAX_JSON_DEPTH 32

static JsonNode *
parse_body (SoupServerMessage *msg, GError **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (JsonParser) p = json_parser_new ();
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);
  JsonNode *root;

  if (len == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the request body is empty: JSON expected");
    return NULL;
  }
  if (len > MAX_BODY) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the request body is larger than %d bytes", MAX_BODY);
    return NULL;
  }
  if (!vms_json_nesting_check (data, len, MAX_JSON_DEPTH, error)) {
    g_prefix_error (error, "the body is refused: ");
    return NULL;
  }
  if (!json_parser_load_from_data (p, data, (gssize)len, error)) {
    g_prefix_error (error, "the body is not valid JSON: ");
    return NULL;
  }
  root = json_parser_get_root (p);
  if (root == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the body holds no JSON value");
    return NULL;
  }
  return json_node_copy (root);
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

/* --- routes ------------------------------------------------------------- */

static void
sessions_list (SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonArray *arr = json_array_new ();
  g_autofree gchar *host = request_host (msg);
  GList *vals = g_hash_table_get_values (the_sup->sessions);

  for (GList *l = vals; l; l = l->next)
    json_array_add_element (arr, vms_session_to_json (l->data, host));
  g_list_free (vals);
  json_object_set_array_member (o, "sessions", arr);
  json_node_take_object (root, o);
  respond_json (msg, SOUP_STATUS_OK, root);
}

static void
sessions_create (SoupServerMessage *msg)
{
  VmsConfig *cfg = the_sup->cfg;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = parse_body (msg, &error);
  static const gchar *known[]
      = { "template", "width", "height", "fps", "encoder", "id", NULL };
  JsonObject *o;
  const gchar *tmpl, *encoder, *id;
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
          "encoder, id)",
          (const gchar *)l->data);
      g_list_free (members);
      return;
    }
  }
  g_list_free (members);
  if (!member_name (o, "template", cfg->default_template, &tmpl, &error)
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
  if (the_sup->shutting_down) {
    respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                   "the supervisor is shutting down");
    return;
  }
  if (id && g_hash_table_lookup (the_sup->sessions, id)) {
    respond_error (msg, SOUP_STATUS_CONFLICT,
                   "a session with id \"%s\" already exists", id);
    return;
  }
  s = vms_session_create (the_sup, id, tmpl, width, height, fps, encoder,
                          &status, &error);
  if (s == NULL) {
    respond_error (msg, status, "%s", error->message);
    return;
  }
  add_waiter (msg, s, FALSE);
  vms_api_session_changed (s); /* it may already have failed */
}

static void
metrics (SoupServerMessage *msg)
{
  GString *out = g_string_new (NULL);
  GHashTableIter it;
  gpointer v;
  guint counts[VMS_STATE_STOPPING + 1] = { 0 };

  g_hash_table_iter_init (&it, the_sup->sessions);
  while (g_hash_table_iter_next (&it, NULL, &v))
    counts[((VmsSession *)v)->state]++;
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
      (g_get_monotonic_time () - the_sup->started_at) / 1e6);

#define FAMILY(name, type, help)                                               \
  g_string_append (out,                                                        \
                   "# HELP " name " " help "\n# TYPE " name " " type "\n");    \
  g_hash_table_iter_init (&it, the_sup->sessions);                             \
  while (g_hash_table_iter_next (&it, NULL, &v))
#define LINE(name, fmt, val)                                                   \
  g_string_append_printf (                                                     \
      out, name "{session=\"%s\",template=\"%s\"} " fmt "\n",                  \
      ((VmsSession *)v)->id, ((VmsSession *)v)->template_name, val)

  FAMILY ("vmstream_session_up", "gauge",
          "1 when the session pipeline is running.")
  LINE ("vmstream_session_up", "%d",
        ((VmsSession *)v)->state == VMS_STATE_RUNNING);
  FAMILY ("vmstream_session_restarts_total", "counter",
          "Times the session process was restarted.")
  LINE ("vmstream_session_restarts_total", "%u", ((VmsSession *)v)->restarts);
  FAMILY ("vmstream_session_frames_total", "counter",
          "Encoded frames delivered to the stream sinks.")
  LINE ("vmstream_session_frames_total", "%" G_GUINT64_FORMAT,
        ((VmsSession *)v)->frames_total);
  FAMILY ("vmstream_session_bytes_total", "counter",
          "Encoded bytes delivered to the stream sinks.")
  LINE ("vmstream_session_bytes_total", "%" G_GUINT64_FORMAT,
        ((VmsSession *)v)->bytes_total);
  FAMILY ("vmstream_session_clients", "gauge",
          "WebSocket clients connected (-1: unknown).")
  LINE ("vmstream_session_clients", "%d", ((VmsSession *)v)->clients);
  FAMILY ("vmstream_session_encode_fps", "gauge",
          "Encoded frames per second over the last stats interval.")
  LINE ("vmstream_session_encode_fps", "%.2f", ((VmsSession *)v)->fps_measured);
  FAMILY ("vmstream_session_input_events_total", "counter",
          "Input events received through the HTTP API.")
  LINE ("vmstream_session_input_events_total", "%" G_GUINT64_FORMAT,
        ((VmsSession *)v)->input_events);
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

static void
handle_api (SoupServer *server, SoupServerMessage *msg, const char *path,
            GHashTable *query, gpointer user_data)
{
  const gchar *method = soup_server_message_get_method (msg);
  g_auto (GStrv) parts = NULL;
  guint n;
  VmsSession *s;

  if (!check_auth (msg, query))
    return;
  if (g_str_equal (path, "/api/v1/templates")) {
    g_autoptr (GPtrArray) names
        = vms_template_list (the_sup->cfg->templates_dir);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (JsonNode) root = NULL;
    if (!g_str_equal (method, "GET")) {
      method_not_allowed (msg, "GET");
      return;
    }
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "templates");
    json_builder_begin_array (b);
    for (guint i = 0; i < names->len; i++)
      json_builder_add_string_value (b, names->pdata[i]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "default");
    json_builder_add_string_value (b, the_sup->cfg->default_template);
    json_builder_end_object (b);
    root = json_builder_get_root (b);
    respond_json (msg, SOUP_STATUS_OK, root);
    return;
  }
  if (!g_str_has_prefix (path, "/api/v1/sessions")) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such API route: %.128s",
                   path);
    return;
  }
  /* "/api/v1/sessions[/id[/input]]" */
  parts = g_strsplit (path + strlen ("/api/v1/sessions"), "/", -1);
  n = g_strv_length (parts);
  if (n > 0 && parts[n - 1][0] == '\0')
    n--; /* trailing slash */
  if (n <= 1) {
    if (n == 1 && parts[0][0] != '\0') {
      respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such API route: %.128s",
                     path);
    } else if (g_str_equal (method, "GET")) {
      sessions_list (msg);
    } else if (g_str_equal (method, "POST")) {
      sessions_create (msg);
    } else {
      method_not_allowed (msg, "GET, POST");
    }
    return;
  }
  if (parts[0][0] != '\0' || n > 3
      || (n == 3 && !g_str_equal (parts[2], "input"))) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no such API route: %.128s",
                   path);
    return;
  }
  s = g_hash_table_lookup (the_sup->sessions, parts[1]);
  if (s == NULL) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no session \"%.64s\"",
                   parts[1]);
    return;
  }
  if (n == 2) {
    if (g_str_equal (method, "GET")) {
      g_autofree gchar *host = request_host (msg);
      g_autoptr (JsonNode) node = vms_session_to_json (s, host);
      respond_json (msg, SOUP_STATUS_OK, node);
    } else if (g_str_equal (method, "DELETE")) {
      add_waiter (msg, s, TRUE);
      vms_session_stop (s);
    } else {
      method_not_allowed (msg, "GET, DELETE");
    }
    return;
  }
  /* input */
  if (!g_str_equal (method, "POST")) {
    method_not_allowed (msg, "POST");
    return;
  } else {
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
}

static void
handle_healthz (SoupServer *server, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, the_sup->shutting_down ? "stopping" : "ok");
  json_builder_set_member_name (b, "sessions");
  json_builder_add_int_value (b, g_hash_table_size (the_sup->sessions));
  json_builder_set_member_name (b, "vm_backend");
  json_builder_add_string_value (b, the_sup->cfg->vm_backend);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  respond_json (msg,
                the_sup->shutting_down ? SOUP_STATUS_SERVICE_UNAVAILABLE
                                       : SOUP_STATUS_OK,
                root);
}

static void
handle_metrics (SoupServer *server, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  if (!check_auth (msg, query))
    return;
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")) {
    method_not_allowed (msg, "GET");
    return;
  }
  metrics (msg);
}

static void
handle_player (SoupServer *server, SoupServerMessage *msg, const char *path,
               GHashTable *query, gpointer user_data)
{
  const gchar *id = path + strlen ("/player/");
  VmsSession *s;
  g_autofree gchar *host = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *hb = NULL;

  if (!check_auth (msg, query))
    return;
  if (!g_str_has_prefix (path, "/player/")
      || (s = g_hash_table_lookup (the_sup->sessions, id)) == NULL) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "no session \"%.64s\"",
                   g_str_has_prefix (path, "/player/") ? id : path);
    return;
  }
  /* The player page and the WebSocket are served by the session's own
   * wsh264sink: send the browser there (same host name it used here). */
  host = request_host (msg);
  hb = strchr (host, ':') ? g_strdup_printf ("[%s]", host) : g_strdup (host);
  if (the_sup->cfg->token && *the_sup->cfg->token) {
    g_autofree gchar *t
        = g_uri_escape_string (the_sup->cfg->token, NULL, FALSE);
    url = g_strdup_printf ("http://%s:%u/?token=%s", hb, s->ws_port, t);
  } else {
    url = g_strdup_printf ("http://%s:%u/", hb, s->ws_port);
  }
  soup_server_message_set_redirect (msg, SOUP_STATUS_FOUND, url);
}

static void
handle_index (SoupServer *server, SoupServerMessage *msg, const char *path,
              GHashTable *query, gpointer user_data)
{
  GString *html;
  GList *vals;
  const gchar *tok = the_sup->cfg->token;
  g_autofree gchar *tq = NULL;

  if (!g_str_equal (path, "/")) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "not found: %.128s", path);
    return;
  }
  if (!check_auth (msg, query))
    return;
  if (tok && *tok) {
    g_autofree gchar *t = g_uri_escape_string (tok, NULL, FALSE);
    tq = g_strdup_printf ("?token=%s", t);
  }
  html = g_string_new ("<!doctype html><html><head><meta charset=\"utf-8\">"
                       "<title>vmstream</title></head><body>"
                       "<h1>vmstream sessions</h1><ul>");
  vals = g_hash_table_get_values (the_sup->sessions);
  for (GList *l = vals; l; l = l->next) {
    VmsSession *s = l->data;
    g_autofree gchar *id = g_markup_escape_text (s->id, -1);
    g_autofree gchar *t = g_markup_escape_text (s->template_name, -1);
    g_string_append_printf (
        html, "<li><a href=\"/player/%s%s\">%s</a> (%s, %dx%d@%d, %s)</li>", id,
        tq ? tq : "", id, t, s->width, s->height, s->fps,
        vms_state_name (s->state));
  }
  g_list_free (vals);
  g_string_append (html, "</ul><p>API: <code>/api/v1/sessions</code></p>"
                         "</body></html>\n");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8",
                                    SOUP_MEMORY_TAKE, html->str, html->len);
  g_string_free (html, FALSE);
}

gboolean
vms_api_start (VmsSupervisor *sup, GError **error)
{
  VmsConfig *cfg = sup->cfg;
  g_autoptr (GInetAddress) ia
      = g_inet_address_new_from_string (cfg->listen_host);
  g_autoptr (GSocketAddress) sa = NULL;

  the_sup = sup;
  if (ia == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "listen address \"%s\" is not an IP address",
                 cfg->listen_host);
    return FALSE;
  }
  sup->server = soup_server_new ("server-header", "vmstream-supervisor ", NULL);
  soup_server_add_handler (sup->server, NULL, handle_index, NULL, NULL);
  soup_server_add_handler (sup->server, "/healthz", handle_healthz, NULL, NULL);
  soup_server_add_handler (sup->server, "/metrics", handle_metrics, NULL, NULL);
  soup_server_add_handler (sup->server, "/player", handle_player, NULL, NULL);
  soup_server_add_handler (sup->server, "/api", handle_api, NULL, NULL);
  sa = g_inet_socket_address_new (ia, cfg->listen_port);
  if (!soup_server_listen (sup->server, sa, 0, error)) {
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
  while (waiters)
    waiter_respond (waiters->data);
  if (sup->server) {
    soup_server_disconnect (sup->server);
    g_clear_object (&sup->server);
  }
}
