/* vmstream common: the input contract (see vmsinput.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsinput.h"

#include "vmsnest.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static gboolean bad (GError **error, const gchar *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
bad (GError **error, const gchar *fmt, ...)
{
  va_list ap;

  if (error == NULL)
    return FALSE;
  va_start (ap, fmt);
  *error = g_error_new_valist (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, fmt, ap);
  va_end (ap);
  return FALSE;
}

/* A member of another type gives NULL, never a critical. */
static const gchar *
get_string (JsonObject *obj, const gchar *name)
{
  JsonNode *n = json_object_get_member (obj, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gboolean
get_number (JsonObject *obj, const gchar *name, gdouble *out, GError **error)
{
  JsonNode *n = json_object_get_member (obj, name);
  GType t;

  t = n && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n)
                                     : G_TYPE_NONE;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return bad (error, "field \"%s\" missing or not a number", name);
  *out = json_node_get_double (n);
  if (!isfinite (*out))
    return bad (error, "field \"%s\" is not a finite number", name);
  return TRUE;
}

static gboolean
get_coord (JsonObject *obj, const gchar *name, gdouble *out, GError **error)
{
  if (!get_number (obj, name, out, error))
    return FALSE;
  *out = CLAMP (*out, 0.0, (gdouble)VMS_INPUT_MAX_COORD);
  return TRUE;
}

static gboolean
get_scroll (JsonObject *obj, const gchar *name, gdouble *out, GError **error)
{
  if (!get_number (obj, name, out, error))
    return FALSE;
  *out = CLAMP (*out, -(gdouble)VMS_INPUT_MAX_SCROLL,
                (gdouble)VMS_INPUT_MAX_SCROLL);
  return TRUE;
}

static gboolean
get_button (JsonObject *obj, guint *out, GError **error)
{
  gdouble b;

  if (!get_number (obj, "button", &b, error))
    return FALSE;
  if (b != floor (b) || b < 0 || b > VMS_INPUT_MAX_BUTTON)
    return bad (error,
                "field \"button\" is %g: DOM MouseEvent.button 0..%d "
                "(left, middle, right, back, forward) expected",
                b, VMS_INPUT_MAX_BUTTON);
  *out = (guint)b;
  return TRUE;
}

static VmsInputAction
action_of (const gchar *action)
{
  if (action == NULL)
    return VMS_INPUT_ACTION_NONE;
  if (strcmp (action, "move") == 0)
    return VMS_INPUT_ACTION_MOVE;
  if (strcmp (action, "down") == 0)
    return VMS_INPUT_ACTION_DOWN;
  if (strcmp (action, "up") == 0)
    return VMS_INPUT_ACTION_UP;
  return VMS_INPUT_ACTION_NONE;
}

static gboolean
event_from_node (JsonNode *node, VmsInputEvent *out, GError **error)
{
  JsonObject *obj;
  const gchar *type, *action, *code;
  VmsInputEvent ev = { 0 };

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return bad (error, "an input event must be a JSON object");
  obj = json_node_get_object (node);
  type = get_string (obj, "type");
  if (type == NULL)
    return bad (error, "missing string field \"type\"");
  action = get_string (obj, "action");

  if (strcmp (type, "key") == 0) {
    ev.type = VMS_INPUT_KEY;
    ev.action = action_of (action);
    if (ev.action != VMS_INPUT_ACTION_DOWN && ev.action != VMS_INPUT_ACTION_UP)
      return bad (error, "key action must be \"down\" or \"up\", not \"%.16s\"",
                  action ? action : "(missing)");
    code = get_string (obj, "code");
    if (code == NULL)
      return bad (error, "missing string field \"code\"");
    /* the table holds ASCII identifiers only: text that is no identifier
     * (invalid UTF-8, controls) never reaches a message below */
    ev.key = vms_keymap_lookup (code);
    if (ev.key == NULL) {
      gboolean printable = strlen (code) <= 64;
      for (const gchar *c = code; printable && *c; c++)
        printable = g_ascii_isalnum (*c) || *c == '_';
      return bad (error,
                  "unknown key code \"%s\" (use KeyboardEvent.code names "
                  "such as KeyA, Digit1, Enter, ShiftLeft, ArrowUp)",
                  printable ? code : "?");
    }
  } else if (strcmp (type, "pointer") == 0) {
    ev.type = VMS_INPUT_POINTER;
    ev.action = action_of (action);
    if (ev.action == VMS_INPUT_ACTION_NONE)
      return bad (error,
                  "pointer action must be \"move\", \"down\" or \"up\", not "
                  "\"%.16s\"",
                  action ? action : "(missing)");
    if (!get_coord (obj, "x", &ev.x, error)
        || !get_coord (obj, "y", &ev.y, error))
      return FALSE;
    if (ev.action != VMS_INPUT_ACTION_MOVE
        && !get_button (obj, &ev.button, error))
      return FALSE;
  } else if (strcmp (type, "wheel") == 0) {
    ev.type = VMS_INPUT_WHEEL;
    if (!get_coord (obj, "x", &ev.x, error)
        || !get_coord (obj, "y", &ev.y, error)
        || !get_scroll (obj, "dx", &ev.dx, error)
        || !get_scroll (obj, "dy", &ev.dy, error))
      return FALSE;
  } else {
    gboolean printable = strlen (type) <= 32;
    for (const gchar *c = type; printable && *c; c++)
      printable = g_ascii_isprint (*c) && *c != '"' && *c != '\\';
    return bad (error,
                "unknown type \"%s\" (expected \"key\", \"pointer\" or "
                "\"wheel\")",
                printable ? type : "?");
  }
  *out = ev;
  return TRUE;
}

/* The guard, then json-glib. NULL with @error set. */
static JsonParser *
parse_text (const gchar *text, gsize len, gsize max_len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;

  if (len == 0) {
    bad (error, "the input is empty: one input event expected");
    return NULL;
  }
  if (len > max_len) {
    bad (error,
         "the input is %" G_GSIZE_FORMAT " bytes, more than %" G_GSIZE_FORMAT,
         len, max_len);
    return NULL;
  }
  if (!vms_json_nesting_check (text, len, VMS_INPUT_MAX_DEPTH, error)) {
    g_prefix_error (error, "input refused: ");
    return NULL;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize)len, error)) {
    g_prefix_error (error, "input is not valid JSON: ");
    return NULL;
  }
  if (json_parser_get_root (parser) == NULL) {
    bad (error, "the input holds no JSON value");
    return NULL;
  }
  return g_steal_pointer (&parser);
}

