/* vmstream-supervisor: GET and POST /api/v1/sessions, DELETE of one; a
 * POST answers once the session runs (or failed), a DELETE once it is gone:
 * those answers wait, paused, as Waiters, answered from
 * VmsSupervisor.session_changed. */
#include "apiint.h"

#include <string.h>

typedef struct {
  VmsApi *api;
  SoupServerMessage *msg;
  VmsSession *s;
  gboolean is_delete;
  gchar *host;
  guint timeout_id;
  gboolean finished;
  gulong finished_id;
} Waiter;

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
  gboolean gone = vms_session_is_gone (s);

  w->api->waiters = g_list_remove (w->api->waiters, w);
  if (!w->finished) {
    if (w->is_delete) {
      g_autoptr (JsonNode) node = vms_session_to_json (s, w->host);
      json_object_set_string_member (json_node_get_object (node), "state",
                                     gone ? "stopped" : "stopping");
      vms_api_respond_json (w->msg, SOUP_STATUS_OK, node);
    } else if (vms_session_get_state (s) == VMS_STATE_FAILED) {
      const gchar *why = vms_session_get_last_error (s);
      vms_api_respond_error (
          w->msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
          "session \"%s\" (template \"%s\") failed to start: %s",
          vms_session_get_id (s), vms_session_get_template_name (s),
          why ? why : "unknown error");
      if (!vms_session_is_removed (s))
        vms_session_stop (s); /* do not keep a session that never ran */
    } else {
      g_autoptr (JsonNode) node = vms_session_to_json (s, w->host);
      vms_api_respond_json (w->msg, SOUP_STATUS_CREATED, node);
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

void
vms_api_add_waiter (VmsApi *api, SoupServerMessage *msg, VmsSession *s,
                    gboolean is_delete)
{
  Waiter *w = g_new0 (Waiter, 1);
  w->msg = g_object_ref (msg);
  w->s = s;
  vms_session_ref (s);
  w->is_delete = is_delete;
  w->host = vms_api_request_host (api, msg);
  w->finished_id
      = g_signal_connect (msg, "finished", G_CALLBACK (waiter_finished_cb), w);
  if (!is_delete)
    w->timeout_id = g_timeout_add_seconds ((guint)api->sup->cfg->start_timeout,
                                           waiter_timeout_cb, w);
  w->api = api;
  api->waiters = g_list_append (api->waiters, w);
  soup_server_message_pause (msg);
}

/* sessions.c calls it (VmsSupervisor.session_changed) after every change
 * of @s: answers the requests waiting for it. */
void
vms_api_session_changed (VmsSession *s, gpointer user_data)
{
  VmsApi *api = user_data;
  gboolean gone;
  GList *l;

  /* a waiter holds a reference on @s: answering the last one could free it
   * while this loop still reads it */
  vms_session_ref (s);
again:
  /* Answering may stop a session, which re-enters here and can free other
   * waiters: rescan from the start after each answer. */
  gone = vms_session_is_gone (s);
  for (l = api->waiters; l; l = l->next) {
    Waiter *w = l->data;
    if (w->s != s)
      continue;
    if (w->is_delete
            ? gone
            : (vms_session_get_state (s) != VMS_STATE_STARTING || gone)) {
      waiter_respond (w);
      goto again;
    }
  }
  vms_session_unref (s);
}

static gboolean
capture_check (const gchar *capture, VmsConfig *cfg, GError **error)
{
  if (!vms_capture_is_valid (capture)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"capture\" must be \"guest\" (the guest sends its screen) "
                 "or \"qemu\" (the host reads the VM's display from QEMU), "
                 "not \"%s\"",
                 capture);
    return FALSE;
  }
  if (g_str_equal (capture, "qemu") && g_strcmp0 (cfg->vm_backend, "qemu")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "\"capture\": \"qemu\" reads the screen from the QEMU this "
                 "supervisor starts, and this one runs no VM (VM backend "
                 "%s; see HELIX_VM_BACKEND)",
                 cfg->vm_backend);
    return FALSE;
  }
  return TRUE;
}

void
vms_api_sessions_list (VmsApi *api, SoupServerMessage *msg)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  JsonObject *o = json_object_new ();
  JsonArray *arr = json_array_new ();
  g_autofree gchar *host = vms_api_request_host (api, msg);
  GList *vals = g_hash_table_get_values (api->sup->sessions);

  for (GList *l = vals; l; l = l->next)
    json_array_add_element (arr, vms_session_to_json (l->data, host));
  g_list_free (vals);
  json_object_set_array_member (o, "sessions", arr);
  json_node_take_object (root, o);
  vms_api_respond_json (msg, SOUP_STATUS_OK, root);
}

void
vms_api_sessions_create (VmsApi *api, SoupServerMessage *msg)
{
  VmsConfig *cfg = api->sup->cfg;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = vms_api_parse_body (msg, &error);
  static const gchar *known[] = { "template", "width",   "height", "fps",
                                  "encoder",  "capture", "id",     NULL };
  JsonObject *o;
  const gchar *tmpl, *encoder, *id, *capture;
  gint width, height, fps;
  guint status = SOUP_STATUS_BAD_REQUEST;
  VmsSession *s;
  GList *members;

  if (root == NULL) {
    vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    vms_api_respond_error (
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
      vms_api_respond_error (
          msg, SOUP_STATUS_BAD_REQUEST,
          "unknown field \"%.64s\" (known: template, width, height, fps, "
          "encoder, capture, id)",
          (const gchar *)l->data);
      g_list_free (members);
      return;
    }
  }
  g_list_free (members);
  if (!vms_api_member_name (o, "capture", cfg->capture, &capture, &error)
      || !capture_check (capture, cfg, &error)
      /* qemu capture reads QEMU's display: its own host template */
      || !vms_api_member_name (o, "template",
                               g_str_equal (capture, "qemu")
                                   ? "host-qemu-display"
                                   : cfg->default_template,
                               &tmpl, &error)
      || !vms_api_member_name (o, "encoder", cfg->encoder, &encoder, &error)
      || !vms_api_member_name (o, "id", NULL, &id, &error)
      || !vms_api_member_int (o, "width", 1280, 16, 7680, &width, &error)
      || !vms_api_member_int (o, "height", 720, 16, 4320, &height, &error)
      || !vms_api_member_int (o, "fps", 30, 1, 240, &fps, &error)) {
    vms_api_respond_error (msg, SOUP_STATUS_BAD_REQUEST, "%s", error->message);
    return;
  }
  if (width % 2 || height % 2) {
    vms_api_respond_error (
        msg, SOUP_STATUS_BAD_REQUEST,
        "width and height must be even (H.264 4:2:0), not %dx%d", width,
        height);
    return;
  }
  if (api->sup->shutting_down) {
    vms_api_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                           "the supervisor is shutting down");
    return;
  }
  s = vms_session_create (api->sup, id, tmpl, width, height, fps, encoder,
                          capture, &status, &error);
  if (s == NULL) {
    vms_api_respond_error (msg, status, "%s", error->message);
    return;
  }
  vms_api_add_waiter (api, msg, s, FALSE);
  vms_api_session_changed (s, api); /* it may already have failed */
}

/* The supervisor stops: every held answer now, as it stands. */
void
vms_api_waiters_answer_all (VmsApi *api)
{
  while (api->waiters)
    waiter_respond (api->waiters->data);
}
