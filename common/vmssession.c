/* vmstream common: the session process <-> supervisor protocol (see
 * vmssession.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmssession.h"

#include "vmsnest.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* status lines are flat objects */
#define MAX_STATUS_DEPTH 2

gboolean
vms_session_exit_is_permanent (gint code)
{
  return code == VMS_SESSION_EXIT_USAGE || code == VMS_SESSION_EXIT_PARSE;
}

static const gchar *
kind_name (VmsStatusKind kind)
{
  switch (kind) {
    case VMS_STATUS_STATE:
      return "state";
    case VMS_STATUS_STATS:
      return "stats";
    case VMS_STATUS_ERROR:
      return "error";
    case VMS_STATUS_WARNING:
      return "warning";
    case VMS_STATUS_ANSWER:
      return "answer";
    case VMS_STATUS_SIZE:
      return "size";
    default:
      return NULL;
  }
}

static gchar *
string_line (const gchar *event, const gchar *key, const gchar *value)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event);
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value ? value : "");
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

gchar *
vms_status_line_state (const gchar *state)
{
  return string_line ("state", "state", state);
}

gchar *
vms_status_line_message (VmsStatusKind kind, const gchar *message)
{
  g_return_val_if_fail (kind == VMS_STATUS_ERROR || kind == VMS_STATUS_WARNING,
                        NULL);
  return string_line (kind_name (kind), "message", message);
}

gchar *
vms_status_line_stats (guint64 frames, guint64 bytes, gdouble fps, gint clients,
                       guint64 input_events)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  /* g_ascii_formatd: a decimal point whatever the locale */
  return g_strdup_printf (
      "{\"event\":\"stats\",\"frames\":%" G_GUINT64_FORMAT
      ",\"bytes\":%" G_GUINT64_FORMAT ",\"fps\":%s,\"clients\":%d,"
      "\"input_events\":%" G_GUINT64_FORMAT "}",
      frames, bytes,
      g_ascii_formatd (buf, sizeof buf, "%.2f", isfinite (fps) ? fps : 0),
      clients, input_events);
}

gchar *
vms_status_line_size (gint width, gint height)
{
  return g_strdup_printf ("{\"event\":\"size\",\"width\":%d,\"height\":%d}",
                          width, height);
}

gchar *
vms_status_line_answer (guint id, guint status, const gchar *type,
                        guint64 bytes, const gchar *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "answer");
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, id);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, status);
  if (type) {
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, type);
  }
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, (gint64)bytes);
  if (message) {
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, message);
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

static gboolean
bad (GError **error, const gchar *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "not a session status line: %s", what);
  return FALSE;
}

/* Like json_object_get_*_member_with_default(), but a member of another
 * type is an error instead of a critical. */
static gboolean
get_string (JsonObject *o, const gchar *name, const gchar **out)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return FALSE;
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
get_number (JsonObject *o, const gchar *name, gdouble *out)
{
  JsonNode *n = json_object_get_member (o, name);
  GType t;

  if (n == NULL)
    return TRUE; /* keeps the default */
  t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_NONE;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return FALSE;
  *out = json_node_get_double (n);
  return isfinite (*out);
}

static gboolean
get_count (JsonObject *o, const gchar *name, guint64 *out)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64
      || json_node_get_int (n) < 0)
    return FALSE;
  *out = (guint64)json_node_get_int (n);
  return TRUE;
}

/* The JSON object of one session line (status or request), behind the
 * length limit and the nesting guard; @kind names the line in errors.
 * Returns the parser that owns *@o, or NULL. */
static JsonParser *
parse_line_object (const gchar *line, gsize n, const gchar *kind,
                   JsonObject **o, GError **error)
{
  JsonParser *p;

  if (n == 0 || n > VMS_STATUS_MAX_LINE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "not a session %s line: empty or too long", kind);
    return NULL;
  }
  if (!vms_json_nesting_check (line, n, MAX_STATUS_DEPTH, error))
    return NULL;
  p = json_parser_new_immutable ();
  if (!json_parser_load_from_data (p, line, (gssize)n, error)) {
    g_object_unref (p);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "not a session %s line: not a JSON object", kind);
    g_object_unref (p);
    return NULL;
  }
  *o = json_node_get_object (json_parser_get_root (p));
  return p;
}

