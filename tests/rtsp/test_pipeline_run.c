/* Runs the host templates for real: the pipelines/ files expanded by
 * tools/vmstream-expand, started in this process, fed by a sender process
 * over tcp:// (vsocksink, standing in for the guest, or the guest templates
 * themselves on a private Xvfb), watched by a real RTSP client (rtspsrc in a
 * separate process).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "../vmstest.h"
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>
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

/* A process that loads this build's plugins (vsocksink), with the
 * NAME=value pairs of @env (or NULL) added to its environment. */
static GSubprocess *
spawn_sender (const gchar *desc, const gchar *const *env)
{
  GSubprocessLauncher *l
      = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  const gchar *preload = g_getenv ("VMSTREAM_ASAN_PRELOAD");
  gchar **words = g_strsplit (desc, " ", -1);
  GPtrArray *argv = g_ptr_array_new ();
  gchar *ld_arg = NULL;
  GError *err = NULL;
  GSubprocess *p;

  for (const gchar *const *e = env; e && *e; e++) {
    gchar **kv = g_strsplit (*e, "=", 2);
    g_subprocess_launcher_setenv (l, kv[0], kv[1], TRUE);
    g_strfreev (kv);
  }
  g_ptr_array_add (argv, (gpointer) "timeout");
  g_ptr_array_add (argv, (gpointer) "60");
  if (preload && *preload) {
    /* The ASan runtime (and GnuTLS, see tests/meson.build) into
     * gst-launch-1.0 only, through env(1), never into timeout(1): with both
     * preloaded, a program that calls setlocale (LC_ALL, "") hangs in
     * exit() (p11-kit's destructor blocks in freelocale() on glibc's locale
     * lock; docs/development.md), so a timeout whose sender ended by itself
     * never exited and the test waited for it forever. env execs and never
     * exits itself. Leaks off: the sender is killed at the end, its leaks
     * are not the point. */
    ld_arg = g_strdup_printf ("LD_PRELOAD=%s", preload);
    g_ptr_array_add (argv, (gpointer) "env");
    g_ptr_array_add (argv, ld_arg);
    g_ptr_array_add (argv, (gpointer) "ASAN_OPTIONS=detect_leaks=0");
  }
  g_ptr_array_add (argv, (gpointer) "gst-launch-1.0");
  g_ptr_array_add (argv, (gpointer) "-q");
  for (gchar **w = words; *w; w++)
    if (**w)
      g_ptr_array_add (argv, *w);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_launcher_spawnv (l, (const gchar *const *)argv->pdata, &err);
  fail_unless (p != NULL, "%s", err ? err->message : "");
  g_ptr_array_unref (argv);
  g_free (ld_arg);
  g_strfreev (words);
  g_object_unref (l);
  return p;
}

/* rtspsrc in a plain process (system plugins only) that decodes @frames
 * pictures (avdec_h264, corrupt ones dropped) and writes them as RGB
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
                          "video/x-raw,format=RGB",
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
  files = g_strdup_printf ("location=%s/f%%05d.rgb", *dir);
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

/* TRUE where the sent picture has no colour (white or grey on black):
 * then the decoded one must have none either, which a mix-up of the colour
 * planes on the way (chroma read from the wrong place) would give it. */
static gboolean picture_grey;

/* The last decoded picture is @w x @h and shows something: dark and light
 * pixels both (every source here draws light shapes or text on black), and
 * with picture_grey, no colour. */
