/* vmstream: minimal QMP client.
 *
 * QMP is line-delimited JSON over a stream socket: the server greets with
 * {"QMP": ...}, the client must send qmp_capabilities before any other
 * command; replies ({"return"}/{"error"}) and asynchronous events follow. */
#include "qmp.h"

#include "vmsnest.h"

#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <string.h>

struct _VmsQmp {
  GSocketConnection *conn;
  GDataInputStream *in;
  GOutputStream *out;
  GCancellable *cancel;
  gboolean connected;
};

typedef enum {
  QMP_LINE_OTHER, /* an event, or a line that is not a QMP message */
  QMP_LINE_GREETING,
  QMP_LINE_RETURN,
  QMP_LINE_ERROR,
} QmpLine;

/* What a QMP line is, parsed with json-glib (behind the nesting guard: QEMU
 * relays strings the guest chose in some events). For an error, @desc gets
 * QEMU's own sentence ("error": {"class", "desc"}). */
static QmpLine
qmp_classify (const gchar *line, gchar **desc)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *o;

  if (!vms_json_nesting_check (line, strlen (line), 32, NULL)
      || !json_parser_load_from_data (parser, line, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return QMP_LINE_OTHER;
  o = json_node_get_object (json_parser_get_root (parser));
  if (json_object_has_member (o, "QMP"))
    return QMP_LINE_GREETING;
  if (json_object_has_member (o, "return"))
    return QMP_LINE_RETURN;
  if (json_object_has_member (o, "error")) {
    JsonNode *e = json_object_get_member (o, "error");
    const gchar *d = NULL;
    if (JSON_NODE_HOLDS_OBJECT (e))
      d = json_object_get_string_member_with_default (json_node_get_object (e),
                                                      "desc", NULL);
    if (desc)
      *desc = g_strdup (d ? d : line);
    return QMP_LINE_ERROR;
  }
  return QMP_LINE_OTHER;
}

static gboolean
qmp_read_reply (VmsQmp *qmp, QmpLine want, GError **error)
{
  /* Skip asynchronous events until the line we wait for arrives. */
  for (gint i = 0; i < 64; i++) {
    gsize len = 0;
    g_autofree gchar *line
        = g_data_input_stream_read_line (qmp->in, &len, NULL, error);
    g_autofree gchar *desc = NULL;
    QmpLine kind;

    if (line == NULL) {
      if (error && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                     "QEMU closed the QMP connection during the handshake");
      return FALSE;
    }
    kind = qmp_classify (line, &desc);
    if (kind == want)
      return TRUE;
    if (kind == QMP_LINE_ERROR) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "QEMU refused a QMP command: %s", desc);
      return FALSE;
    }
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "no QMP reply during the handshake");
  return FALSE;
}

static void
qmp_drain_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  VmsQmp *qmp = user_data;
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree gchar *line = g_data_input_stream_read_line_finish (
      G_DATA_INPUT_STREAM (source), res, &len, &error);
  g_autofree gchar *desc = NULL;

  if (line == NULL) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      qmp->connected = FALSE;
    return;
  }
  if (qmp_classify (line, &desc) == QMP_LINE_ERROR)
    g_warning ("QMP command failed: %s", desc);
  g_data_input_stream_read_line_async (qmp->in, G_PRIORITY_DEFAULT, qmp->cancel,
                                       qmp_drain_cb, qmp);
}

static VmsQmp *qmp_connect (const gchar *socket_path, guint timeout_s,
                            gboolean drain, GError **error);

VmsQmp *
vms_qmp_connect (const gchar *socket_path, guint timeout_s, GError **error)
{
  return qmp_connect (socket_path, timeout_s, TRUE, error);
}

VmsQmp *
vms_qmp_connect_sync (const gchar *socket_path, guint timeout_s, GError **error)
{
  return qmp_connect (socket_path, timeout_s, FALSE, error);
}

gboolean
vms_qmp_execute_sync (VmsQmp *qmp, const gchar *command, GError **error)
{
  return vms_qmp_execute (qmp, command, NULL, error)
         && qmp_read_reply (qmp, QMP_LINE_RETURN, error);
}

static VmsQmp *
qmp_connect (const gchar *socket_path, guint timeout_s, gboolean drain,
             GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (socket_path);
  GSocketConnection *conn;
  VmsQmp *qmp;

  g_socket_client_set_timeout (client, timeout_s);
  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL,
                                  error);
  if (conn == NULL)
    return NULL;
  g_socket_set_timeout (g_socket_connection_get_socket (conn), timeout_s);

  qmp = g_new0 (VmsQmp, 1);
  qmp->conn = conn;
  qmp->in = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  g_data_input_stream_set_newline_type (qmp->in,
                                        G_DATA_STREAM_NEWLINE_TYPE_ANY);
  qmp->out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  qmp->cancel = g_cancellable_new ();
  qmp->connected = TRUE; /* for the handshake's own command */

  if (!qmp_read_reply (qmp, QMP_LINE_GREETING, error)
      || !vms_qmp_execute (qmp, "qmp_capabilities", NULL, error)
      || !qmp_read_reply (qmp, QMP_LINE_RETURN, error)) {
    vms_qmp_free (qmp);
    return NULL;
  }
  if (!drain)
    return qmp;
  /* From here on, never block on reads: drain asynchronously. */
  g_socket_set_timeout (g_socket_connection_get_socket (conn), 0);
  g_data_input_stream_read_line_async (qmp->in, G_PRIORITY_DEFAULT, qmp->cancel,
                                       qmp_drain_cb, qmp);
  return qmp;
}

gboolean
vms_qmp_execute (VmsQmp *qmp, const gchar *command, const gchar *arguments_json,
                 GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *line = NULL;

  if (!qmp->connected) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 "the QMP connection is closed");
    return FALSE;
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "execute");
  json_builder_add_string_value (b, command);
  if (arguments_json) {
    g_autoptr (JsonNode) args = json_from_string (arguments_json, error);
    if (args == NULL || !JSON_NODE_HOLDS_OBJECT (args)) {
      if (args)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "QMP arguments must be a JSON object");
      return FALSE;
    }
    json_builder_set_member_name (b, "arguments");
    json_builder_add_value (b, g_steal_pointer (&args));
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  line = g_strconcat (text, "\n", NULL);
  if (!g_output_stream_write_all (qmp->out, line, strlen (line), NULL, NULL,
                                  error)) {
    qmp->connected = FALSE;
    return FALSE;
  }
  return TRUE;
}

gboolean
vms_qmp_is_connected (VmsQmp *qmp)
{
  return qmp != NULL && qmp->connected;
}

void
vms_qmp_free (VmsQmp *qmp)
{
  if (qmp == NULL)
    return;
  g_cancellable_cancel (qmp->cancel);
  /* A pending async read holds a reference to the stream and runs its
   * callback (with CANCELLED) on the next main-loop iteration: the callback
   * must not touch @qmp then, which is why it only checks the error. */
  g_io_stream_close (G_IO_STREAM (qmp->conn), NULL, NULL);
  g_object_unref (qmp->in);
  g_object_unref (qmp->conn);
  g_object_unref (qmp->cancel);
  g_free (qmp);
}
