/* vms-bench: measuring helpers for the bench scripts.
 *
 *   vms-bench rx N 'PIPELINE ending in fakesink name=sink'
 *       runs the pipeline until N buffers reached the sink; prints
 *       "frames=N fps=F mbps=M cpu_user=U cpu_sys=S" measured from the first
 *       to the last buffer (CPU of this process over the same span).
 *   vms-bench raw unix|tcp N SIZE
 *       the physical limit of a copying socket transport: a writer process
 *       write()s N frames of SIZE bytes, a reader read()s them into one
 *       buffer; same socket buffer sizes as the elements (4 MiB).
 *   vms-bench memcpy N SIZE
 *       single-copy bandwidth of this machine for SIZE-byte frames.
 *   vms-bench latency N 'PIPELINE ending in fakesink name=sink'
 *       per-buffer (arrival CLOCK_REALTIME - capture time from the
 *       timestamp/x-unix reference meta): p50/p99/max in microseconds.
 *   vms-bench tx 'PIPELINE with vsocksink name=vsink'
 *       runs a sender pipeline to its end, stamping every buffer with
 *       CLOCK_REALTIME as it enters vsocksink (a timestamp/x-unix reference
 *       meta, which vsocksink sends as capture_time): the receiver's
 *       "latency" then measures vsocksink render -> vsocksrc push alone.
 *   vms-bench rawlatency unix|tcp N SIZE FPS
 *       the same figure for a plain socket: a writer process sends one
 *       SIZE-byte frame every 1/FPS s stamped with CLOCK_REALTIME before
 *       its write; the reader takes the time when the whole frame is in.
 */
#include <gst/gst.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
cpu_s (int who, double *user, double *sys)
{
  struct rusage ru;
  getrusage (who, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  return *user + *sys;
}

typedef struct {
  guint target, count;
  guint64 bytes;
  double t0, t1, u0, s0, u1, s1;
  GMainLoop *loop;
  gboolean latency;
  gint64 *lat_us;
  GstCaps *unix_caps;
} Rx;

static GstPadProbeReturn
rx_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Rx *rx = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (rx->count >= rx->target)
    return GST_PAD_PROBE_OK;
  if (rx->latency) {
    GstReferenceTimestampMeta *m
        = gst_buffer_get_reference_timestamp_meta (buf, rx->unix_caps);
    if (m)
      rx->lat_us[rx->count]
          = (g_get_real_time () * 1000 - (gint64)m->timestamp) / 1000;
  }
  if (rx->count == 0) {
    rx->t0 = now_s ();
    cpu_s (RUSAGE_SELF, &rx->u0, &rx->s0);
  } else {
    rx->bytes += gst_buffer_get_size (buf);
  }
  rx->count++;
  if (rx->count == rx->target) {
    rx->t1 = now_s ();
    cpu_s (RUSAGE_SELF, &rx->u1, &rx->s1);
    g_main_loop_quit (rx->loop);
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
rx_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  Rx *rx = data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err;
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("error: %s\n", err->message);
    g_error_free (err);
    g_main_loop_quit (rx->loop);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    g_main_loop_quit (rx->loop);
  }
  return TRUE;
}

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
  return x < y ? -1 : x > y;
}

