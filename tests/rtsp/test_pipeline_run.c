/* Runs the host templates for real: the pipelines/ files expanded by
 * tools/vmstream-expand, started in this process, fed by a sender process
 * over tcp:// (vsocksink, standing in for the guest, or the guest templates
 * themselves on a private Xvfb), watched by a real RTSP client (rtspsrc in a
 * separate process).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "../vmstest.h"
#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gchar *
expand (const gchar *template_name, const gchar *const *vars)
{
  const gchar *root = g_getenv ("VMSTREAM_SOURCE_ROOT");
  gchar *tool = g_build_filename (root, "tools", "vmstream-expand", NULL);
  gchar *file = g_build_filename (root, "pipelines", template_name, NULL);
  GPtrArray *args = g_ptr_array_new ();
  gchar **envp = g_environ_unsetenv (g_get_environ (), "LD_PRELOAD");
  gchar *out = NULL, *err_out = NULL;
  gint status = 0;
  GError *err = NULL;

  g_ptr_array_add (args, tool);
  g_ptr_array_add (args, (gpointer) "--raw");
  g_ptr_array_add (args, (gpointer) "--no-env");
  g_ptr_array_add (args, file);
  for (const gchar *const *v = vars; *v; v++)
    g_ptr_array_add (args, (gpointer)*v);
  g_ptr_array_add (args, NULL);
  fail_unless (g_spawn_sync (NULL, (gchar **)args->pdata, envp,
                             G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err_out,
                             &status, &err),
               "%s", err ? err->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", err_out);
  g_ptr_array_unref (args);
  g_strfreev (envp);
  g_free (tool);
  g_free (file);
  g_free (err_out);
  return g_strstrip (out);
}

static GstElement *
find_by_factory (GstElement *pipeline, const gchar *factory)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (pipeline));
  GValue v = G_VALUE_INIT;
  GstElement *found = NULL;

  while (!found && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && strcmp (GST_OBJECT_NAME (f), factory) == 0)
      found = gst_object_ref (e);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return found;
}

/* A process that loads this build's plugins (vsocksink). */
static GSubprocess *
spawn_sender (const gchar *desc)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  const gchar *preload = g_getenv ("VMSTREAM_ASAN_PRELOAD");
  gchar **words = g_strsplit (desc, " ", -1);
  GPtrArray *argv = g_ptr_array_new ();
  GError *err = NULL;
  GSubprocess *p;

  if (preload && *preload) {
    g_subprocess_launcher_setenv (l, "LD_PRELOAD", preload, TRUE);
    /* killed at the end: its exit status and leaks are not the point */
    g_subprocess_launcher_setenv (l, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
  }
  g_ptr_array_add (argv, (gpointer) "timeout");
  g_ptr_array_add (argv, (gpointer) "60");
  g_ptr_array_add (argv, (gpointer) "gst-launch-1.0");
  g_ptr_array_add (argv, (gpointer) "-q");
  for (gchar **w = words; *w; w++)
    if (**w)
      g_ptr_array_add (argv, *w);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv->pdata, &err);
  fail_unless (p != NULL, "%s", err ? err->message : "");
  g_ptr_array_unref (argv);
  g_strfreev (words);
  g_object_unref (l);
  return p;
}

/* rtspsrc in a plain process (system plugins only) that decodes @frames
 * pictures (avdec_h264, corrupt ones dropped) and writes them as GRAY8
 * files into a fresh folder, returned in *dir. What counts is what was
 * decoded, not the client's exit status: on its way down rtspsrc's PAUSE and
 * TEARDOWN can race the server's close and exit 1 after every frame came. */