gboolean
vms_input_event_parse (const gchar *text, gssize len, VmsInputEvent *out,
                       GError **error)
{
  g_autoptr (JsonParser) parser = NULL;

  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  parser = parse_text (text, len < 0 ? strlen (text) : (gsize)len,
                       VMS_INPUT_MAX_MESSAGE, error);
  if (parser == NULL)
    return FALSE;
  return event_from_node (json_parser_get_root (parser), out, error);
}

GArray *
vms_input_line_parse (const gchar *text, gssize len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GArray) events = NULL;
  JsonNode *root;
  VmsInputEvent ev;

  g_return_val_if_fail (text != NULL || len == 0, NULL);
  parser = parse_text (text, len < 0 ? strlen (text) : (gsize)len,
                       VMS_INPUT_MAX_LINE, error);
  if (parser == NULL)
    return NULL;
  root = json_parser_get_root (parser);
  events = g_array_new (FALSE, FALSE, sizeof (VmsInputEvent));
  if (JSON_NODE_HOLDS_ARRAY (root)) {
    JsonArray *arr = json_node_get_array (root);
    guint n = json_array_get_length (arr);

    if (n == 0 || n > VMS_INPUT_MAX_EVENTS) {
      bad (error, "an input array must hold 1 to %d events, not %u",
           VMS_INPUT_MAX_EVENTS, n);
      return NULL;
    }
    for (guint i = 0; i < n; i++) {
      if (!event_from_node (json_array_get_element (arr, i), &ev, error)) {
        g_prefix_error (error, "event %u: ", i);
        return NULL;
      }
      g_array_append_val (events, ev);
    }
  } else {
    if (!event_from_node (root, &ev, error)) {
      g_prefix_error (error, "event 0: ");
      return NULL;
    }
    g_array_append_val (events, ev);
  }
  return g_steal_pointer (&events);
}

