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
#include "apiint.h"

#include "vmstemplate.h"

#include <string.h>

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
  vms_api_respond_json (msg, SOUP_STATUS_OK, root);
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
  vms_api_respond_json (msg, SOUP_STATUS_OK, root);
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

/* /api/v1/sessions/ID[/input|/screenshot|/resize]: @what is NULL for the
 * session itself */
static void
session_route (VmsApi *api, SoupServerMessage *msg, VmsSession *s,
               const gchar *what, GHashTable *query)
{
  const gchar *method = soup_server_message_get_method (msg);

  if (what == NULL) {
    if (g_str_equal (method, "GET")) {
      g_autofree gchar *host = vms_api_request_host (api, msg);
      g_autoptr (JsonNode) node = vms_session_to_json (s, host);
      vms_api_respond_json (msg, SOUP_STATUS_OK, node);
    } else if (g_str_equal (method, "DELETE")) {
      vms_api_add_waiter (api, msg, s, TRUE);
      vms_session_stop (s);
    } else {
      vms_api_method_not_allowed (msg, "GET, DELETE");
    }
  } else if (g_str_equal (what, "screenshot")) {
    vms_api_screenshot (msg, s, query);
  } else if (g_str_equal (what, "resize")) {
    vms_api_resize (msg, s);
  } else if (!g_str_equal (method, "POST")) { /* input */
    vms_api_method_not_allowed (msg, "POST");
  } else {
    vms_api_session_input (api, msg, s);
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
      vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND,
                             "no such API route: %.128s", path);
    } else if (g_str_equal (method, "GET")) {
      vms_api_sessions_list (api, msg);
    } else if (g_str_equal (method, "POST")) {
      vms_api_sessions_create (api, msg);
    } else {
      vms_api_method_not_allowed (msg, "GET, POST");
    }
    return;
  }
  if (parts[0][0] != '\0' || n > 3
      || (n == 3 && !g_str_equal (parts[2], "input")
          && !g_str_equal (parts[2], "screenshot")
          && !g_str_equal (parts[2], "resize"))) {
    vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND,
                           "no such API route: %.128s", path);
    return;
  }
  s = g_hash_table_lookup (api->sup->sessions, parts[1]);
  if (s == NULL) {
    vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND, "no session \"%.64s\"",
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
    vms_api_relay_to (api, msg, stream_id, sink_path, TRUE);
  } else if (!vms_api_identify (api, msg, &viewer_of)
             && !viewer_route (path, viewer_of)) {
    vms_api_deny (msg, viewer_of);
  } else if (g_str_equal (path, "/api/v1/info")) {
    if (!g_str_equal (method, "GET"))
      vms_api_method_not_allowed (msg, "GET");
    else
      info (api, msg);
  } else if (g_str_equal (path, "/api/v1/templates")) {
    if (!g_str_equal (method, "GET"))
      vms_api_method_not_allowed (msg, "GET");
    else
      templates_list (api, msg);
  } else if (!g_str_has_prefix (path, "/api/v1/sessions")) {
    vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND,
                           "no such API route: %.128s", path);
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
  vms_api_respond_json (msg,
                        api->sup->shutting_down
                            ? SOUP_STATUS_SERVICE_UNAVAILABLE
                            : SOUP_STATUS_OK,
                        root);
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
  sup->session_changed = vms_api_session_changed;
  sup->session_changed_data = api;
  if (ia == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "listen address \"%s\" is not an IP address",
                 cfg->listen_host);
    return FALSE;
  }
  sup->server = soup_server_new ("server-header", "vmstream-supervisor ",
                                 "tls-certificate", cfg->tls_certificate, NULL);
  vms_api_gate_connect (api);
  soup_server_add_handler (sup->server, NULL, vms_api_handle_index, api, NULL);
  soup_server_add_handler (sup->server, "/healthz", handle_healthz, api, NULL);
  soup_server_add_handler (sup->server, "/metrics", vms_api_handle_metrics, api,
                           NULL);
  soup_server_add_handler (sup->server, "/player", vms_api_handle_player, api,
                           NULL);
  soup_server_add_handler (sup->server, "/stream", vms_api_handle_stream, api,
                           NULL);
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
  if (api)
    vms_api_waiters_answer_all (api);
  if (sup->server) {
    soup_server_disconnect (sup->server);
    g_clear_object (&sup->server);
  }
  /* after the server: its handlers' user_data */
  g_clear_pointer (&sup->api, g_free);
}
