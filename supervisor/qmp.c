/* vmstream: minimal QMP client.
 *
 * QMP is line-delimited JSON over a stream socket: the server greets with
 * {"QMP": ...}, the client must send qmp_capabilities before any other
 * command; replies ({"return"}/{"error"}) and asynchronous events follow. */
#include "qmp.h"

#include <gio/gunixsocketaddress.h>
#include <string.h>

struct _VmsQmp {
  GSocketConnection *conn;
  GDataInputStream *in;
  GOutputStream *out;
  GCancellable *cancel;
  gboolean connected;
};

static gboolean
qmp_read_reply (VmsQmp *qmp, const gchar *want_key, GError **error)
{
  /* Skip asynchronous events until a line with @want_key arrives. */
  for (gint i = 0; i < 64; i++) {
    gsize len = 0;
    g_autofree gchar *line
        = g_data_input_stream_read_line (qmp->in, &len, NULL, error);
    if (line == NULL) {
      if (error && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                     "QEMU closed the QMP connection during the handshake");
      return FALSE;
    }
    if (strstr (line, want_key) != NULL)
      return TRUE;
    if (strstr (line, "\"error\"") != NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "QEMU refused the QMP handshake: %s", line);
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

  if (line == NULL) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      qmp->connected = FALSE;
    return;
  }
  if (strstr (line, "\"error\"") != NULL)
    g_warning ("QMP command failed: %s", line);
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
         && qmp_read_reply (qmp, "\"return\"", error);
}

static VmsQmp *
qmp_connect (const gchar *socket_path, guint timeout_s, gboolean drain,
             GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (socket_path);
  GSocketConnection *conn;
  VmsQmp *qmp;
  const gchar *caps = "{\"execute\":\"qmp_capabilities\"}\n";

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

  if (!qmp_read_reply (qmp, "\"QMP\"", error)
      || !g_output_stream_write_all (qmp->out, caps, strlen (caps), NULL, NULL,
                                     error)
      || !qmp_read_reply (qmp, "\"return\"", error)) {
    vms_qmp_free (qmp);
    return NULL;
  }
  qmp->connected = TRUE;
  if (!drain)
    return qmp;
  /* From here on, never block on reads: drain asynchronously. */
  g_socket_set_timeout (g_socket_connection_get_socket (conn), 0);
  qmp->connected = TRUE;
  g_data_input_stream_read_line_async (qmp->in, G_PRIORITY_DEFAULT, qmp->cancel,
                                       qmp_drain_cb, qmp);
  return qmp;
}

gboolean
vms_qmp_execute (VmsQmp *qmp, const gchar *command, const gchar *arguments_json,
                 GError **error)
{
  g_autofree gchar *line = NULL;

  if (!qmp->connected) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 "the QMP connection is closed");
    return FALSE;
  }
  if (arguments_json)
    line = g_strdup_printf ("{\"execute\":\"%s\",\"arguments\":%s}\n", command,
                            arguments_json);
  else
    line = g_strdup_printf ("{\"execute\":\"%s\"}\n", command);
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
