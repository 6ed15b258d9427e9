/* vms-wsclient: WebSocket client for the supervisor tests and benchmark.
 *
 * Connects to a wsh264sink stream URL (retrying until --timeout), counts the
 * binary access-unit messages and, after the first one, sends the --send
 * text messages (input events). Prints, with times in ms since --t0-us (a
 * g_get_real_time() value; default: program start):
 *   connected <ms>
 *   init <json>
 *   first-frame <ms>
 *   sent <n>
 *   frames <n>
 *   closed <code> <reason>   (the close frame, as the server sent it)
 *   gaps <n>   frames whose sequence number did not follow the previous one
 * Exit 0 when --frames binary messages arrived, 1 on timeout/error. */
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  GMainLoop *loop;
  SoupSession *session;
  SoupWebsocketConnection *ws;
  gchar *url;
  gchar **send;
  gint want_frames;
  gint frames;
  gint gaps; /* frames whose sequence number did not follow the last one */
  gboolean have_seq;
  guint32 last_seq;
  gint64 t0;
  gint64 deadline;
  gint exit_code;
  gboolean sent;
} Client;

static gdouble
ms_since_t0 (Client *c)
{
  return (g_get_real_time () - c->t0) / 1000.0;
}

static void connect_now (Client *c);

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message,
            gpointer user_data)
{
  Client *c = user_data;
  gsize len;
  const gchar *data = g_bytes_get_data (message, &len);

  if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    printf ("init %.*s\n", (int)MIN (len, 400), data);
    fflush (stdout);
    return;
  }
  if (len >= 8) {
    guint32 seq;
    memcpy (&seq, data + 4, 4);
    seq = GUINT32_FROM_LE (seq);
    if (c->have_seq && seq != c->last_seq + 1)
      c->gaps++;
    c->have_seq = TRUE;
    c->last_seq = seq;
  }
  if (++c->frames == 1) {
    printf ("first-frame %.1f\n", ms_since_t0 (c));
    fflush (stdout);
  }
  if (!c->sent && c->send) {
    guint n = 0;
    for (gchar **m = c->send; *m; m++, n++)
      soup_websocket_connection_send_text (ws, *m);
    c->sent = TRUE;
    printf ("sent %u\n", n);
    fflush (stdout);
  }
  if (c->frames >= c->want_frames) {
    c->exit_code = 0;
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  Client *c = user_data;
  const gchar *reason = soup_websocket_connection_get_close_data (ws);

  printf ("closed %u %s\n", soup_websocket_connection_get_close_code (ws),
          reason ? reason : "");
  fflush (stdout);
  g_main_loop_quit (c->loop);
}

static gboolean
retry_cb (gpointer user_data)
{
  connect_now (user_data);
  return G_SOURCE_REMOVE;
}

static void
connected_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Client *c = user_data;
  g_autoptr (GError) error = NULL;

  c->ws
      = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &error);
  if (c->ws == NULL) {
    if (g_get_real_time () < c->deadline) {
      g_timeout_add (20, retry_cb, c);
      return;
    }
    fprintf (stderr, "vms-wsclient: cannot connect to %s: %s\n", c->url,
             error->message);
    g_main_loop_quit (c->loop);
    return;
  }
  printf ("connected %.1f\n", ms_since_t0 (c));
  fflush (stdout);
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 64 << 20);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (on_closed), c);
}

static void
connect_now (Client *c)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", c->url);
  const char *protocols[] = { "vmstream", NULL };
  if (msg == NULL) {
    fprintf (stderr, "vms-wsclient: bad URL %s\n", c->url);
    g_main_loop_quit (c->loop);
    return;
  }
  soup_session_websocket_connect_async (c->session, msg, NULL,
                                        (char **)protocols, G_PRIORITY_DEFAULT,
                                        NULL, connected_cb, c);
}

static gboolean
timeout_cb (gpointer user_data)
{
  Client *c = user_data;
  fprintf (stderr, "vms-wsclient: timeout after %d frames\n", c->frames);
  g_main_loop_quit (c->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  Client c = { 0 };
  gint timeout_s = 20;
  gint64 t0 = 0;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[]
      = { { "frames", 'n', 0, G_OPTION_ARG_INT, &c.want_frames,
            "binary messages to wait for (default 1)", "N" },
          { "send", 's', 0, G_OPTION_ARG_STRING_ARRAY, &c.send,
            "text message to send after the first frame (repeatable)", "JSON" },
          { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
            "give up after S seconds (connection retries included)", "S" },
          { "t0-us", 0, 0, G_OPTION_ARG_INT64, &t0,
            "reference time (g_get_real_time, microseconds) for the printed "
            "times",
            "US" },
          { NULL } };

  ctx = g_option_context_new ("URL");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vms-wsclient: %s\n",
             error ? error->message : "one URL expected");
    return 2;
  }
  c.url = argv[1];
  c.want_frames = MAX (c.want_frames, 1);
  c.t0 = t0 ? t0 : g_get_real_time ();
  c.deadline = g_get_real_time () + (gint64)timeout_s * G_USEC_PER_SEC;
  c.exit_code = 1;
  c.loop = g_main_loop_new (NULL, FALSE);
  {
    /* Loopback only: no proxy lookup (libproxy is C++ and trips ASan). */
    g_autoptr (GProxyResolver) direct
        = g_simple_proxy_resolver_new (NULL, NULL);
    c.session = soup_session_new_with_options ("proxy-resolver", direct, NULL);
  }
  g_timeout_add_seconds ((guint)timeout_s, timeout_cb, &c);
  connect_now (&c);
  g_main_loop_run (c.loop);
  printf ("frames %d\n", c.frames);
  printf ("gaps %d\n", c.gaps);
  g_clear_object (&c.ws);
  g_object_unref (c.session);
  g_main_loop_unref (c.loop);
  g_strfreev (c.send);
  return c.exit_code;
}
