/* vmstream-supervisor: the API's answers (JSON, with Cache-Control:
 * no-store; refusals as {"error": TEXT, "status": N}) and what it reads of
 * request bodies. */
#include "apiint.h"

#include "apibody.h"
#include "vmsnet.h"
#include "vmstemplate.h"

#include <string.h>

void
vms_api_respond_json (SoupServerMessage *msg, guint status, JsonNode *node)
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

/* The body of every refusal: {"error": TEXT, "status": STATUS}. */
JsonNode *
vms_api_error_node (guint status, const gchar *text)
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

void
vms_api_respond_error (SoupServerMessage *msg, guint status, const gchar *fmt,
                       ...)
{
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  root = vms_api_error_node (status, text);
  vms_api_respond_json (msg, status, root);
}

/* Host name the client used (for URLs in answers), without the port. The
 * gate let only allowed Host values through. */
gchar *
vms_api_request_host (VmsApi *api, SoupServerMessage *msg)
{
  gchar *name = vms_host_header_name (soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Host"));
  return name ? name : g_strdup (api->sup->cfg->listen_host);
}

void
vms_api_method_not_allowed (SoupServerMessage *msg, const gchar *allow)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", allow);
  vms_api_respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                         "%s is not allowed here; use %s",
                         soup_server_message_get_method (msg), allow);
}

JsonNode *
vms_api_parse_body (SoupServerMessage *msg, GError **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const gchar *data = g_bytes_get_data (bytes, &len);

  return vms_api_body_parse (data, len, error);
}

gboolean
vms_api_member_int (JsonObject *o, const gchar *name, gint def, gint min,
                    gint max, gint *out, GError **error)
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

gboolean
vms_api_member_name (JsonObject *o, const gchar *name, const gchar *def,
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
