/* qemudisplaysrc against a fake VNC server in this test, on a Unix socket:
 * black frames while nothing listens, a server demanding a password is
 * refused with a warning, then two different frames and a DesktopSize
 * change arrive byte for byte in the pushed buffers with renegotiated
 * caps; the server disappears (frames go on, a warning) and comes back
 * (frames from the new server). Servers that break the protocol (a
 * rectangle outside, an encoding not asked for, a 60000x60000 desktop) are
 * dropped with a warning and the last picture stays. A test measures how many
 * complete 1280x720 updates per second the element takes from a server that
 * answers every request at once, and the steadiness of the pushed rate. */
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static gchar *
tmp_socket_path (void)
{
  gchar *dir = g_dir_make_tmp ("qemudisplaysrc-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "vnc.sock", NULL);
  g_free (dir);
  return path;
}

static gint
listen_unix (const gchar *path)
{
  struct sockaddr_un sun = { 0 };
  gint fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  sun.sun_family = AF_UNIX;
  g_strlcpy (sun.sun_path, path, sizeof (sun.sun_path));
  unlink (path);
  fail_unless (bind (fd, (struct sockaddr *)&sun, sizeof (sun)) == 0);
  fail_unless (listen (fd, 4) == 0);
  return fd;
}

static gboolean
wait_fd (gint fd, gshort events, gint timeout_ms)
{
  struct pollfd p = { fd, events, 0 };
  gint rc;
  do
    rc = poll (&p, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  return rc > 0;
}

static gint
accept_client (gint lfd)
{
  fail_unless (wait_fd (lfd, POLLIN, 10000), "qemudisplaysrc did not connect");
  return accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void
write_all (gint fd, const void *data, gsize len)
{
  const guint8 *p = data;
  while (len > 0) {
    ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    fail_unless (n > 0, "send: %s", g_strerror (errno));
    p += n;
    len -= n;
  }
}

static void
read_exact (gint fd, void *data, gsize len)
{
  guint8 *p = data;
  while (len > 0) {
    ssize_t n;
    fail_unless (wait_fd (fd, POLLIN, 10000), "the client sent nothing");
    n = read (fd, p, len);
    fail_unless (n > 0, "read: %s", n < 0 ? g_strerror (errno) : "EOF");
    p += n;
    len -= n;
  }
}

static void
put16 (guint8 *p, guint v)
{
  p[0] = v >> 8;
  p[1] = v;
}

static void
put32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

/* The server's side of the handshake, checking the client's messages. */
static void
server_handshake (gint fd, guint w, guint h)
{
  guint8 buf[64], init[24 + 4];
  static const guint8 pixel_format[20]
      = { 0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0 };
  static const guint8 encodings[12]
      = { 2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21 };

  write_all (fd, "RFB 003.008\n", 12);
  read_exact (fd, buf, 12);
  fail_unless (memcmp (buf, "RFB 003.008\n", 12) == 0);
  write_all (fd, "\x01\x01", 2); /* one security type: None */
  read_exact (fd, buf, 1);
  fail_unless_equals_int (buf[0], 1);
  write_all (fd, "\0\0\0\0", 4);
  read_exact (fd, buf, 1); /* ClientInit */
  fail_unless_equals_int (buf[0], 1);
  memset (init, 0, sizeof (init));
  put16 (init, w);
  put16 (init + 2, h);
  put32 (init + 20, 4);
  memcpy (init + 24, "fake", 4);
  write_all (fd, init, sizeof (init));
  read_exact (fd, buf, 20);
  fail_unless (memcmp (buf, pixel_format, 20) == 0);
  read_exact (fd, buf, 12);
  fail_unless (memcmp (buf, encodings, 12) == 0);
}

/* Reads one FramebufferUpdateRequest; returns its incremental flag. */
static gboolean
read_request (gint fd, guint w, guint h)
{
  guint8 buf[10];

  read_exact (fd, buf, 10);
  fail_unless_equals_int (buf[0], 3);
  fail_unless_equals_int (GST_READ_UINT16_BE (buf + 6), w);
  fail_unless_equals_int (GST_READ_UINT16_BE (buf + 8), h);
  return buf[1];
}

static guint8 *
make_frame (guint w, guint h, guint seed)
{
  guint8 *f = g_malloc ((gsize)w * h * 4);
  for (gsize i = 0; i < (gsize)w * h * 4; i++)
    f[i] = (i * 31 + seed * 97 + i / 4093) & 0xff;
  return f;
}

/* One FramebufferUpdate: optionally a DesktopSize, then the whole frame as
 * two raw rectangles (top half, bottom half). */
static void
send_frame (gint fd, const guint8 *f, guint w, guint h, gboolean resize)
{
  guint8 hdr[4] = { 0, 0, 0, 0 }, r[12];
  guint top = h / 2;

  put16 (hdr + 2, resize ? 3 : 2);
  write_all (fd, hdr, 4);
  if (resize) {
    memset (r, 0, sizeof (r));
    put16 (r + 4, w);
    put16 (r + 6, h);
    put32 (r + 8, (guint32)-223);
    write_all (fd, r, 12);
  }
  memset (r, 0, sizeof (r));
  put16 (r + 4, w);
  put16 (r + 6, top);
  write_all (fd, r, 12);
  write_all (fd, f, (gsize)w * top * 4);
  put16 (r + 2, top);
  put16 (r + 6, h - top);
  write_all (fd, r, 12);
  write_all (fd, f + (gsize)w * top * 4, (gsize)w * (h - top) * 4);
}

static gboolean
sample_is (GstSample *s, const guint8 *f, guint w, guint h)
{
  GstVideoInfo info;
  GstBuffer *b = gst_sample_get_buffer (s);
  GstMapInfo map;
  gboolean same;

  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (s)));
  fail_unless_equals_int (GST_VIDEO_INFO_FORMAT (&info), GST_VIDEO_FORMAT_BGRx);
  if ((guint)info.width != w || (guint)info.height != h)
    return FALSE;
  gst_buffer_map (b, &map, GST_MAP_READ);
  same = map.size == (gsize)w * h * 4
         && (f == NULL ? map.data[0] == 0 && map.data[map.size - 1] == 0
                       : memcmp (map.data, f, map.size) == 0);
  gst_buffer_unmap (b, &map);
  return same;
}

/* Pulls until a buffer shows frame f (NULL: black) at w x h. */
static void
wait_for_frame (GstAppSink *sink, const guint8 *f, guint w, guint h)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, GST_SECOND);
    gboolean ok;
    if (s == NULL)
      continue;
    ok = sample_is (s, f, w, h);
    if (ok) {
      GstBuffer *b = gst_sample_get_buffer (s);
      static GstStaticCaps unix_ts = GST_STATIC_CAPS ("timestamp/x-unix");
      GstCaps *ts = gst_static_caps_get (&unix_ts);
      GstReferenceTimestampMeta *m
          = gst_buffer_get_reference_timestamp_meta (b, ts);
      gst_caps_unref (ts);
      fail_unless (GST_BUFFER_PTS_IS_VALID (b));
      if (f) { /* pictures from the server carry their arrival time */
        gint64 now = g_get_real_time () * 1000;
        fail_unless (m != NULL);
        fail_unless (m->timestamp <= (guint64)now
                     && m->timestamp > (guint64)now - 20 * GST_SECOND);
      }
    }
    gst_sample_unref (s);
    if (ok)
      return;
  }
  fail ("no %ux%u %s frame within 10 s", w, h, f ? "expected" : "black");
}

