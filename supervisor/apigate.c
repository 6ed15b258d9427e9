/* vmstream-supervisor: who may ask (docs/security.md). The gate sees every
 * request as soon as its headers are in (Host, Origin, content type, body
 * size: api.c's header says which answer each gets); the tokens say who is
 * asking. */
#include "apiint.h"

#include "apibody.h"
#include "vmsauth.h"
#include "vmsnet.h"

#include <string.h>

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
  vms_api_respond_error (msg, status, "%s", text);
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
  g_autoptr (JsonNode) root = vms_api_error_node (status, text);
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

static void
gate_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autofree gchar *text = NULL;

  if (body->length <= VMS_API_MAX_BODY)
    return;
  g_signal_handlers_disconnect_by_func (msg, gate_got_chunk, user_data);
  text = g_strdup_printf ("the request body is larger than %d bytes: refused "
                          "as it passed the limit",
                          VMS_API_MAX_BODY);
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
      && soup_message_headers_get_content_length (h) > VMS_API_MAX_BODY) {
    g_autofree gchar *text = g_strdup_printf (
        "the request body (Content-Length %" G_GOFFSET_FORMAT
        ") is larger than %d bytes",
        soup_message_headers_get_content_length (h), VMS_API_MAX_BODY);
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

/* The gate on every request of the API's server */
void
vms_api_gate_connect (VmsApi *api)
{
  g_signal_connect (api->sup->server, "request-started",
                    G_CALLBACK (on_request_started), api);
}

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
gboolean
vms_api_identify (VmsApi *api, SoupServerMessage *msg, VmsSession **viewer_of)
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

void
vms_api_deny (SoupServerMessage *msg, VmsSession *viewer_of)
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

gboolean
vms_api_check_admin (VmsApi *api, SoupServerMessage *msg)
{
  VmsSession *viewer_of;

  if (vms_api_identify (api, msg, &viewer_of))
    return TRUE;
  vms_api_deny (msg, viewer_of);
  return FALSE;
}
