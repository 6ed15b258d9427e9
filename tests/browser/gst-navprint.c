/* gst-navprint DESCRIPTION...: runs a pipeline like gst-launch-1.0 and
 * prints, one line each on stdout, what the browser tests check on the bus:
 *   wsh264sink-listening, port=(uint)N     (the element message, as is)
 *   navigation: <event structure>          (each GstNavigation message's
 *                                           event, e.g. key-press, key=KeyQ)
 * gst-launch-1.0 -m shows navigation messages but not the event inside
 * them (it prints NULL), so the tests read the real bus contents here
 * instead of the element's debug log. Exits 0 on EOS or SIGTERM/SIGINT,
 * 1 on an error (printed on stderr).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <stdio.h>

static gint status;

static void
print_line (const gchar *prefix, const GstStructure *s)
{
  gchar *text = gst_structure_to_string (s);

  printf ("%s%s\n", prefix, text);
  fflush (stdout);
  g_free (text);
}

static gboolean
on_message (GstBus *bus, GstMessage *msg, gpointer loop)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT: {
      GstEvent *ev = NULL;
      const GstStructure *s = gst_message_get_structure (msg);
      if (gst_navigation_message_get_type (msg) == GST_NAVIGATION_MESSAGE_EVENT
          && gst_navigation_message_parse_event (msg, &ev)) {
        print_line ("navigation: ", gst_event_get_structure (ev));
        gst_event_unref (ev);
      } else if (s && gst_structure_has_name (s, "wsh264sink-listening")) {
        print_line ("", s);
      }
      break;
    }
    case GST_MESSAGE_ERROR: {
      GError *err = NULL;
      gchar *dbg = NULL;
      gst_message_parse_error (msg, &err, &dbg);
      g_printerr ("ERROR from %s: %s\n%s\n", GST_OBJECT_NAME (msg->src),
                  err->message, dbg ? dbg : "");
      g_clear_error (&err);
      g_free (dbg);
      status = 1;
      g_main_loop_quit (loop);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit (loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  GError *err = NULL;
  GstElement *pipeline;
  GMainLoop *loop;
  GstBus *bus;

  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: gst-navprint DESCRIPTION...\n");
    return 2;
  }
  pipeline = gst_parse_launchv ((const gchar **)argv + 1, &err);
  if (pipeline == NULL) {
    g_printerr ("ERROR: %s\n", err->message);
    g_clear_error (&err);
    return 1;
  }
  loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_message, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGINT, on_signal, loop);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
      == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("ERROR: the pipeline does not start\n");
    status = 1;
  } else {
    g_main_loop_run (loop);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_main_loop_unref (loop);
  return status;
}
