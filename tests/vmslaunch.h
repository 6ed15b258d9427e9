/* tests/vmslaunch: gst-launch-1.0's loop for the small launchers of the
 * tests and benchmarks (tests/browser/gst-navprint, bench/e2e-launch).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Called with every element message on the pipeline's bus */
typedef void (*VmsLaunchElementFunc) (GstMessage *msg, gpointer user_data);

/* Plays @pipeline until EOS, an error, SIGINT or SIGTERM, then sets it to
 * NULL. @on_element (may be NULL) sees every element message. An error or
 * a pipeline that does not start is printed on stderr after "@prog: ".
 * Returns the exit status: 0, or 1 after an error or a failed start. */
gint vms_launch_run (GstElement *pipeline, const gchar *prog,
                     VmsLaunchElementFunc on_element, gpointer user_data);

G_END_DECLS
