/* vmstream-supervisor: POST /api/v1/sessions/ID/input, GET .../screenshot,
 * POST .../resize: what the API passes to a running session process. */
#include "apiint.h"

#include "vmsinput.h"

#include <string.h>

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
    vms_api_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "%s",
                           error->message);
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
      vms_api_respond_error (a->msg, status == SOUP_STATUS_OK ? 502 : status,
                             "session \"%s\": %s", a->session_id,
                             message ? message : "no picture in the answer");
    }
    soup_server_message_unpause (a->msg);
  }
  asked_free (a);
}

void
vms_api_screenshot (SoupServerMessage *msg, VmsSession *s, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  VmsRequest req;

  if (!g_str_equal (soup_server_message_get_method (msg), "GET")) {
    vms_api_method_not_allowed (msg, "GET");
    return;
  }
  /* common/vmssession: the limits the session applies too */
  if (!vms_screenshot_query_parse (
          query ? g_hash_table_lookup (query, "format") : NULL,
          query ? g_hash_table_lookup (query, "width") : NULL, &req, &error)) {
    vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
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
      vms_api_respond_json (a->msg, SOUP_STATUS_OK, res);
    } else {
      vms_api_respond_error (a->msg, status, "session \"%s\": %s",
                             a->session_id, message ? message : "not resized");
    }
    soup_server_message_unpause (a->msg);
  }
  asked_free (a);
}

void
vms_api_resize (SoupServerMessage *msg, VmsSession *s)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  VmsRequest req = { .kind = VMS_REQUEST_RESIZE };
  JsonObject *o;
  GList *members;
  Asked *a;

  if (!g_str_equal (soup_server_message_get_method (msg), "POST")) {
    vms_api_method_not_allowed (msg, "POST");
    return;
  }
  root = vms_api_parse_body (msg, &error);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s",
                           error ? error->message
                                 : "the body must be a JSON object such as "
                                   "{\"width\": 1280, \"height\": 720}");
    return;
  }
  o = json_node_get_object (root);
  members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next) {
    if (!g_str_equal (l->data, "width") && !g_str_equal (l->data, "height")) {
      vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST,
                             "unknown field \"%.64s\" (known: width, height)",
                             (const gchar *)l->data);
      g_list_free (members);
      return;
    }
  }
  g_list_free (members);
  if (!vms_api_member_int (o, "width", -1, G_MININT, G_MAXINT, &req.width,
                           &error)
      || !vms_api_member_int (o, "height", -1, G_MININT, G_MAXINT, &req.height,
                              &error)
      || !vms_request_check (&req, &error)) {
    vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  a = asked_new (msg, s);
  a->width = req.width;
  a->height = req.height;
  ask (msg, s, &req, resize_answered, a);
}

/* POST /api/v1/sessions/ID/input */
void
vms_api_session_input (VmsApi *api, SoupServerMessage *msg, VmsSession *s)
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
    vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (!vms_session_send_input (s, (const VmsInputEvent *)events->data,
                               events->len, &error)) {
    vms_api_respond_error (msg,
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
  vms_api_respond_json (msg, SOUP_STATUS_ACCEPTED, res);
}