static guint
rtsp_client (const gchar *url, guint frames, gchar **out, gchar **dir)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  gchar *reg = g_build_filename (g_getenv ("VMSTREAM_BUILD_ROOT"), "tests",
                                 "rtsp-client-registry.bin", NULL);
  gchar *loc = g_strdup_printf ("location=%s", url);
  /* identity sends EOS at buffer eos-after, which may or may not be
   * written: one more, and at least @frames count */
  gchar *eos = g_strdup_printf ("eos-after=%u", frames + 1);
  gchar *files;
  const gchar *argv[] = { "timeout",
                          "-k",
                          "5",
                          "40",
                          "gst-launch-1.0",
                          "rtspsrc",
                          loc,
                          "latency=0",
                          "!",
                          "rtph264depay",
                          "!",
                          "avdec_h264",
                          "output-corrupt=false",
                          "!",
                          "videoconvert",
                          "!",
                          "video/x-raw,format=GRAY8",
                          "!",
                          "identity",
                          eos,
                          "!",
                          "multifilesink",
                          NULL,
                          NULL };
  GError *err = NULL;
  GSubprocess *p;
  GDir *d;
  guint n = 0;

  *dir = g_dir_make_tmp ("pipeline-run-frames-XXXXXX", NULL);
  fail_unless (*dir != NULL);
  files = g_strdup_printf ("location=%s/f%%05d.gray", *dir);
  argv[G_N_ELEMENTS (argv) - 2] = files;
  g_subprocess_launcher_unsetenv (l, "GST_PLUGIN_PATH_1_0");
  g_subprocess_launcher_unsetenv (l, "LD_PRELOAD");
  g_subprocess_launcher_setenv (l, "GST_REGISTRY_1_0", reg, TRUE);
  p = g_subprocess_launcher_spawnv (l, argv, &err);
  fail_unless (p != NULL, "%s", err ? err->message : "");
  fail_unless (g_subprocess_communicate_utf8 (p, NULL, NULL, out, NULL, NULL));
  g_object_unref (p);
  g_object_unref (l);
  d = g_dir_open (*dir, 0, NULL);
  while (d && g_dir_read_name (d))
    n++;
  if (d)
    g_dir_close (d);
  g_free (reg);
  g_free (loc);
  g_free (eos);
  g_free (files);
  return n;
}

/* The last decoded picture is @w x @h and shows something: dark and light
 * pixels both (every source here draws light shapes or text on black). */
static void
check_picture (const gchar *dir, guint frames, gint w, gint h)
{
  gchar *name = g_strdup_printf ("f%05u.gray", frames - 1);
  gchar *path = g_build_filename (dir, name, NULL);
  gchar *pixels = NULL;
  gsize len = 0;
  guint8 lo = 255, hi = 0;

  fail_unless (g_file_get_contents (path, &pixels, &len, NULL),
               "no decoded picture %s", path);
  if (w > 0)
    fail_unless (len == (gsize)w * h,
                 "decoded %" G_GSIZE_FORMAT " pixels, not %dx%d", len, w, h);
  for (gsize i = 0; i < len; i++) {
    lo = MIN (lo, (guint8)pixels[i]);
    hi = MAX (hi, (guint8)pixels[i]);
  }
  fail_unless (lo < 40 && hi > lo + 100, "decoded picture is flat (%u..%u)", lo,
               hi);
  g_free (pixels);
  g_free (path);
  g_free (name);
}

static void
remove_dir (gchar *dir)
{
  gchar *cmd = g_strdup_printf ("rm -rf '%s'", dir);

  if (system (cmd) != 0)
    g_printerr ("could not remove %s\n", dir);
  g_free (cmd);
  g_free (dir);
}

#define assert_no_error(p) VMS_ASSERT_NO_BUS_ERROR (p)

/* Starts @template_name with every port picked by the system, feeds it with
 * @sender (a description with %u for the vsocksrc port, or NULL), and checks
 * that an RTSP client gets 60 frames. */
/* one more NAME=value for the next run_template, or NULL */
static const gchar *extra_var;
/* the size the RTSP client must decode (0: any, e.g. QEMU's own screen) */
static gint picture_w = 640, picture_h = 360;

static void
run_template (const gchar *template_name, const gchar *sender_fmt)
{
  const gchar *vars[] = { "SESSION_ID=runtest",
                          "RTSP_PORT=0",
                          "WS_PORT=0",
                          "VSOCK_URI=tcp://127.0.0.1:0",
                          "WIDTH=640",
                          "HEIGHT=360",
                          extra_var,
                          NULL };
  gchar *desc = expand (template_name, vars);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  GstElement *rtsp, *src;
  GSubprocess *sender = NULL;
  gchar *url = NULL, *out = NULL, *frames_dir = NULL;
  guint decoded;

  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "");
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  /* no waiting for PLAYING: a live pipeline gets there with the first
   * buffer, which the sender below provides; the servers listen already */
  rtsp = find_by_factory (pipeline, "rtsph264sink");
  fail_unless (rtsp != NULL);
  g_object_get (rtsp, "url", &url, NULL);

  src = find_by_factory (pipeline, "vsocksrc");
  if (sender_fmt) {
    guint port = 0;
    gchar *sdesc;

    fail_unless (src != NULL);
    g_object_get (src, "bound-port", &port, NULL);
    fail_unless (port > 0);
    sdesc = g_strdup_printf (sender_fmt, port);
    sender = spawn_sender (sdesc);
    g_free (sdesc);
  }

  decoded = rtsp_client (url, 60, &out, &frames_dir);
  fail_unless (decoded >= 60, "%s: the RTSP client decoded %u of 60 frames: %s",
               template_name, decoded, out);
  check_picture (frames_dir, 60, picture_w, picture_h);
  remove_dir (frames_dir);
  assert_no_error (pipeline);

  if (sender) {
    g_subprocess_send_signal (sender, SIGTERM);
    g_subprocess_wait (sender, NULL, NULL);
    g_object_unref (sender);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_clear_object (&src);
  gst_object_unref (rtsp);
  gst_object_unref (pipeline);
  g_free (url);
  g_free (out);
  g_free (desc);
}

