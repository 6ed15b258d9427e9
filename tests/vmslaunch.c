/* tests/vmslaunch: see vmslaunch.h.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmslaunch.h"

#include <glib-unix.h>

typedef struct {
  GMainLoop *loop;
  const gchar *prog;
  VmsLaunchElementFunc on_element;
  gpointer user_data;
  gint status;
} Launch;

static gboolean
on_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  Launch *l = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (l->on_element)
        l->on_element (msg, l->user_data);
      break;
    case GST_MESSAGE_ERROR: {
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      g_printerr ("%s: error from %s: %s\n%s\n", l->prog,
                  GST_OBJECT_NAME (msg->src), err->message, dbg ? dbg : "");
      g_clear_error (&err);
      g_free (dbg);
      l->status = 1;
      g_main_loop_quit (l->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit (l->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  Launch *l = data;
  g_main_loop_quit (l->loop);
  return G_SOURCE_CONTINUE;
}

gint
vms_launch_run (GstElement *pipeline, const gchar *prog,
                VmsLaunchElementFunc on_element, gpointer user_data)
{
  Launch l = { g_main_loop_new (NULL, FALSE), prog, on_element, user_data, 0 };
  GstBus *bus = gst_element_get_bus (pipeline);
  guint sig1, sig2;

  gst_bus_add_watch (bus, on_message, &l);
  sig1 = g_unix_signal_add (SIGTERM, on_signal, &l);
  sig2 = g_unix_signal_add (SIGINT, on_signal, &l);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("%s: the pipeline does not start\n", prog);
    l.status = 1;
  } else {
    g_main_loop_run (l.loop);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_source_remove (sig1);
  g_source_remove (sig2);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  g_main_loop_unref (l.loop);
  return l.status;
}