static gboolean
bus_has_warning (GstBus *bus, const gchar *text)
{
  GstMessage *m;
  gboolean found = FALSE;

  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
    GError *err = NULL;
    gst_message_parse_warning (m, &err, NULL);
    GST_INFO ("warning: %s", err->message);
    found |= strstr (err->message, text) != NULL;
    g_error_free (err);
    gst_message_unref (m);
  }
  return found;
}

/* Pops warnings until one contains text (up to 5 s): the element posts it
 * just after it hung up, so the hang-up may be seen first. */
static gboolean
wait_warning (GstBus *bus, const gchar *text)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
                                                GST_MESSAGE_WARNING);
    GError *err = NULL;
    gboolean found;

    if (m == NULL)
      continue;
    gst_message_parse_warning (m, &err, NULL);
    found = strstr (err->message, text) != NULL;
    GST_INFO ("warning: %s", err->message);
    g_error_free (err);
    gst_message_unref (m);
    if (found)
      return TRUE;
  }
  return FALSE;
}

static GstElement *
make_pipeline (const gchar *path, const gchar *rate, GstAppSink **sink)
{
  gchar *desc
      = g_strdup_printf ("qemudisplaysrc name=src socket=%s framerate=%s ! "
                         "appsink name=sink max-buffers=4 drop=true sync=false",
                         path, rate);
  GstElement *p = gst_parse_launch (desc, NULL);
  fail_unless (p != NULL);
  g_free (desc);
  *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  return p;
}