GST_START_TEST (test_demo_local_runs)
{
  run_template ("demo-local.txt", NULL);
}

GST_END_TEST;

GST_START_TEST (test_host_native_runs)
{
  VMS_REQUIRE_ELEMENT ("vsocksrc");
  VMS_REQUIRE_ELEMENT ("vsocksink");
  run_template ("host-native.txt",
                "videotestsrc is-live=true pattern=ball ! "
                "video/x-raw,format=NV12,width=640,height=360,framerate=30/1 ! "
                "vsocksink uri=tcp://127.0.0.1:%u");
}

GST_END_TEST;

/* The desktop guest's way (guest-pipewire.txt): BGRx as captured, sent
 * only when the screen changed. Five frames, then the sender is gone: the
 * RTSP client still decodes 60 pictures of it because host-native converts
 * (BGRx into the encoder) and repeats the last frame (vsocksrc
 * repeat-interval); without either it gets none or five. */
GST_START_TEST (test_host_native_bgrx_sent_once_repeated)
{
  VMS_REQUIRE_ELEMENT ("vsocksrc");
  VMS_REQUIRE_ELEMENT ("vsocksink");
  run_template ("host-native.txt",
                "videotestsrc num-buffers=5 pattern=ball ! "
                "video/x-raw,format=BGRx,width=640,height=360,framerate=30/1 ! "
                "vsocksink uri=tcp://127.0.0.1:%u");
}

GST_END_TEST;

GST_START_TEST (test_host_vm_encoded_runs)
{
  VMS_REQUIRE_ELEMENT ("vsocksrc");
  VMS_REQUIRE_ELEMENT ("vsocksink");
  VMS_REQUIRE_ELEMENT ("x264enc");
  /* the guest encodes (encode-in-VM mode) */
  run_template (
      "host-vm-encoded.txt",
      "videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=640,height=360,framerate=30/1 ! "
      "x264enc tune=zerolatency speed-preset=superfast key-int-max=30 ! "
      "h264parse config-interval=-1 ! "
      "video/x-h264,stream-format=byte-stream,alignment=au ! "
      "vsocksink uri=tcp://127.0.0.1:%u");
}

GST_END_TEST;

/* The guest-free mode: a diskless QEMU (SeaBIOS on -vga std) serves its
 * screen on a VNC Unix socket, the template reads it with qemudisplaysrc. */
GST_START_TEST (test_host_qemu_display_runs)
{
  gchar *qemu = g_find_program_in_path ("qemu-system-x86_64");
  gchar *dir, *sock, *vnc, *var;
  GSubprocessLauncher *l;
  GSubprocess *p;
  GError *err = NULL;

  VMS_REQUIRE_PROGRAM ("qemu-system-x86_64");
  VMS_REQUIRE_ELEMENT ("qemudisplaysrc");
  dir = g_dir_make_tmp ("pipeline-run-XXXXXX", NULL);
  sock = g_build_filename (dir, "vnc.sock", NULL);
  vnc = g_strdup_printf ("unix:%s", sock);
  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                 | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_unsetenv (l, "LD_PRELOAD");
  p = g_subprocess_launcher_spawn (
      l, &err, qemu, "-machine", "pc", "-accel", "tcg", "-m", "64",
      "-nodefaults", "-vga", "std", "-display", "none", "-vnc", vnc, NULL);
  fail_unless (p != NULL, "%s", err ? err->message : "");
  var = g_strdup_printf ("VNC_SOCKET=%s", sock);
  extra_var = var;
  picture_w = picture_h = 0; /* whatever mode SeaBIOS set */
  run_template ("host-qemu-display.txt", NULL);
  picture_w = 640;
  picture_h = 360;
  extra_var = NULL;
  g_subprocess_force_exit (p);
  g_subprocess_wait (p, NULL, NULL);
  g_object_unref (p);
  g_object_unref (l);
  g_unlink (sock);
  g_rmdir (dir);
  g_free (var);
  g_free (vnc);
  g_free (sock);
  g_free (dir);
  g_free (qemu);
}