static int
run_rx (guint n, const char *desc, gboolean latency)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err), *sink;
  GstPad *pad;
  Rx rx = { 0 };
  GstBus *bus;

  if (!p) {
    g_printerr ("cannot parse: %s\n", err->message);
    return 2;
  }
  sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  if (!sink) {
    g_printerr ("the pipeline needs an element named sink\n");
    return 2;
  }
  rx.target = n;
  rx.loop = g_main_loop_new (NULL, FALSE);
  rx.latency = latency;
  rx.lat_us = g_new0 (gint64, n);
  rx.unix_caps = gst_caps_new_empty_simple ("timestamp/x-unix");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, rx_probe, &rx, NULL);
  bus = gst_element_get_bus (p);
  gst_bus_add_watch (bus, rx_bus, &rx);
  /* Tell the bench script we listen. */
  gst_element_set_state (p, GST_STATE_PLAYING);
  printf ("ready\n");
  fflush (stdout);
  g_main_loop_run (rx.loop);
  gst_element_set_state (p, GST_STATE_NULL);

  if (rx.count < 2) {
    printf ("frames=%u fps=0 mbps=0 cpu_user=0 cpu_sys=0\n", rx.count);
    return 1;
  }
  if (latency) {
    /* The first second is connection set-up and pipeline start: skip it. */
    guint skip = MIN (60, rx.count / 4), m = rx.count - skip;
    gint64 *l = rx.lat_us + skip;
    qsort (l, m, sizeof (gint64), cmp_i64);
    printf ("frames=%u (after %u warm-up) p50_us=%" G_GINT64_FORMAT
            " p99_us=%" G_GINT64_FORMAT " max_us=%" G_GINT64_FORMAT "\n",
            m, skip, l[m / 2], l[(m * 99) / 100], l[m - 1]);
  } else {
    double dt = rx.t1 - rx.t0;
    printf ("frames=%u fps=%.1f mbps=%.1f cpu_user=%.3f cpu_sys=%.3f "
            "seconds=%.3f\n",
            rx.count, (rx.count - 1) / dt, rx.bytes / dt / 1e6, rx.u1 - rx.u0,
            rx.s1 - rx.s0, dt);
  }
  return 0;
}

static void
tune (int fd)
{
  int sz = 4 * 1024 * 1024;
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof (sz)) != 0)
    setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof (sz));
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof (sz)) != 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof (sz));
}

static void
socket_pair (const char *kind, int fds[2])
{
  if (strcmp (kind, "unix") == 0) {
    if (socketpair (AF_UNIX, SOCK_STREAM, 0, fds) != 0)
      abort ();
  } else {
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof (sin);
    int l = socket (AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (l, (struct sockaddr *)&sin, sizeof (sin)) != 0
        || listen (l, 1) != 0
        || getsockname (l, (struct sockaddr *)&sin, &len) != 0)
      abort ();
    fds[0] = socket (AF_INET, SOCK_STREAM, 0);
    tune (fds[0]);
    if (connect (fds[0], (struct sockaddr *)&sin, sizeof (sin)) != 0)
      abort ();
    fds[1] = accept (l, NULL, NULL);
    close (l);
  }
  tune (fds[0]);
  tune (fds[1]);
}

static int
run_raw (const char *kind, guint n, gsize size)
{
  int fds[2];
  pid_t pid;
  guint8 *buf = g_malloc (size);
  double t0 = 0, t1, u0 = 0, s0 = 0, u1, s1;
  guint i;

  memset (buf, 0x5a, size);
  socket_pair (kind, fds);
  pid = fork ();
  if (pid == 0) {
    close (fds[1]);
    for (i = 0; i < n; i++) {
      gsize done = 0;
      while (done < size) {
        ssize_t w = write (fds[0], buf + done, size - done);
        if (w <= 0)
          _exit (1);
        done += w;
      }
    }
    _exit (0);
  }
  close (fds[0]);
  for (i = 0; i < n; i++) {
    gsize done = 0;
    while (done < size) {
      ssize_t r = read (fds[1], buf + done, size - done);
      if (r <= 0)
        return 1;
      done += r;
    }
    if (i == 0) {
      t0 = now_s ();
      cpu_s (RUSAGE_SELF, &u0, &s0);
    }
  }
  t1 = now_s ();
  cpu_s (RUSAGE_SELF, &u1, &s1);
  waitpid (pid, NULL, 0);
  printf ("frames=%u fps=%.1f mbps=%.1f cpu_user=%.3f cpu_sys=%.3f "
          "seconds=%.3f\n",
          n, (n - 1) / (t1 - t0), (double)size * (n - 1) / (t1 - t0) / 1e6,
          u1 - u0, s1 - s0, t1 - t0);
  return 0;
}

static GstPadProbeReturn
stamp_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstCaps *caps = data;
  GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));

  gst_buffer_add_reference_timestamp_meta (
      buf, caps, (GstClockTime)g_get_real_time () * GST_USECOND,
      GST_CLOCK_TIME_NONE);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static int