gboolean
vms_status_parse (const gchar *line, gssize len, VmsStatus *out, GError **error)
{
  g_autoptr (JsonParser) p = NULL;
  JsonObject *o;
  const gchar *ev = NULL, *text = NULL;
  VmsStatus st = { .clients = -1 };
  gdouble clients = -1;
  gsize n = len < 0 ? strlen (line) : (gsize)len;

  memset (out, 0, sizeof *out);
  p = parse_line_object (line, n, "status", &o, error);
  if (p == NULL)
    return FALSE;
  if (!get_string (o, "event", &ev))
    return bad (error, "no \"event\" string");
  if (strcmp (ev, "state") == 0) {
    st.kind = VMS_STATUS_STATE;
    if (!get_string (o, "state", &text))
      return bad (error, "a state event without a \"state\" string");
  } else if (strcmp (ev, "error") == 0 || strcmp (ev, "warning") == 0) {
    st.kind = ev[0] == 'e' ? VMS_STATUS_ERROR : VMS_STATUS_WARNING;
    if (!get_string (o, "message", &text))
      text = st.kind == VMS_STATUS_ERROR ? "error" : "warning";
  } else if (strcmp (ev, "stats") == 0) {
    st.kind = VMS_STATUS_STATS;
    if (!get_count (o, "frames", &st.frames)
        || !get_count (o, "bytes", &st.bytes)
        || !get_count (o, "input_events", &st.input_events)
        || !get_number (o, "fps", &st.fps)
        || !get_number (o, "clients", &clients) || clients < -1
        || clients > G_MAXINT)
      return bad (error, "a stats field of the wrong type");
    st.clients = (gint)clients;
  } else if (strcmp (ev, "answer") == 0) {
    guint64 id = 0, status = 0;
    const gchar *type = NULL;
    st.kind = VMS_STATUS_ANSWER;
    if (!get_count (o, "id", &id) || id == 0 || id > G_MAXUINT
        || !get_count (o, "status", &status) || status < 100 || status > 599
        || !get_count (o, "bytes", &st.bytes)
        || st.bytes > VMS_ANSWER_MAX_BYTES)
      return bad (error, "an answer without an id, a status or a byte count");
    if (json_object_has_member (o, "type") && !get_string (o, "type", &type))
      return bad (error, "an answer whose type is not a string");
    if (json_object_has_member (o, "message")
        && !get_string (o, "message", &text))
      return bad (error, "an answer whose message is not a string");
    st.id = (guint)id;
    st.status = (guint)status;
    st.type = g_strdup (type);
  } else if (strcmp (ev, "size") == 0) {
    guint64 w = 0, h = 0;
    st.kind = VMS_STATUS_SIZE;
    if (!get_count (o, "width", &w) || !get_count (o, "height", &h) || w == 0
        || h == 0 || w > G_MAXINT || h > G_MAXINT)
      return bad (error, "a size event without a width and a height");
    st.width = (gint)w;
    st.height = (gint)h;
  } else {
    return bad (error, "an unknown event");
  }
  st.text = g_strdup (text);
  *out = st;
  return TRUE;
}

void
vms_status_clear (VmsStatus *status)
{
  g_clear_pointer (&status->text, g_free);
  g_clear_pointer (&status->type, g_free);
}

/* --- requests ----------------------------------------------------------- */

gboolean
vms_request_check (const VmsRequest *req, GError **error)
{
  if (req->kind == VMS_REQUEST_SCREENSHOT) {
    if (req->width < 0 || req->width > VMS_SCREENSHOT_MAX_WIDTH) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the screenshot width must be 1 to %d pixels (%d asked)",
                   VMS_SCREENSHOT_MAX_WIDTH, req->width);
      return FALSE;
    }
    if (req->format != VMS_IMAGE_PNG && req->format != VMS_IMAGE_JPEG) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the screenshot format must be png or jpeg");
      return FALSE;
    }
    return TRUE;
  }
  if (req->kind == VMS_REQUEST_RESIZE) {
    if (req->width < VMS_RESIZE_MIN_WIDTH || req->width > VMS_RESIZE_MAX_WIDTH
        || req->height < VMS_RESIZE_MIN_HEIGHT
        || req->height > VMS_RESIZE_MAX_HEIGHT) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the desktop size must be from %dx%d to %dx%d, not %dx%d",
                   VMS_RESIZE_MIN_WIDTH, VMS_RESIZE_MIN_HEIGHT,
                   VMS_RESIZE_MAX_WIDTH, VMS_RESIZE_MAX_HEIGHT, req->width,
                   req->height);
      return FALSE;
    }
    if (req->width % 2 || req->height % 2) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "width and height must be even (H.264 4:2:0), not %dx%d",
                   req->width, req->height);
      return FALSE;
    }
    return TRUE;
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "an unknown request");
  return FALSE;
}

gboolean
vms_screenshot_query_parse (const gchar *format, const gchar *width,
                            VmsRequest *out, GError **error)
{
  VmsRequest req = { .kind = VMS_REQUEST_SCREENSHOT };
  guint64 w = 0;

  memset (out, 0, sizeof *out);
  if (format == NULL || strcmp (format, "png") == 0) {
    req.format = VMS_IMAGE_PNG;
  } else if (strcmp (format, "jpeg") == 0 || strcmp (format, "jpg") == 0) {
    req.format = VMS_IMAGE_JPEG;
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "format must be png or jpeg");
    return FALSE;
  }
  if (width != NULL
      && (!g_ascii_string_to_unsigned (width, 10, 1, VMS_SCREENSHOT_MAX_WIDTH,
                                       &w, NULL))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "width must be a whole number of pixels from 1 to %d",
                 VMS_SCREENSHOT_MAX_WIDTH);
    return FALSE;
  }
  req.width = (gint)w;
  *out = req;
  return vms_request_check (out, error);
}

