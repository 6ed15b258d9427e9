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
#include "../vmslaunch.h"

#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <stdio.h>

static void
print_line (const gchar *prefix, const GstStructure *s)
{
  gchar *text = gst_structure_to_string (s);

  printf ("%s%s\n", prefix, text);
  fflush (stdout);
  g_free (text);
}

static void
on_element (GstMessage *msg, gpointer user_data)
{
  GstEvent *ev = NULL;
  const GstStructure *s = gst_message_get_structure (msg);

  if (gst_navigation_message_get_type (msg) == GST_NAVIGATION_MESSAGE_EVENT
      && gst_navigation_message_parse_event (msg, &ev)) {
    print_line ("navigation: ", gst_event_get_structure (ev));
    gst_event_unref (ev);
  } else if (s && gst_structure_has_name (s, "wsh264sink-listening")) {
    print_line ("", s);
  }
}

int
main (int argc, char **argv)
{
  GError *err = NULL;
  GstElement *pipeline;
  gint status;

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
  status = vms_launch_run (pipeline, "gst-navprint", on_element, NULL);
  gst_object_unref (pipeline);
  return status;
}