static void
check_picture (const gchar *dir, guint frames, gint w, gint h)
{
  gchar *name = g_strdup_printf ("f%05u.rgb", frames - 1);
  gchar *path = g_build_filename (dir, name, NULL);
  gchar *pixels = NULL;
  gsize len = 0, coloured = 0;
  guint8 lo = 255, hi = 0;

  fail_unless (g_file_get_contents (path, &pixels, &len, NULL),
               "no decoded picture %s", path);
  if (w > 0)
    fail_unless (len == (gsize)w * h * 3,
                 "decoded %" G_GSIZE_FORMAT " bytes, not %dx%d RGB", len, w, h);
  for (gsize i = 0; i + 2 < len; i += 3) {
    gint r = (guint8)pixels[i], g = (guint8)pixels[i + 1],
         b = (guint8)pixels[i + 2];
    lo = MIN (lo, (guint8)g);
    hi = MAX (hi, (guint8)g);
    coloured += ABS (r - g) > 48 || ABS (b - g) > 48;
  }
  fail_unless (lo < 40 && hi > lo + 100, "decoded picture is flat (%u..%u)", lo,
               hi);
  if (picture_grey)
    fail_unless (coloured <= len / 3 / 100,
                 "a grey picture was sent, %" G_GSIZE_FORMAT
                 " of %" G_GSIZE_FORMAT " decoded pixels are coloured",
                 coloured, len / 3);
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
 * that an RTSP client gets frames_wanted frames. */
/* one more NAME=value for the next run_template, or NULL */
static const gchar *extra_var;
/* the size the RTSP client must decode (0: any, e.g. QEMU's own screen) */
static gint picture_w = 640, picture_h = 360;
/* frames the RTSP client must decode */
static guint frames_wanted = 60;

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
    sender = spawn_sender (sdesc, NULL);
    g_free (sdesc);
  }

  decoded = rtsp_client (url, frames_wanted, &out, &frames_dir);
  fail_unless (decoded >= frames_wanted,
               "%s: the RTSP client decoded %u of %u frames: %s", template_name,
               decoded, frames_wanted, out);
  check_picture (frames_dir, frames_wanted, picture_w, picture_h);
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
  /* raw NV12 planes over the link: the white ball must stay white */
  picture_grey = TRUE;
  run_template ("host-native.txt",
                "videotestsrc is-live=true pattern=ball ! "
                "video/x-raw,format=NV12,width=640,height=360,framerate=30/1 ! "
                "vsocksink uri=tcp://127.0.0.1:%u");
  picture_grey = FALSE;
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
  /* 5 frames sent, 20 decoded: the other 15 are the host's repeats (100 ms
   * apart; 20 rather than 60 keeps the case short) */
  frames_wanted = 20;
  run_template ("host-native.txt",
                "videotestsrc num-buffers=5 pattern=ball ! "
                "video/x-raw,format=BGRx,width=640,height=360,framerate=30/1 ! "
                "vsocksink uri=tcp://127.0.0.1:%u");
  frames_wanted = 60;
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
  /* new pictures only: SeaBIOS's blinking cursor is ~3 a second */
  frames_wanted = 10;
  run_template ("host-qemu-display.txt", NULL);
  frames_wanted = 60;
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

/* guest-pipewire.txt, run for real with a stand-in screen: a private
 * PipeWire (pipewire, wireplumber and their own D-Bus session bus in a
 * fresh XDG_RUNTIME_DIR) where videotestsrc ! pipewiresink provides a
 * Video/Source node, as a compositor's screen-cast node would. The template,
 * given that node through PIPEWIRE_SOURCE_ARGS, sends to a vsocksrc here
 * (with a link secret); what arrives must be the size the screen has and
 * its picture. Only the template's variables are used, not its elements:
 * whatever conversion the template does, the luma must survive it. */
#define PW_W 320
#define PW_H 192
#define PW_NODE "vmstest-screen"
#define PW_SCREEN_CAPS                                                         \
  "video/x-raw,format=BGRx,width=320,height=192,framerate=15/1"

typedef struct {
  gchar *dir;            /* the private XDG_RUNTIME_DIR, 0700 */
  gchar *bus;            /* its D-Bus session bus address */
  GSubprocess *procs[5]; /* dbus-daemon, pipewire, wireplumber, screens */
  guint n_procs;
} PwHost;

/* A launcher for the private PipeWire's processes: system plugins only, no
 * ASan preload (none of them loads this build's code). */