GST_END_TEST;

/* A private Xvfb for the guest capture templates (ximagesrc). Returns its
 * display name; the process is in *proc. */
static gchar *
start_xvfb (GSubprocess **proc)
{
  GError *err = NULL;

  for (gint n = 90 + getpid () % 50; n < 190; n++) {
    gchar *lock = g_strdup_printf ("/tmp/.X%d-lock", n);
    gchar *sock = g_strdup_printf ("/tmp/.X11-unix/X%d", n);
    gchar *name = g_strdup_printf (":%d", n);
    gboolean taken = g_file_test (lock, G_FILE_TEST_EXISTS);
    g_free (lock);
    if (!taken) {
      *proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &err, "Xvfb",
                                name, "-screen", "0", "640x360x24", "-nolisten",
                                "tcp", NULL);
      fail_unless (*proc != NULL, "Xvfb: %s", err ? err->message : "");
      /* Xvfb has no readiness signal but its socket: poll for it */
      for (gint i = 0; i < 200 && !g_file_test (sock, G_FILE_TEST_EXISTS); i++)
        g_usleep (20 * 1000);
      if (g_file_test (sock, G_FILE_TEST_EXISTS)) {
        g_free (sock);
        return name;
      }
      g_subprocess_force_exit (*proc);
      g_clear_object (proc);
    }
    g_free (sock);
    g_free (name);
  }
  fail ("no Xvfb display could be started");
  return NULL;
}

/* The guest template @guest_template, run on a private Xvfb as the guest
 * would run it, feeds the host template @host_template (whose vsocksrc port
 * it gets as HOST_URI). */
static void
run_guest_into_host (const gchar *guest_template, const gchar *host_template)
{
  GSubprocess *xvfb = NULL;
  gchar *display = start_xvfb (&xvfb);
  gchar *dvar = g_strdup_printf ("DISPLAY=%s", display);
  const gchar *vars[]
      = { "HOST_URI=tcp://127.0.0.1:%u", dvar, "FRAMERATE=30", NULL };
  gchar *sender = expand (guest_template, vars);

  run_template (host_template, sender);
  g_subprocess_force_exit (xvfb);
  g_subprocess_wait (xvfb, NULL, NULL);
  g_object_unref (xvfb);
  g_free (sender);
  g_free (dvar);
  g_free (display);
}

/* The guest templates themselves, not stand-ins, send: X11 capture of raw
 * NV12 into host-native, and the encode-in-VM template into
 * host-vm-encoded. */
GST_START_TEST (test_guest_x11_into_host_native_runs)
{
  VMS_REQUIRE_ELEMENT ("ximagesrc");
  VMS_REQUIRE_PROGRAM ("Xvfb");
  run_guest_into_host ("guest-x11.txt", "host-native.txt");
}

GST_END_TEST;

GST_START_TEST (test_guest_encoded_into_host_vm_encoded_runs)
{
  VMS_REQUIRE_ELEMENT ("ximagesrc");
  VMS_REQUIRE_ELEMENT ("x264enc");
  VMS_REQUIRE_PROGRAM ("Xvfb");
  run_guest_into_host ("guest-encoded.txt", "host-vm-encoded.txt");
}

GST_END_TEST;

static Suite *
pipeline_run_suite (void)
{
  Suite *s = suite_create ("pipeline-run");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_demo_local_runs);
  tcase_add_test (tc, test_host_native_runs);
  tcase_add_test (tc, test_host_native_bgrx_sent_once_repeated);
  tcase_add_test (tc, test_host_vm_encoded_runs);
  tcase_add_test (tc, test_host_qemu_display_runs);
  tcase_add_test (tc, test_guest_x11_into_host_native_runs);
  tcase_add_test (tc, test_guest_encoded_into_host_vm_encoded_runs);
  return s;
}

GST_CHECK_MAIN (pipeline_run);