GST_START_TEST (test_frames_resize_reconnect)
{
  gchar *path = tmp_socket_path ();
  GstAppSink *sink;
  GstElement *p = make_pipeline (path, "30/1", &sink);
  GstBus *bus = gst_element_get_bus (p);
  guint8 *a = make_frame (64, 48, 1), *b = make_frame (64, 48, 2);
  guint8 *c = make_frame (96, 40, 3), *d = make_frame (50, 30, 4);
  gint lfd, fd;

  /* nothing listens yet: black 640x480 frames and a warning */
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  wait_for_frame (sink, NULL, 640, 480);
  wait_for_frame (sink, NULL, 640, 480);
  fail_unless (bus_has_warning (bus, "Cannot connect to QEMU's VNC socket"));

  /* a server that wants a password is refused, with a sentence */
  lfd = listen_unix (path);
  fd = accept_client (lfd);
  write_all (fd, "RFB 003.008\n\x01\x02", 14);
  /* the client hangs up (EOF) without sending anything but its version */
  fail_unless (wait_fd (fd, POLLIN, 5000));
  close (fd);

  /* a good server: two frames, bytes in = bytes out */
  fd = accept_client (lfd);
  server_handshake (fd, 64, 48);
  fail_if (read_request (fd, 64, 48)); /* the first request: full */
  fail_unless (bus_has_warning (bus, "requires authentication"));
  send_frame (fd, a, 64, 48, FALSE);
  wait_for_frame (sink, a, 64, 48);
  fail_unless (read_request (fd, 64, 48)); /* then incremental */
  send_frame (fd, b, 64, 48, FALSE);
  wait_for_frame (sink, b, 64, 48);

  /* the guest changes resolution: caps follow */
  fail_unless (read_request (fd, 64, 48));
  send_frame (fd, c, 96, 40, TRUE);
  wait_for_frame (sink, c, 96, 40);
  /* the pipelined request sent with the update's header, then a full
   * one after the resize */
  fail_unless (read_request (fd, 64, 48));
  fail_if (read_request (fd, 96, 40));

  /* QEMU goes away: the last frame keeps coming, a warning says so */
  close (fd);
  close (lfd);
  unlink (path);
  fail_unless (wait_warning (bus, "Lost the connection"));
  for (int i = 0; i < 10; i++)
    wait_for_frame (sink, c, 96, 40);

  /* and comes back */
  lfd = listen_unix (path);
  fd = accept_client (lfd);
  server_handshake (fd, 50, 30);
  fail_if (read_request (fd, 50, 30));
  send_frame (fd, d, 50, 30, FALSE);
  wait_for_frame (sink, d, 50, 30);
  {
    GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
    GstStructure *st;
    guint64 n;
    g_object_get (src, "stats", &st, NULL);
    fail_unless (gst_structure_get_uint64 (st, "connections", &n));
    fail_unless_equals_int (n, 2);
    fail_unless (gst_structure_get_uint64 (st, "updates-received", &n));
    fail_unless_equals_int (n, 4);
    fail_unless (gst_structure_get_uint64 (st, "caps-changes", &n));
    fail_unless (n >= 3, "caps-changes %" G_GUINT64_FORMAT, n);
    gst_structure_free (st);
    gst_object_unref (src);
  }

  /* stopping while connected returns at once */
  fail_unless (gst_element_set_state (p, GST_STATE_NULL)
               == GST_STATE_CHANGE_SUCCESS);
  close (fd);
  close (lfd);
  unlink (path);
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (d);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (path);
}

GST_END_TEST;

/* A server that answers every request with a full 1280x720 frame; prints
 * complete updates per second and pushed frames per second. */