static GSubprocessLauncher *
pw_launcher (PwHost *h, GSubprocessFlags flags)
{
  GSubprocessLauncher *l = g_subprocess_launcher_new (flags);

  g_subprocess_launcher_unsetenv (l, "LD_PRELOAD");
  g_subprocess_launcher_unsetenv (l, "PIPEWIRE_REMOTE");
  g_subprocess_launcher_setenv (l, "XDG_RUNTIME_DIR", h->dir, TRUE);
  g_subprocess_launcher_setenv (l, "PIPEWIRE_RUNTIME_DIR", h->dir, TRUE);
  if (h->bus)
    g_subprocess_launcher_setenv (l, "DBUS_SESSION_BUS_ADDRESS", h->bus, TRUE);
  return l;
}

static GSubprocess *
pw_spawn (PwHost *h, GSubprocessFlags flags, const gchar *const *argv)
{
  GSubprocessLauncher *l = pw_launcher (h, flags);
  GError *err = NULL;
  GSubprocess *p = g_subprocess_launcher_spawnv (l, argv, &err);

  fail_unless (p != NULL, "%s: %s", argv[0], err ? err->message : "");
  g_object_unref (l);
  h->procs[h->n_procs++] = p;
  return p;
}

static void
pw_host_start (PwHost *h)
{
  const gchar *dbus[]
      = { "dbus-daemon", "--session",         "--nofork", "--nopidfile",
          NULL,          "--print-address=1", NULL };
  const gchar *pw[] = { "pipewire", NULL };
  const gchar *wp[] = { "wireplumber", NULL };
  /* a second screen, PipeWire's preferred one (the default source): only a
   * template that passes PIPEWIRE_SOURCE_ARGS on gets the right picture */
  const gchar *decoy[] = { "gst-launch-1.0",
                           "-q",
                           "videotestsrc",
                           "is-live=true",
                           "pattern=checkers-8",
                           "!",
                           PW_SCREEN_CAPS,
                           "!",
                           "pipewiresink",
                           "mode=provide",
                           "stream-properties=props,node.name=vmstest-decoy,"
                           "media.class=Video/Source,priority.session=5000",
                           NULL };
  const gchar *screen[] = { "gst-launch-1.0",
                            "-q",
                            "videotestsrc",
                            "is-live=true",
                            "pattern=smpte75",
                            "!",
                            PW_SCREEN_CAPS,
                            "!",
                            "pipewiresink",
                            "mode=provide",
                            "stream-properties=props,node.name=" PW_NODE
                            ",media.class=Video/Source",
                            NULL };
  GSubprocess *d;
  GDataInputStream *in;
  gchar *addr, *sock;

  h->dir = g_dir_make_tmp ("pipewire-run-XXXXXX", NULL);
  fail_unless (h->dir != NULL);
  addr = g_strdup_printf ("--address=unix:path=%s/bus", h->dir);
  dbus[4] = addr;
  /* the bus is ready when it prints its address */
  d = pw_spawn (h, G_SUBPROCESS_FLAGS_STDOUT_PIPE, dbus);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (d));
  h->bus = g_data_input_stream_read_line (in, NULL, NULL, NULL);
  fail_unless (h->bus != NULL && *h->bus, "dbus-daemon printed no address");
  g_object_unref (in);
  g_free (addr);

  pw_spawn (h, G_SUBPROCESS_FLAGS_STDERR_SILENCE, pw);
  /* pipewire has no readiness signal but its socket: poll for it */
  sock = g_build_filename (h->dir, "pipewire-0", NULL);
  for (gint i = 0; i < 500 && !g_file_test (sock, G_FILE_TEST_EXISTS); i++)
    g_usleep (20 * 1000);
  fail_unless (g_file_test (sock, G_FILE_TEST_EXISTS),
               "pipewire made no socket in 10 s");
  g_free (sock);
  pw_spawn (h, G_SUBPROCESS_FLAGS_STDERR_SILENCE, wp);
  pw_spawn (h, G_SUBPROCESS_FLAGS_STDERR_SILENCE, decoy);
  pw_spawn (h, G_SUBPROCESS_FLAGS_STDERR_SILENCE, screen);
}

