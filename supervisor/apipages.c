/* vmstream-supervisor: the answers that are not JSON: /metrics
 * (Prometheus text), the index page, and a session's player page and
 * stream, relayed to its wsh264sink (relay.c). */
#include "apiint.h"

#include <string.h>

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

void
vms_api_handle_metrics (SoupServer *server, SoupServerMessage *msg,
                        const char *path, GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  if (!vms_api_check_admin (api, msg))
    return;
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")) {
    vms_api_method_not_allowed (msg, "GET");
    return;
  }
  metrics (api, msg);
}

/* Relays the request to session @id's wsh264sink at @sink_path (relay.c),
 * or answers why not. */
void
vms_api_relay_to (VmsApi *api, SoupServerMessage *msg, const gchar *id,
                  const gchar *sink_path, gboolean upgrade)
{
  VmsSession *s = g_hash_table_lookup (api->sup->sessions, id);
  g_autoptr (GError) error = NULL;

  if (s == NULL || vms_session_is_removed (s)) {
    vms_api_respond_error (
        msg, SOUP_STATUS_NOT_FOUND,
        "no session \"%.64s\": it was never created or it was "
        "deleted",
        id);
    return;
  }
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")
      && !(g_str_equal (soup_server_message_get_method (msg), "HEAD")
           && !upgrade)) {
    vms_api_method_not_allowed (msg, "GET");
    return;
  }
  if (!vms_relay_start (s, msg, sink_path, upgrade, &error))
    vms_api_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s",
                           error->message);
}

void
vms_api_handle_stream (SoupServer *server, SoupServerMessage *msg,
                       const char *path, GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  const gchar *id = path + strlen ("/stream/");
  g_autofree gchar *sink_path = NULL;

  if (!g_str_has_prefix (path, "/stream/") || *id == '\0' || strchr (id, '/')) {
    vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND,
                           "no such stream: %.128s (streams are /stream/ID)",
                           path);
    return;
  }
  sink_path = g_strdup_printf ("/stream/%s", id);
  vms_api_relay_to (api, msg, id, sink_path, TRUE);
}

/* /player/ID/REST: the session's player page, served by its wsh264sink
 * through the relay (REST "" is its index.html; player.js and config.json
 * follow relative to it). /player/ID itself redirects to /player/ID/ so
 * relative URLs resolve there; the browser keeps a viewer link's #token=
 * fragment across the redirect. No token here: the page holds no secret
 * and its WebSocket needs the viewer token. */
void
vms_api_handle_player (SoupServer *server, SoupServerMessage *msg,
                       const char *path, GHashTable *query, gpointer user_data)
{
  VmsApi *api = user_data;
  const gchar *id = path + strlen ("/player/");
  const gchar *slash;
  g_autofree gchar *sid = NULL;
  g_autofree gchar *sink_path = NULL;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Referrer-Policy", "no-referrer");
  if (!g_str_has_prefix (path, "/player/") || *id == '\0') {
    vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND,
                           "no such page: %.128s (players are /player/ID)",
                           path);
    return;
  }
  slash = strchr (id, '/');
  if (slash == NULL) {
    g_autofree gchar *to = g_strdup_printf ("%s/", path);
    if (g_hash_table_lookup (api->sup->sessions, id) == NULL) {
      vms_api_relay_to (api, msg, id, "/", FALSE); /* answers 404 */
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
  vms_api_relay_to (api, msg, sid, sink_path, FALSE);
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

void
vms_api_handle_index (SoupServer *server, SoupServerMessage *msg,
                      const char *path, GHashTable *query, gpointer user_data)
{
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);

  if (!g_str_equal (path, "/")) {
    vms_api_respond_error (msg, SOUP_STATUS_NOT_FOUND, "not found: %.128s",
                           path);
    return;
  }
  if (!g_str_equal (soup_server_message_get_method (msg), "GET")
      && !g_str_equal (soup_server_message_get_method (msg), "HEAD")) {
    vms_api_method_not_allowed (msg, "GET");
    return;
  }
  soup_message_headers_replace (rh, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (rh, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8",
                                    SOUP_MEMORY_STATIC, index_html,
                                    sizeof (index_html) - 1);
}