GST_START_TEST (test_update_rate)
{
  gchar *path = tmp_socket_path ();
  GstAppSink *sink;
  GstElement *p = make_pipeline (path, "30/1", &sink);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  guint8 *f = make_frame (1280, 720, 5);
  gint lfd = listen_unix (path), fd;
  gint64 start, end;
  guint sent = 0, pushed = 0;
  GstStructure *st;
  guint64 updates;

  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  fd = accept_client (lfd);
  server_handshake (fd, 1280, 720);
  start = g_get_monotonic_time ();
  end = start + 2 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end) {
    GstSample *s;
    read_request (fd, 1280, 720);
    f[sent % 4096] ^= 0xff; /* a different picture each time */
    send_frame (fd, f, 1280, 720, FALSE);
    sent++;
    while ((s = gst_app_sink_try_pull_sample (sink, 0))) {
      pushed++;
      gst_sample_unref (s);
    }
  }
  /* the request after the last update went out with its header: wait
   * until that update was taken whole too */
  read_request (fd, 1280, 720);
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  do {
    g_object_get (src, "stats", &st, NULL);
    fail_unless (gst_structure_get_uint64 (st, "updates-received", &updates));
    gst_structure_free (st);
  } while (updates < sent && g_get_monotonic_time () < end
           && (g_usleep (1000), TRUE));
  g_print ("qemudisplaysrc: %.1f complete 1280x720 updates/s taken from a "
           "fake server, %u frames pushed in 2 s at framerate=30\n",
           updates / 2.0, pushed);
  fail_unless_equals_int (updates, sent);
  fail_unless (pushed >= 40 && pushed <= 66, "%u frames in 2 s", pushed);

  fail_unless (gst_element_set_state (p, GST_STATE_NULL)
               == GST_STATE_CHANGE_SUCCESS);
  close (fd);
  close (lfd);
  unlink (path);
  g_free (f);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (path);
}

GST_END_TEST;

/* A server breaking the protocol (a rectangle outside its framebuffer, an
 * encoding not asked for, a huge size) is dropped with a warning naming the
 * problem; the picture before it stays, and the next server is shown. */
GST_START_TEST (test_malformed_server)
{
  gchar *path = tmp_socket_path ();
  GstAppSink *sink;
  GstElement *p = make_pipeline (path, "30/1", &sink);
  GstBus *bus = gst_element_get_bus (p);
  guint8 *a = make_frame (32, 16, 7), *b = make_frame (32, 16, 8);
  gint lfd = listen_unix (path), fd;
  guint8 bad[4 + 12];

  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  fd = accept_client (lfd);
  server_handshake (fd, 32, 16);
  read_request (fd, 32, 16);
  send_frame (fd, a, 32, 16, FALSE);
  wait_for_frame (sink, a, 32, 16);

  /* a rectangle at (30, 0) of 4x1 in a 32-wide framebuffer */
  read_request (fd, 32, 16);
  memset (bad, 0, sizeof (bad));
  put16 (bad + 2, 1);
  put16 (bad + 4, 30);
  put16 (bad + 8, 4);
  put16 (bad + 10, 1);
  write_all (fd, bad, sizeof (bad));
  fail_unless (wait_fd (fd, POLLIN, 5000)); /* the client hangs up */
  close (fd);
  fail_unless (wait_warning (bus, "outside its 32x16 framebuffer"));
  for (int i = 0; i < 3; i++)
    wait_for_frame (sink, a, 32, 16);

  /* ZRLE, which was not asked for */
  fd = accept_client (lfd);
  server_handshake (fd, 32, 16);
  read_request (fd, 32, 16);
  memset (bad, 0, sizeof (bad));
  put16 (bad + 2, 1);
  put16 (bad + 8, 1);
  put16 (bad + 10, 1);
  put32 (bad + 12, 16);
  write_all (fd, bad, sizeof (bad));
  fail_unless (wait_fd (fd, POLLIN, 5000));
  close (fd);
  fail_unless (wait_warning (bus, "encoding 16, which was not asked for"));

  /* a 60000x60000 desktop in ServerInit */
  fd = accept_client (lfd);
  {
    guint8 buf[64], init[24] = { 0 };
    write_all (fd, "RFB 003.008\n\x01\x01", 14);
    read_exact (fd, buf, 13);
    write_all (fd, "\0\0\0\0", 4);
    read_exact (fd, buf, 1);
    put16 (init, 60000);
    put16 (init + 2, 60000);
    write_all (fd, init, sizeof (init));
  }
  fail_unless (wait_fd (fd, POLLIN, 5000));
  close (fd);
  fail_unless (wait_warning (bus, "larger than the 8192x8192 accepted"));

  /* and a good server again */
  fd = accept_client (lfd);
  server_handshake (fd, 32, 16);
  read_request (fd, 32, 16);
  send_frame (fd, b, 32, 16, FALSE);
  wait_for_frame (sink, b, 32, 16);

  fail_unless (gst_element_set_state (p, GST_STATE_NULL)
               == GST_STATE_CHANGE_SUCCESS);
  close (fd);
  close (lfd);
  unlink (path);
  g_free (a);
  g_free (b);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (path);
}

