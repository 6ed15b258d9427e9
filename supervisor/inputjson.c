/* vmstream: validation of input events.
 *
 *   {"type":"key","action":"down"|"up","code":"KeyA"}
 *   {"type":"pointer","action":"move"|"down"|"up","x":10,"y":20,"button":0}
 *   {"type":"wheel","x":10,"y":20,"dx":0,"dy":120}
 *
 * x and y are video pixel coordinates; button is DOM MouseEvent.button. */
#include "inputjson.h"

#include "keymap.h"

#include <string.h>

#define MAX_EVENTS 1024
#define MAX_COORD 16384

static gboolean
get_int (JsonObject *obj, const gchar *name, gboolean required, gint64 min,
         gint64 max, guint index, GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);
  gint64 v;

  if (n == NULL) {
    if (!required)
      return TRUE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "event %u: missing integer field \"%s\"", index, name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_INT64) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "event %u: field \"%s\" must be an integer", index, name);
    return FALSE;
  }
  v = json_node_get_int (n);
  if (v < min || v > max) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "event %u: field \"%s\" is %" G_GINT64_FORMAT
                 ", outside %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
                 index, name, v, min, max);
    return FALSE;
  }
  return TRUE;
}

static gboolean
get_number (JsonObject *obj, const gchar *name, guint index, GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);
  GType t;

  if (n == NULL)
    return TRUE; /* dx/dy default to 0 */
  t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_NONE;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "event %u: field \"%s\" must be a number", index, name);
    return FALSE;
  }
  return TRUE;
}

static const gchar *
get_string (JsonObject *obj, const gchar *name, guint index, GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "event %u: missing string field \"%s\"", index, name);
    return NULL;
  }
  return json_node_get_string (n);
}

static gboolean
validate_one (JsonNode *node, guint index, GError **error)
{
  JsonObject *obj;
  const gchar *type, *action;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "event %u is not a JSON object", index);
    return FALSE;
  }
  obj = json_node_get_object (node);
  type = get_string (obj, "type", index, error);
  if (type == NULL)
    return FALSE;

  if (strcmp (type, "key") == 0) {
    const gchar *code;
    action = get_string (obj, "action", index, error);
    if (action == NULL)
      return FALSE;
    if (strcmp (action, "down") != 0 && strcmp (action, "up") != 0) {
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "event %u: key action must be \"down\" or \"up\", not \"%s\"", index,
          action);
      return FALSE;
    }
    code = get_string (obj, "code", index, error);
    if (code == NULL)
      return FALSE;
    if (!vms_keymap_is_known (code)) {
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "event %u: unknown key code \"%.64s\" (use KeyboardEvent.code "
          "names such as KeyA, Digit1, Enter, ShiftLeft, ArrowUp)",
          index, code);
      return FALSE;
    }
    return TRUE;
  }
  if (strcmp (type, "pointer") == 0) {
    gboolean is_move;
    action = get_string (obj, "action", index, error);
    if (action == NULL)
      return FALSE;
    is_move = strcmp (action, "move") == 0;
    if (!is_move && strcmp (action, "down") != 0
        && strcmp (action, "up") != 0) {
      g_set_error (
          error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "event %u: pointer action must be \"move\", \"down\" or \"up\", "
          "not \"%s\"",
          index, action);
      return FALSE;
    }
    return get_int (obj, "x", TRUE, 0, MAX_COORD, index, error)
           && get_int (obj, "y", TRUE, 0, MAX_COORD, index, error)
           && get_int (obj, "button", !is_move, 0, 4, index, error);
  }
  if (strcmp (type, "wheel") == 0) {
    return get_int (obj, "x", TRUE, 0, MAX_COORD, index, error)
           && get_int (obj, "y", TRUE, 0, MAX_COORD, index, error)
           && get_number (obj, "dx", index, error)
           && get_number (obj, "dy", index, error);
  }
  g_set_error (
      error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
      "event %u: unknown type \"%.32s\" (expected \"key\", \"pointer\" or "
      "\"wheel\")",
      index, type);
  return FALSE;
}

gint
vms_input_validate (JsonNode *node, GError **error)
{
  if (node == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the body is empty: send one input event object or an array");
    return -1;
  }
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *arr = json_node_get_array (node);
    guint n = json_array_get_length (arr);
    if (n == 0 || n > MAX_EVENTS) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "an input array must hold 1 to %d events, not %u",
                   MAX_EVENTS, n);
      return -1;
    }
    for (guint i = 0; i < n; i++) {
      if (!validate_one (json_array_get_element (arr, i), i, error))
        return -1;
    }
    return (gint)n;
  }
  return validate_one (node, 0, error) ? 1 : -1;
}