run_tx (const char *desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err), *vsink;
  GstCaps *caps = gst_caps_new_empty_simple ("timestamp/x-unix");
  GstPad *pad;
  GstBus *bus;
  GstMessage *msg;

  if (!p) {
    g_printerr ("cannot parse: %s\n", err->message);
    return 2;
  }
  vsink = gst_bin_get_by_name (GST_BIN (p), "vsink");
  if (!vsink) {
    g_printerr ("the pipeline needs an element named vsink\n");
    return 2;
  }
  pad = gst_element_get_static_pad (vsink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_probe, caps, NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  bus = gst_element_get_bus (p);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
                                    GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (p, GST_STATE_NULL);
  return msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS ? 0 : 1;
}

static gint64
real_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static int
run_rawlatency (const char *kind, guint n, gsize size, guint fps)
{
  int fds[2];
  pid_t pid;
  guint8 *buf = g_malloc (size);
  gint64 *lat = g_new0 (gint64, n);
  guint i, skip, m;

  memset (buf, 0x5a, size);
  socket_pair (kind, fds);
  pid = fork ();
  if (pid == 0) {
    gint64 next = g_get_monotonic_time ();
    close (fds[1]);
    for (i = 0; i < n; i++) {
      gsize done = 0;
      gint64 now, t;
      next += G_USEC_PER_SEC / fps;
      now = g_get_monotonic_time ();
      if (next > now)
        g_usleep (next - now);
      t = real_ns ();
      memcpy (buf, &t, sizeof (t));
      while (done < size) {
        ssize_t w = write (fds[0], buf + done, size - done);
        if (w <= 0)
          _exit (1);
        done += w;
      }
    }
    _exit (0);
  }
  close (fds[0]);
  for (i = 0; i < n; i++) {
    gsize done = 0;
    gint64 t;
    while (done < size) {
      ssize_t r = read (fds[1], buf + done, size - done);
      if (r <= 0)
        return 1;
      done += r;
    }
    memcpy (&t, buf, sizeof (t));
    lat[i] = (real_ns () - t) / 1000;
  }
  waitpid (pid, NULL, 0);
  skip = MIN (60, n / 4);
  m = n - skip;
  qsort (lat + skip, m, sizeof (gint64), cmp_i64);
  printf ("frames=%u (after %u warm-up) p50_us=%" G_GINT64_FORMAT
          " p99_us=%" G_GINT64_FORMAT " max_us=%" G_GINT64_FORMAT "\n",
          m, skip, lat[skip + m / 2], lat[skip + (m * 99) / 100], lat[n - 1]);
  return 0;
}

static int
run_memcpy (guint n, gsize size)
{
  guint8 *a = g_malloc (size), *b = g_malloc (size);
  double t0, t1;
  guint i;

  memset (a, 1, size);
  memset (b, 2, size);
  t0 = now_s ();
  for (i = 0; i < n; i++) {
    memcpy (i & 1 ? a : b, i & 1 ? b : a, size);
  }
  t1 = now_s ();
  printf ("frames=%u fps=%.1f mbps=%.1f check=%d\n", n, n / (t1 - t0),
          (double)size * n / (t1 - t0) / 1e6, a[size / 2] + b[0]);
  return 0;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc == 4 && strcmp (argv[1], "rx") == 0)
    return run_rx (atoi (argv[2]), argv[3], FALSE);
  if (argc == 4 && strcmp (argv[1], "latency") == 0)
    return run_rx (atoi (argv[2]), argv[3], TRUE);
  if (argc == 5 && strcmp (argv[1], "raw") == 0)
    return run_raw (argv[2], atoi (argv[3]), atol (argv[4]));
  if (argc == 3 && strcmp (argv[1], "tx") == 0)
    return run_tx (argv[2]);
  if (argc == 6 && strcmp (argv[1], "rawlatency") == 0)
    return run_rawlatency (argv[2], atoi (argv[3]), atol (argv[4]),
                           atoi (argv[5]));
  if (argc == 4 && strcmp (argv[1], "memcpy") == 0)
    return run_memcpy (atoi (argv[2]), atol (argv[3]));
  g_printerr ("usage: vms-bench rx N PIPELINE | latency N PIPELINE | "
              "tx PIPELINE | raw unix|tcp N SIZE | "
              "rawlatency unix|tcp N SIZE FPS | "
              "memcpy N SIZE\n");
  return 2;
}