GST_END_TEST;

/* No socket property: an error with a sentence; NULL while reconnecting
 * never hangs. */
GST_START_TEST (test_no_socket_and_stop)
{
  GstElement *src = gst_element_factory_make ("qemudisplaysrc", NULL);
  GstElement *pipe = gst_pipeline_new (NULL), *sink;
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *m;
  GError *err = NULL;

  sink = gst_element_factory_make ("fakesink", NULL);
  gst_bin_add_many (GST_BIN (pipe), src, sink, NULL);
  fail_unless (gst_element_link (src, sink));
  fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING)
               == GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL);
  gst_message_parse_error (m, &err, NULL);
  fail_unless (strstr (err->message, "socket property") != NULL, "%s",
               err->message);
  g_error_free (err);
  gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);

  /* a missing socket: PLAYING, then NULL, repeatedly */
  g_object_set (src, "socket", "/nonexistent/qemudisplaysrc/vnc.sock", NULL);
  for (int i = 0; i < 5; i++) {
    gint64 t0;
    fail_unless (gst_element_set_state (pipe, GST_STATE_PLAYING)
                 != GST_STATE_CHANGE_FAILURE);
    g_usleep (100 * 1000 * i);
    t0 = g_get_monotonic_time ();
    fail_unless (gst_element_set_state (pipe, GST_STATE_NULL)
                 == GST_STATE_CHANGE_SUCCESS);
    fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC);
  }
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

GST_END_TEST;

/* Pulls what arrives within ms milliseconds; returns how many buffers. */
static guint
count_pushed (GstAppSink *sink, gint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint n = 0;
  GstSample *s;

  while (g_get_monotonic_time () < end)
    if ((s = gst_app_sink_try_pull_sample (sink, 10 * GST_MSECOND))) {
      n++;
      gst_sample_unref (s);
    }
  return n;
}

static guint64
stat_of (GstElement *p, const gchar *name)
{
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstStructure *st;
  guint64 v = 0;

  g_object_get (src, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, name, &v));
  gst_structure_free (st);
  gst_object_unref (src);
  return v;
}

/* new-pictures-only: while the server sends nothing the element pushes
 * only its keepalive repeats (here every 300 ms, not 30 a second), and a
 * change from the server is pushed at once; timestamps grow. */
GST_START_TEST (test_new_pictures_only)
{
  gchar *path = tmp_socket_path ();
  GstAppSink *sink;
  GstElement *p = make_pipeline (
      path, "30/1 new-pictures-only=true keepalive=300", &sink);
  guint8 *a = make_frame (64, 48, 1), *b = make_frame (64, 48, 2);
  gint lfd = listen_unix (path), fd;
  guint idle;
  guint64 repeats;

  g_object_set (sink, "max-buffers", 100, "drop", FALSE, NULL);
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  fd = accept_client (lfd);
  server_handshake (fd, 64, 48);
  fail_if (read_request (fd, 64, 48));
  send_frame (fd, a, 64, 48, FALSE);
  wait_for_frame (sink, a, 64, 48);
  fail_unless (read_request (fd, 64, 48));

  /* the server is silent for 1.5 s: keepalives only */
  idle = count_pushed (sink, 1500);
  repeats = stat_of (p, "repeats");
  g_print ("qemudisplaysrc new-pictures-only: %u frames pushed in 1.5 s "
           "without an update (keepalive 300 ms; steady would be 45)\n",
           idle);
  fail_unless (idle >= 2 && idle <= 8, "%u frames while idle", idle);
  fail_unless (repeats >= 2, "%" G_GUINT64_FORMAT " repeats", repeats);

  /* an update is pushed, the following silence pushes nothing new */
  send_frame (fd, b, 64, 48, FALSE);
  wait_for_frame (sink, b, 64, 48);
  fail_unless_equals_int (stat_of (p, "updates-received"), 2);

  fail_unless (gst_element_set_state (p, GST_STATE_NULL)
               == GST_STATE_CHANGE_SUCCESS);
  close (fd);
  close (lfd);
  unlink (path);
  g_free (a);
  g_free (b);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (path);
}