static void
pw_host_stop (PwHost *h)
{
  while (h->n_procs > 0) {
    GSubprocess *p = h->procs[--h->n_procs];
    g_subprocess_send_signal (p, SIGTERM);
    g_subprocess_wait (p, NULL, NULL);
    g_object_unref (p);
  }
  g_free (h->bus);
  remove_dir (h->dir);
}

/* @sample as GRAY8 pixels (@w x @h bytes); free with g_free. */
static guint8 *
gray_pixels (GstSample *sample, gint w, gint h)
{
  GstCaps *gray = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
                                       "GRAY8", "width", G_TYPE_INT, w,
                                       "height", G_TYPE_INT, h, NULL);
  GError *err = NULL;
  GstSample *g = gst_video_convert_sample (sample, gray, 10 * GST_SECOND, &err);
  GstVideoFrame f;
  GstVideoInfo info;
  guint8 *out = g_malloc (w * h);

  fail_unless (g != NULL, "%s", err ? err->message : "");
  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (g)));
  fail_unless (
      gst_video_frame_map (&f, &info, gst_sample_get_buffer (g), GST_MAP_READ));
  for (gint y = 0; y < h; y++)
    memcpy (out + y * w,
            (guint8 *)GST_VIDEO_FRAME_PLANE_DATA (&f, 0)
                + y * GST_VIDEO_FRAME_PLANE_STRIDE (&f, 0),
            w);
  gst_video_frame_unmap (&f);
  gst_sample_unref (g);
  gst_caps_unref (gray);
  return out;
}

/* The picture the stand-in screen shows, converted to @caps (what arrived)
 * and then to GRAY8 as the frame that arrived is: only the conversion
 * rounding of the template's own converter remains. */
static guint8 *
screen_reference (GstCaps *caps)
{
  GstElement *p = gst_parse_launch ("videotestsrc pattern=smpte75 "
                                    "num-buffers=1 ! " PW_SCREEN_CAPS
                                    " ! appsink name=out",
                                    NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "out");
  GstSample *s, *as;
  GError *err = NULL;
  guint8 *px;

  gst_element_set_state (p, GST_STATE_PLAYING);
  s = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
  fail_unless (s != NULL, "no reference picture");
  as = gst_video_convert_sample (s, caps, 10 * GST_SECOND, &err);
  fail_unless (as != NULL, "%s", err ? err->message : "");
  px = gray_pixels (as, PW_W, PW_H);
  gst_sample_unref (as);
  gst_sample_unref (s);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
  return px;
}

