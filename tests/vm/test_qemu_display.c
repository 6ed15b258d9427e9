/* A real QEMU with no disk and no guest software at all: SeaBIOS prints its
 * boot screen on the standard VGA's text console, and qemudisplaysrc reads
 * it from QEMU's VNC server on a Unix socket (or, with the argument
 * "dbus", from QEMU's D-Bus display, -display dbus,p2p=on, set up through
 * a QMP socket; "connections" then also counts the re-registration a
 * resize needs with QEMU 7.2). Checks: the socket is the
 * owner's alone when QEMU starts with umask 177 (as vm/vmstream-vm runs
 * it), frames arrive whose size matches their caps and whose pixels are not
 * all black, QEMU killed and started again -> frames keep coming and the
 * new QEMU's picture arrives. Prints the update and push rates.
 *
 *   test_qemu_display [dbus]
 *   exit 0 passed, 1 failed, 77 skipped (no qemu-system-x86_64, or no
 *   -display dbus in it)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/app/gstappsink.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SKIP 77

static gchar *qemu_bin;
static gchar *sock_path;

static void
child_umask (gpointer data)
{
  umask (0177);
}

static gboolean dbus_mode;

static GPid
start_qemu (void)
{
  gchar *vnc = g_strdup_printf ("unix:%s", sock_path);
  gchar *qmp = g_strdup_printf ("unix:%s,server=on,wait=off", sock_path);
  const gchar *argv[] = { qemu_bin,
                          "-name",
                          "vmstream-qemudisplay-test",
                          "-machine",
                          "pc",
                          "-accel",
                          "tcg",
                          "-m",
                          "64",
                          "-nodefaults",
                          "-vga",
                          "std",
                          "-display",
                          dbus_mode ? "dbus,p2p=on" : "none",
                          dbus_mode ? "-qmp" : "-vnc",
                          dbus_mode ? qmp : vnc,
                          NULL };
  GError *err = NULL;
  GPid pid = 0;

  unlink (sock_path);
  if (!g_spawn_async (NULL, (gchar **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                      child_umask, NULL, &pid, &err)) {
    g_printerr ("cannot start %s: %s\n", qemu_bin, err->message);
    exit (1);
  }
  g_free (vnc);
  g_free (qmp);
  return pid;
}

static void
stop_qemu (GPid pid)
{
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
}

static guint64
stat_u64 (GstElement *src, const gchar *field)
{
  GstStructure *s;
  guint64 v = 0;

  g_object_get (src, "stats", &s, NULL);
  gst_structure_get_uint64 (s, field, &v);
  gst_structure_free (s);
  return v;
}

/* Pulls for up to timeout_s; TRUE once a frame is not all black (after
 * min_updates complete pictures from QEMU). Every frame's size must match
 * its caps. */
static gboolean
wait_picture (GstAppSink *sink, GstElement *src, guint64 min_updates,
              gint timeout_s, gint *w, gint *h)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, GST_SECOND);
    GstVideoInfo info;
    GstMapInfo map;
    gboolean lit = FALSE;

    if (s == NULL)
      continue;
    if (!gst_video_info_from_caps (&info, gst_sample_get_caps (s))
        || GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_FORMAT_BGRx) {
      g_printerr ("unexpected caps\n");
      exit (1);
    }
    gst_buffer_map (gst_sample_get_buffer (s), &map, GST_MAP_READ);
    if (map.size != (gsize)info.width * info.height * 4) {
      g_printerr ("a %dx%d frame of %zu bytes\n", info.width, info.height,
                  map.size);
      exit (1);
    }
    for (gsize i = 0; i < map.size && !lit; i += 4)
      lit = map.data[i] || map.data[i + 1] || map.data[i + 2];
    gst_buffer_unmap (gst_sample_get_buffer (s), &map);
    gst_sample_unref (s);
    if (lit && stat_u64 (src, "updates-received") >= min_updates) {
      *w = info.width;
      *h = info.height;
      return TRUE;
    }
  }
  return FALSE;
}