GST_END_TEST;

/* Pulls until a keyframe (no DELTA_UNIT flag) arrives; FALSE after ms. */
static gboolean
wait_keyframe (GstAppSink *sink, gint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, 10 * GST_MSECOND);
    gboolean key;
    if (s == NULL)
      continue;
    key = !GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (s),
                                   GST_BUFFER_FLAG_DELTA_UNIT);
    gst_sample_unref (s);
    if (key)
      return TRUE;
  }
  return FALSE;
}

/* A viewer joining an idle new-pictures-only stream (wsh264sink sends a
 * force-key-unit event upstream) gets a keyframe at once: vmstreamenc
 * passes the request on and the source pushes the last picture for it,
 * long before the keepalive would: with a keepalive of 60 s and
 * key-int-max=1000, no other keyframe can come within the 20 s this waits
 * (1.5 s was too tight under AddressSanitizer in CI: a bound on speed). */
GST_START_TEST (test_keyframe_on_join_idle)
{
  gchar *path = tmp_socket_path ();
  gchar *desc;
  GstElement *p;
  GstAppSink *sink;
  guint8 *a = make_frame (64, 48, 1);
  gint lfd, fd;

  if (!gst_registry_check_feature_version (gst_registry_get (), "x264enc", 1, 0,
                                           0)) {
    g_print ("skipped: no x264enc\n");
    g_free (path);
    g_free (a);
    return;
  }
  lfd = listen_unix (path);
  desc = g_strdup_printf (
      "qemudisplaysrc name=src socket=%s new-pictures-only=true "
      "keepalive=60000 ! vmstreamenc encoder=x264 probe=false quality=26 "
      "key-int-max=1000 ! appsink name=sink max-buffers=100 sync=false",
      path);
  p = gst_parse_launch (desc, NULL);
  g_free (desc);
  fail_unless (p != NULL);
  sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  fail_unless (gst_element_set_state (p, GST_STATE_PLAYING)
               != GST_STATE_CHANGE_FAILURE);
  fd = accept_client (lfd);
  server_handshake (fd, 64, 48);
  fail_if (read_request (fd, 64, 48));
  send_frame (fd, a, 64, 48, FALSE);
  fail_unless (wait_keyframe (sink, 5000), "no first keyframe");
  /* idle now: drain what is left of the start */
  count_pushed (sink, 300);

  gst_element_send_event (GST_ELEMENT (sink),
                          gst_video_event_new_upstream_force_key_unit (
                              GST_CLOCK_TIME_NONE, TRUE, 1));
  fail_unless (wait_keyframe (sink, 20000),
               "no keyframe within 20 s of a viewer's request on an idle "
               "stream (the keepalive is 60 s)");
  fail_unless (stat_of (p, "repeats") >= 1);

  fail_unless (gst_element_set_state (p, GST_STATE_NULL)
               == GST_STATE_CHANGE_SUCCESS);
  close (fd);
  close (lfd);
  unlink (path);
  g_free (a);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (path);
}

GST_END_TEST;

static Suite *
qemudisplaysrc_suite (void)
{
  Suite *s = suite_create ("qemudisplaysrc");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_frames_resize_reconnect);
  tcase_add_test (tc, test_update_rate);
  tcase_add_test (tc, test_malformed_server);
  tcase_add_test (tc, test_no_socket_and_stop);
  tcase_add_test (tc, test_new_pictures_only);
  tcase_add_test (tc, test_keyframe_on_join_idle);
  return s;
}

GST_CHECK_MAIN (qemudisplaysrc);