gboolean
vms_resize_message_parse (const gchar *json, gssize len, VmsRequest *out,
                          GError **error)
{
  g_autoptr (JsonParser) p = NULL;
  JsonObject *o;
  const gchar *type = NULL;
  gsize n = len < 0 ? strlen (json) : (gsize)len;
  VmsRequest req = { .kind = VMS_REQUEST_RESIZE };
  JsonNode *w, *h;

  memset (out, 0, sizeof *out);
  /* cheap first: input messages are far more frequent */
  if (n == 0 || n > VMS_STATUS_MAX_LINE || !g_strstr_len (json, n, "resize")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "not a resize");
    return FALSE;
  }
  if (!vms_json_nesting_check (json, n, MAX_STATUS_DEPTH, error))
    return FALSE;
  p = json_parser_new_immutable ();
  if (!json_parser_load_from_data (p, json, (gssize)n, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "not a resize");
    return FALSE;
  }
  o = json_node_get_object (json_parser_get_root (p));
  if (!get_string (o, "type", &type) || strcmp (type, "resize") != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "not a resize");
    return FALSE;
  }
  w = json_object_get_member (o, "width");
  h = json_object_get_member (o, "height");
  if (json_object_get_size (o) != 3 || !w || !h || !JSON_NODE_HOLDS_VALUE (w)
      || !JSON_NODE_HOLDS_VALUE (h)
      || json_node_get_value_type (w) != G_TYPE_INT64
      || json_node_get_value_type (h) != G_TYPE_INT64
      || json_node_get_int (w) < 0 || json_node_get_int (w) > G_MAXINT
      || json_node_get_int (h) < 0 || json_node_get_int (h) > G_MAXINT) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "a resize message has exactly a whole \"width\" and "
                 "\"height\"");
    return FALSE;
  }
  req.width = (gint)json_node_get_int (w);
  req.height = (gint)json_node_get_int (h);
  if (!vms_request_check (&req, error))
    return FALSE;
  *out = req;
  return TRUE;
}

const gchar *
vms_image_format_type (VmsImageFormat format)
{
  return format == VMS_IMAGE_JPEG ? "image/jpeg" : "image/png";
}

#define REQUEST_PREFIX "{\"request\":"

gchar *
vms_request_line (const VmsRequest *req)
{
  if (req->kind == VMS_REQUEST_SCREENSHOT)
    return g_strdup_printf (
        REQUEST_PREFIX "\"screenshot\",\"id\":%u,"
                       "\"format\":\"%s\",\"width\":%d}",
        req->id, req->format == VMS_IMAGE_JPEG ? "jpeg" : "png", req->width);
  return g_strdup_printf (REQUEST_PREFIX
                          "\"resize\",\"id\":%u,\"width\":%d,\"height\":%d}",
                          req->id, req->width, req->height);
}

gboolean
vms_line_is_request (const gchar *line, gsize len)
{
  /* input lines (vms_input_line_build) start with '[' or {"type": */
  return len >= strlen (REQUEST_PREFIX)
         && memcmp (line, REQUEST_PREFIX, strlen (REQUEST_PREFIX)) == 0;
}

static gboolean
bad_request (GError **error, const gchar *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "not a session request line: %s", what);
  return FALSE;
}

gboolean
vms_request_parse (const gchar *line, gssize len, VmsRequest *out,
                   GError **error)
{
  g_autoptr (JsonParser) p = NULL;
  JsonObject *o;
  const gchar *what = NULL, *format = "png";
  guint64 id = 0, width = 0, height = 0;
  VmsRequest req = { 0 };
  gsize n = len < 0 ? strlen (line) : (gsize)len;

  memset (out, 0, sizeof *out);
  p = parse_line_object (line, n, "request", &o, error);
  if (p == NULL)
    return FALSE;
  if (!get_string (o, "request", &what))
    return bad_request (error, "no \"request\" string");
  if (!get_count (o, "id", &id) || id == 0 || id > G_MAXUINT
      || !get_count (o, "width", &width) || width > G_MAXINT
      || !get_count (o, "height", &height) || height > G_MAXINT)
    return bad_request (error, "an id, width or height of the wrong type");
  if (json_object_has_member (o, "format")
      && !get_string (o, "format", &format))
    return bad_request (error, "a format that is not a string");
  req.id = (guint)id;
  req.width = (gint)width;
  req.height = (gint)height;
  if (strcmp (what, "screenshot") == 0) {
    req.kind = VMS_REQUEST_SCREENSHOT;
    if (strcmp (format, "png") == 0)
      req.format = VMS_IMAGE_PNG;
    else if (strcmp (format, "jpeg") == 0)
      req.format = VMS_IMAGE_JPEG;
    else
      return bad_request (error, "an unknown image format");
  } else if (strcmp (what, "resize") == 0) {
    req.kind = VMS_REQUEST_RESIZE;
  } else {
    return bad_request (error, "an unknown request");
  }
  if (!vms_request_check (&req, error))
    return FALSE;
  *out = req;
  return TRUE;
}
