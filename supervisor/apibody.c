/* vmstream-supervisor: the API's request bodies (see apibody.h). */
#include "apibody.h"

#include "vmsnest.h"

JsonNode *
vms_api_body_parse (const gchar *data, gsize len, GError **error)
{
  g_autoptr (JsonParser) p = NULL;
  JsonNode *root;

  if (len == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the request body is empty: JSON expected");
    return NULL;
  }
  if (len > VMS_API_MAX_BODY) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the request body is larger than %d bytes", VMS_API_MAX_BODY);
    return NULL;
  }
  if (!vms_json_nesting_check (data, len, VMS_API_MAX_JSON_DEPTH, error)) {
    g_prefix_error (error, "the body is refused: ");
    return NULL;
  }
  p = json_parser_new ();
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