int
main (int argc, char **argv)
{
  gchar *dir, *desc;
  GstElement *pipe, *src;
  GstAppSink *sink;
  GPid qemu;
  struct stat st;
  gint w = 0, h = 0, pushed = 0;
  guint64 updates0, updates1;
  gint64 t0;

  gst_init (&argc, &argv);
  dbus_mode = argc > 1 && strcmp (argv[1], "dbus") == 0;
  qemu_bin = g_strdup (g_getenv ("VMSTREAM_QEMU"));
  if (qemu_bin == NULL)
    qemu_bin = g_find_program_in_path ("qemu-system-x86_64");
  if (qemu_bin == NULL) {
    g_print ("SKIP: qemu-system-x86_64 is not installed\n");
    return SKIP;
  }
  if (dbus_mode) {
    const gchar *help[] = { qemu_bin, "-display", "help", NULL };
    gchar *out = NULL;
    gboolean has;
    g_spawn_sync (NULL, (gchar **)help, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL,
                  NULL, &out, NULL, NULL, NULL);
    has = out && strstr (out, "\ndbus") != NULL;
    g_free (out);
    if (!has) {
      g_print ("SKIP: this QEMU has no -display dbus\n");
      return SKIP;
    }
  }
  dir = g_dir_make_tmp ("qemudisplay-XXXXXX", NULL);
  sock_path = g_build_filename (dir, "vnc.sock", NULL);

  qemu = start_qemu ();
  for (int i = 0; i < 200 && stat (sock_path, &st) != 0; i++)
    g_usleep (50 * 1000);
  if (stat (sock_path, &st) != 0 || !S_ISSOCK (st.st_mode)) {
    g_printerr ("QEMU did not create %s\n", sock_path);
    stop_qemu (qemu);
    return 1;
  }
  if ((st.st_mode & 0777) != 0600) {
    g_printerr ("the VNC socket has mode %o, not 0600\n", st.st_mode & 0777);
    stop_qemu (qemu);
    return 1;
  }

  desc = g_strdup_printf ("qemudisplaysrc name=src backend=%s socket=%s "
                          "framerate=30/1 "
                          "! appsink name=sink max-buffers=4 drop=true "
                          "sync=false",
                          dbus_mode ? "dbus" : "vnc", sock_path);
  pipe = gst_parse_launch (desc, NULL);
  g_free (desc);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (pipe), "sink"));
  gst_element_set_state (pipe, GST_STATE_PLAYING);

  t0 = g_get_monotonic_time ();
  if (!wait_picture (sink, src, 1, 60, &w, &h)) {
    g_printerr ("no frame that is not all black within 60 s\n");
    goto failed;
  }
  g_print ("first lit %dx%d frame %.1f s after PLAYING\n", w, h,
           (g_get_monotonic_time () - t0) / 1e6);

  /* rates over 3 s */
  updates0 = stat_u64 (src, "updates-received");
  t0 = g_get_monotonic_time ();
  while (g_get_monotonic_time () - t0 < 3 * G_USEC_PER_SEC) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, GST_SECOND);
    if (s) {
      pushed++;
      gst_sample_unref (s);
    }
  }
  updates1 = stat_u64 (src, "updates-received");
  g_print ("from QEMU (%s, SeaBIOS text console, TCG): %.1f updates/s, %.1f "
           "frames/s pushed at framerate=30\n",
           dbus_mode ? "D-Bus display" : "VNC", (updates1 - updates0) / 3.0,
           pushed / 3.0);
  if (pushed < 60) {
    g_printerr ("only %d frames in 3 s at 30/s\n", pushed);
    goto failed;
  }

  /* QEMU dies: the last picture keeps coming */
  stop_qemu (qemu);
  qemu = 0;
  pushed = 0;
  t0 = g_get_monotonic_time ();
  while (g_get_monotonic_time () - t0 < G_USEC_PER_SEC) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, GST_SECOND);
    if (s) {
      pushed++;
      gst_sample_unref (s);
    }
  }
  if (pushed < 15) {
    g_printerr ("only %d frames in the second after QEMU died\n", pushed);
    goto failed;
  }

  /* a new QEMU: the source reconnects on its own */
  qemu = start_qemu ();
  updates0 = stat_u64 (src, "updates-received");
  if (!wait_picture (sink, src, updates0 + 1, 60, &w, &h)
      || stat_u64 (src, "connections") < 2) {
    g_printerr ("no picture from the restarted QEMU within 60 s "
                "(connections %" G_GUINT64_FORMAT ")\n",
                stat_u64 (src, "connections"));
    goto failed;
  }
  g_print ("reconnected to the restarted QEMU: %dx%d\n", w, h);

  gst_element_set_state (pipe, GST_STATE_NULL);
  stop_qemu (qemu);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  unlink (sock_path);
  g_rmdir (dir);
  g_free (dir);
  g_free (sock_path);
  g_free (qemu_bin);
  g_print ("PASS\n");
  return 0;

failed:
  gst_element_set_state (pipe, GST_STATE_NULL);
  if (qemu)
    stop_qemu (qemu);
  unlink (sock_path);
  g_rmdir (dir);
  return 1;
}