GST_START_TEST (test_guest_pipewire_runs)
{
  PwHost h = { 0 };
  GstElement *recv, *src, *sink;
  gchar *secret, *hvar, *svar, *desc, *xdg, *pwdir;
  const gchar *vars[]
      = { NULL, "PIPEWIRE_SOURCE_ARGS=target-object=" PW_NODE, NULL, NULL };
  const gchar *env[] = { NULL, NULL, NULL };
  GSubprocess *sender;
  guint port = 0, off = 0, worst = 0;
  guint8 *want = NULL, *got = NULL;

  pw_host_start (&h);
  secret = g_build_filename (h.dir, "link-secret", NULL);
  fail_unless (g_file_set_contents (secret, "pipewire-run-secret\n", -1, NULL));
  recv = gst_parse_launch ("vsocksrc name=src uri=tcp://127.0.0.1:0 ! "
                           "appsink name=out sync=false max-buffers=2 "
                           "drop=true",
                           NULL);
  fail_unless (recv != NULL);
  src = gst_bin_get_by_name (GST_BIN (recv), "src");
  sink = gst_bin_get_by_name (GST_BIN (recv), "out");
  g_object_set (src, "secret-file", secret, NULL);
  fail_if (gst_element_set_state (recv, GST_STATE_PLAYING)
           == GST_STATE_CHANGE_FAILURE);
  g_object_get (src, "bound-port", &port, NULL);
  fail_unless (port > 0);

  hvar = g_strdup_printf ("HOST_URI=tcp://127.0.0.1:%u", port);
  svar = g_strdup_printf ("LINK_SECRET_FILE=%s", secret);
  vars[0] = hvar;
  vars[2] = svar;
  desc = expand ("guest-pipewire.txt", vars);
  xdg = g_strdup_printf ("XDG_RUNTIME_DIR=%s", h.dir);
  pwdir = g_strdup_printf ("PIPEWIRE_RUNTIME_DIR=%s", h.dir);
  env[0] = xdg;
  env[1] = pwdir;
  sender = spawn_sender (desc, env);

  /* the third frame: past any start-up frame of the screen */
  for (gint i = 0; i < 3; i++) {
    GstSample *s
        = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 30 * GST_SECOND);
    GstVideoInfo info;

    fail_unless (s != NULL,
                 "frame %d of guest-pipewire.txt did not arrive in "
                 "30 s: %s",
                 i, desc);
    fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (s)),
                 "not raw video");
    fail_unless (info.width == PW_W && info.height == PW_H,
                 "the screen is %dx%d, %dx%d arrived", PW_W, PW_H, info.width,
                 info.height);
    fail_unless (gst_buffer_get_size (gst_sample_get_buffer (s)) >= info.size);
    g_free (got);
    got = gray_pixels (s, PW_W, PW_H);
    if (i == 2)
      want = screen_reference (gst_sample_get_caps (s));
    gst_sample_unref (s);
  }
  /* the luma of the test pattern, give or take the rounding of a colour
   * conversion */
  for (guint i = 0; i < PW_W * PW_H; i++) {
    guint d = ABS ((gint)got[i] - (gint)want[i]);
    worst = MAX (worst, d);
    off += d > 3;
  }
  fail_unless (off == 0,
               "%u of %u pixels differ from the screen's (worst by %u)", off,
               PW_W * PW_H, worst);
  VMS_ASSERT_NO_BUS_ERROR (recv);

  g_subprocess_send_signal (sender, SIGTERM);
  g_subprocess_wait (sender, NULL, NULL);
  g_object_unref (sender);
  gst_element_set_state (recv, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (recv);
  pw_host_stop (&h);
  g_free (want);
  g_free (got);
  g_free (secret);
  g_free (hvar);
  g_free (svar);
  g_free (xdg);
  g_free (pwdir);
  g_free (desc);
}

GST_END_TEST;

/* What the PipeWire run needs beyond the rest, or NULL: without it the
 * run is skipped (exit 77) with this reason. */
static const gchar *
pipewire_missing (void)
{
  const gchar *programs[] = { "pipewire", "wireplumber", "dbus-daemon" };

  for (guint i = 0; i < G_N_ELEMENTS (programs); i++) {
    gchar *p = g_find_program_in_path (programs[i]);
    g_free (p);
    if (!p)
      return programs[i];
  }
  if (!vms_test_have_element ("pipewiresrc"))
    return "pipewiresrc";
  if (!vms_test_have_element ("pipewiresink"))
    return "pipewiresink";
  return NULL;
}

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

static Suite *
pipeline_run_pipewire_suite (void)
{
  Suite *s = suite_create ("pipeline-run-pipewire");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_guest_pipewire_runs);
  return s;
}

/* No argument: the host and X11 templates. "pipewire": guest-pipewire.txt
 * on a private PipeWire (its own meson test, skipped without PipeWire). */
int
main (int argc, char **argv)
{
  gboolean pipewire = argc > 1 && strcmp (argv[1], "pipewire") == 0;
  SRunner *sr;
  gint failed;

  gst_check_init (NULL, NULL);
  if (pipewire) {
    const gchar *missing = pipewire_missing ();
    if (missing) {
      g_print ("skip: %s is not installed here, guest-pipewire.txt cannot "
               "run (tools/install-deps.sh installs it)\n",
               missing);
      return 77;
    }
  }
  sr = srunner_create (pipewire ? pipeline_run_pipewire_suite ()
                                : pipeline_run_suite ());
  srunner_run_all (sr, CK_NORMAL);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed != 0;
}