static gboolean
coord_ok (gdouble v)
{
  return isfinite (v) && v >= 0 && v <= VMS_INPUT_MAX_COORD;
}

gboolean
vms_input_event_is_valid (const VmsInputEvent *ev)
{
  if (ev == NULL)
    return FALSE;
  switch (ev->type) {
    case VMS_INPUT_KEY:
      return (ev->action == VMS_INPUT_ACTION_DOWN
              || ev->action == VMS_INPUT_ACTION_UP)
             && ev->key != NULL && vms_keymap_lookup (ev->key->code) == ev->key;
    case VMS_INPUT_POINTER:
      return (ev->action == VMS_INPUT_ACTION_MOVE
              || ev->action == VMS_INPUT_ACTION_DOWN
              || ev->action == VMS_INPUT_ACTION_UP)
             && coord_ok (ev->x) && coord_ok (ev->y)
             && ev->button <= VMS_INPUT_MAX_BUTTON;
    case VMS_INPUT_WHEEL:
      return coord_ok (ev->x) && coord_ok (ev->y) && isfinite (ev->dx)
             && isfinite (ev->dy) && fabs (ev->dx) <= VMS_INPUT_MAX_SCROLL
             && fabs (ev->dy) <= VMS_INPUT_MAX_SCROLL;
    default:
      return FALSE;
  }
}

const gchar *
vms_input_type_name (VmsInputType type)
{
  switch (type) {
    case VMS_INPUT_KEY:
      return "key";
    case VMS_INPUT_POINTER:
      return "pointer";
    case VMS_INPUT_WHEEL:
      return "wheel";
    default:
      return "?";
  }
}

const gchar *
vms_input_action_name (VmsInputAction action)
{
  switch (action) {
    case VMS_INPUT_ACTION_MOVE:
      return "move";
    case VMS_INPUT_ACTION_DOWN:
      return "down";
    case VMS_INPUT_ACTION_UP:
      return "up";
    default:
      return "";
  }
}

/* Integers as integers, anything else with enough digits to read back the
 * same double. */
static void
append_number (GString *out, const gchar *name, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (v == floor (v) && fabs (v) < 1e15)
    g_string_append_printf (out, ",\"%s\":%" G_GINT64_FORMAT, name, (gint64)v);
  else
    g_string_append_printf (out, ",\"%s\":%s", name,
                            g_ascii_dtostr (buf, sizeof buf, v));
}

void
vms_input_event_append_json (const VmsInputEvent *ev, GString *out)
{
  g_return_if_fail (vms_input_event_is_valid (ev));
  g_string_append_printf (out, "{\"type\":\"%s\"",
                          vms_input_type_name (ev->type));
  if (ev->action != VMS_INPUT_ACTION_NONE)
    g_string_append_printf (out, ",\"action\":\"%s\"",
                            vms_input_action_name (ev->action));
  switch (ev->type) {
    case VMS_INPUT_KEY:
      /* keymap codes are ASCII identifiers: nothing to escape */
      g_string_append_printf (out, ",\"code\":\"%s\"", ev->key->code);
      break;
    case VMS_INPUT_POINTER:
      append_number (out, "x", ev->x);
      append_number (out, "y", ev->y);
      if (ev->action != VMS_INPUT_ACTION_MOVE)
        g_string_append_printf (out, ",\"button\":%u", ev->button);
      break;
    case VMS_INPUT_WHEEL:
      append_number (out, "x", ev->x);
      append_number (out, "y", ev->y);
      append_number (out, "dx", ev->dx);
      append_number (out, "dy", ev->dy);
      break;
    default:
      break;
  }
  g_string_append_c (out, '}');
}

gchar *
vms_input_line_build (const VmsInputEvent *events, guint n)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; i < n; i++) {
    if (i > 0)
      g_string_append_c (out, ',');
    vms_input_event_append_json (&events[i], out);
  }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}
