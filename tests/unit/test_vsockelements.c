/* GstHarness tests of vsocksink and vsocksrc against a fake peer that
 * speaks the wire protocol directly. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gst/app/gstappsink.h>
#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../vmstest.h"
#include <time.h>
#include <unistd.h>

#include "vmsprotocol.h"

#define W 64
#define H 48
#define NV12_CAPS "video/x-raw,format=NV12,width=64,height=48,framerate=30/1"

static gchar *tmpdir;

static gchar *
sock_path (const gchar *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("vmstest-XXXXXX", NULL);
}

static void
teardown (void)
{
  GDir *d = g_dir_open (tmpdir, 0, NULL);
  const gchar *n;

  while ((n = g_dir_read_name (d)) != NULL) {
    gchar *p = g_build_filename (tmpdir, n, NULL);
    unlink (p);
    g_free (p);
  }
  g_dir_close (d);
  rmdir (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

/* ---- raw socket helpers (blocking) ---- */

#define write_all vms_test_write_all
#define read_all vms_test_read_all

static gint
unix_listen (const gchar *path)
{
  struct sockaddr_un sun = { AF_UNIX };
  gint fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (sun.sun_path, path, sizeof (sun.sun_path));
  fail_unless (bind (fd, (struct sockaddr *)&sun, sizeof (sun)) == 0);
  fail_unless (listen (fd, 4) == 0);
  return fd;
}

static gint
unix_connect (const gchar *path)
{
  struct sockaddr_un sun = { AF_UNIX };
  gint fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_strlcpy (sun.sun_path, path, sizeof (sun.sun_path));
  fail_unless (connect (fd, (struct sockaddr *)&sun, sizeof (sun)) == 0,
               "connect %s: %s", path, g_strerror (errno));
  return fd;
}

static void
send_hello (gint fd, const gchar *caps)
{
  guint8 buf[VMS_HELLO_SIZE];
  VmsHello h
      = { VMS_PROTOCOL_VERSION, VMS_HELLO_FLAG_BACK_CHANNEL, strlen (caps) };

  vms_hello_write (buf, &h);
  write_all (fd, buf, sizeof (buf));
  write_all (fd, caps, strlen (caps));
}

static VmsWelcome
read_welcome (gint fd)
{
  guint8 buf[VMS_WELCOME_SIZE];
  VmsWelcome w;

  fail_unless (read_all (fd, buf, sizeof (buf)));
  fail_unless (vms_welcome_parse (buf, sizeof (buf), &w, NULL));
  return w;
}

/* Answers the source's CHALLENGE (version 2) with @secret's proof, or with
 * no proof when @secret is NULL, and returns the WELCOME that follows. A
 * source refusing before the challenge answers WELCOME at once. */
static VmsWelcome
answer_challenge (gint fd, const gchar *secret)
{
  guint8 buf[VMS_CHALLENGE_SIZE], ab[VMS_AUTH_SIZE];
  VmsChallenge c;
  VmsAuth a = { VMS_PROTOCOL_VERSION, 0, { 0 } };
  VmsWelcome w;

  fail_unless (read_all (fd, buf, VMS_WELCOME_SIZE));
  if (vms_welcome_parse (buf, VMS_WELCOME_SIZE, &w, NULL))
    return w;
  fail_unless (read_all (fd, buf + VMS_WELCOME_SIZE,
                         VMS_CHALLENGE_SIZE - VMS_WELCOME_SIZE));
  fail_unless (vms_challenge_parse (buf, sizeof (buf), &c, NULL));
  if (secret != NULL) {
    a.flags = VMS_AUTH_FLAG_MAC;
    vms_auth_compute_mac ((const guint8 *)secret, strlen (secret), c.nonce,
                          a.mac);
  }
  vms_auth_write (ab, &a);
  write_all (fd, ab, sizeof (ab));
  return read_welcome (fd);
}

/* HELLO + CHALLENGE/AUTH: the WELCOME status. */
static guint16
handshake (gint fd, const gchar *caps, const gchar *secret)
{
  send_hello (fd, caps);
  return answer_challenge (fd, secret).status;
}

static void
send_header (gint fd, const VmsMsgHeader *h)
{
  guint8 buf[VMS_MSG_HEADER_SIZE];
  vms_msg_header_write (buf, h);
  write_all (fd, buf, sizeof (buf));
}

static void
send_frame (gint fd, const VmsMsgHeader *h, const guint8 *payload)
{
  send_header (fd, h);
  write_all (fd, payload, h->size);
}

/* A guest connection that completed the handshake. */
static gint
guest_connect (const gchar *path, const gchar *caps)
{
  gint fd = unix_connect (path);
  VmsWelcome w;

  send_hello (fd, caps);
  w = answer_challenge (fd, NULL);
  fail_unless_equals_int (w.status, VMS_STATUS_OK);
  fail_unless (w.max_frame > 0);
  return fd;
}

static VmsMsgHeader
frame_header (guint32 size, guint64 seq, guint stride)
{
  VmsMsgHeader h = { 0 };

  h.type = VMS_MSG_FRAME;
  h.flags = VMS_FRAME_FLAG_VIDEO_META;
  h.pts = seq * GST_SECOND / 30;
  h.dts = GST_CLOCK_TIME_NONE;
  h.duration = GST_SECOND / 30;
  h.capture_time = G_GUINT64_CONSTANT (1790000000000000000) + seq;
  h.seq = seq;
  h.size = size;
  h.n_planes = 2;
  h.offset[0] = 0;
  h.offset[1] = stride * H;
  h.stride[0] = h.stride[1] = stride;
  return h;
}

static guint8 *
pattern (gsize size, guint seed)
{
  guint8 *p = g_malloc (size);
  gsize i;
  for (i = 0; i < size; i++)
    p[i] = (guint8)(i * 31 + seed);
  return p;
}

static GstMessage *
pop_message (GstBus *bus, GstMessageType type)
{
  return gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, type);
}

/* Pops errors until one mentions @needle. */
static void
expect_error (GstBus *bus, const gchar *needle)
{
  for (;;) {
    GstMessage *msg = pop_message (bus, GST_MESSAGE_ERROR);
    GError *err = NULL;
    gboolean found;

    fail_unless (msg != NULL, "no error mentioning \"%s\"", needle);
    gst_message_parse_error (msg, &err, NULL);
    GST_INFO ("error: %s", err->message);
    found = strstr (err->message, needle) != NULL;
    g_clear_error (&err);
    gst_message_unref (msg);
    if (found)
      return;
  }
}

/* ================= vsocksrc ================= */

static GstHarness *
src_harness (const gchar *path, GstBus **bus)
{
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  gchar *uri = g_strdup_printf ("unix://%s", path);

  g_object_set (h->element, "uri", uri, "handshake-timeout", 2000, NULL);
  g_free (uri);
  *bus = gst_bus_new ();
  gst_element_set_bus (h->element, *bus);
  gst_harness_play (h);
  return h;
}

GST_START_TEST (test_src_receives_frame_with_layout)
{
  gchar *path = sock_path ("src.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  guint stride = 80, size = stride * H + stride * H / 2;
  VmsMsgHeader hdr = frame_header (size, 5, stride);
  guint8 *payload = pattern (size, 7);
  GstBuffer *buf;
  GstVideoMeta *vmeta;
  GstReferenceTimestampMeta *ts;
  GstCaps *caps, *unix_caps;
  GstMapInfo map;
  gint fd;

  fd = guest_connect (path, NV12_CAPS);
  send_header (fd, &hdr);
  write_all (fd, payload, size);

  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  fail_unless_equals_int (gst_buffer_get_size (buf), size);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  fail_unless (memcmp (map.data, payload, size) == 0);
  gst_buffer_unmap (buf, &map);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  fail_unless (GST_BUFFER_PTS_IS_VALID (buf));
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), GST_SECOND / 30);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 5);
  vmeta = gst_buffer_get_video_meta (buf);
  fail_unless (vmeta != NULL);
  fail_unless_equals_int (vmeta->format, GST_VIDEO_FORMAT_NV12);
  fail_unless_equals_int (vmeta->n_planes, 2);
  fail_unless_equals_int (vmeta->stride[0], 80);
  fail_unless_equals_int (vmeta->offset[1], 80 * H);
  unix_caps = gst_caps_new_empty_simple ("timestamp/x-unix");
  ts = gst_buffer_get_reference_timestamp_meta (buf, unix_caps);
  fail_unless (ts != NULL);
  fail_unless_equals_uint64 (ts->timestamp, hdr.capture_time);
  gst_caps_unref (unix_caps);
  gst_buffer_unref (buf);

  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_caps_is_equal (caps, gst_caps_from_string (NV12_CAPS)));
  gst_caps_unref (caps);

  /* second frame: default layout, no DISCONT */
  hdr = frame_header (W * H * 3 / 2, 6, W);
  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  fail_if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  fail_unless_equals_int (gst_buffer_get_size (buf), W * H * 3 / 2);
  gst_buffer_unref (buf);

  close (fd);
  g_free (payload);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_src_caps_message_renegotiates)
{
  gchar *path = sock_path ("caps.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  const gchar *caps2 = "video/x-raw,format=NV12,width=32,height=16,"
                       "framerate=30/1";
  VmsMsgHeader hdr = { 0 };
  GstBuffer *buf;
  GstCaps *caps;
  guint8 *payload = pattern (32 * 16 * 3 / 2, 1);
  gint fd;
  GstStructure *stats;
  guint64 changes;

  fd = guest_connect (path, NV12_CAPS);
  hdr.type = VMS_MSG_CAPS;
  hdr.size = strlen (caps2);
  send_header (fd, &hdr);
  write_all (fd, caps2, strlen (caps2));
  hdr = frame_header (32 * 16 * 3 / 2, 0, 32);
  hdr.offset[1] = 32 * 16;
  send_frame (fd, &hdr, payload);

  buf = gst_harness_pull (h);
  caps = gst_pad_get_current_caps (h->sinkpad);
  {
    gint w = 0;
    fail_unless (
        gst_structure_get_int (gst_caps_get_structure (caps, 0), "width", &w));
    fail_unless_equals_int (w, 32);
  }
  gst_caps_unref (caps);
  gst_buffer_unref (buf);
  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "caps-changes", &changes);
  fail_unless_equals_uint64 (changes, 2);
  gst_structure_free (stats);

  close (fd);
  g_free (payload);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

static void
expect_warning (GstBus *bus, const gchar *needle)
{
  GstMessage *msg = pop_message (bus, GST_MESSAGE_WARNING);
  GError *err = NULL;
  gchar *dbg = NULL;

  fail_unless (msg != NULL, "no warning posted (expected \"%s\")", needle);
  gst_message_parse_warning (msg, &err, &dbg);
  GST_INFO ("warning: %s (%s)", err->message, dbg);
  fail_unless (strstr (err->message, needle) != NULL
                   || (dbg && strstr (dbg, needle) != NULL),
               "warning \"%s\" / \"%s\" does not mention \"%s\"", err->message,
               dbg, needle);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
}

/* The source closes a bad connection: the peer sees EOF. */
static void
expect_closed (gint fd)
{
  guint8 tmp[64];
  struct pollfd pfd = { fd, POLLIN, 0 };
  ssize_t n;

  do {
    fail_unless (poll (&pfd, 1, 10000) == 1);
    n = read (fd, tmp, sizeof (tmp));
  } while (n > 0);
  fail_unless (n == 0 || errno == ECONNRESET);
  close (fd);
}

static void
expect_first_frame (GstHarness *h, gint fd)
{
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
  guint8 *payload = pattern (hdr.size, 3);
  GstBuffer *buf;
  GstMapInfo map;

  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  gst_buffer_map (buf, &map, GST_MAP_READ);
  fail_unless (memcmp (map.data, payload, hdr.size) == 0);
  gst_buffer_unmap (buf, &map);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (buf);
  g_free (payload);
}

static void
expect_frame_flows (GstHarness *h, const gchar *path)
{
  gint fd = guest_connect (path, NV12_CAPS);

  expect_first_frame (h, fd);
  close (fd);
}

GST_START_TEST (test_src_rejects_bad_peers)
{
  gchar *path = sock_path ("bad.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  const gchar *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  VmsMsgHeader hdr;
  guint8 junk[4096];
  GstStructure *stats;
  guint64 rejected;
  gint fd;
  guint i;

  /* not the protocol at all */
  fd = unix_connect (path);
  write_all (fd, http, strlen (http));
  expect_warning (bus, "magic");
  expect_closed (fd);

  /* random bytes */
  for (i = 0; i < sizeof (junk); i++)
    junk[i] = g_random_int ();
  fd = unix_connect (path);
  write_all (fd, junk, sizeof (junk));
  expect_warning (bus, "Dropped the sender connection");
  expect_closed (fd);

  /* a huge frame is refused before allocation */
  fd = guest_connect (path, NV12_CAPS);
  hdr = frame_header (G_MAXUINT32 - 5, 0, W);
  send_header (fd, &hdr);
  expect_warning (bus, "exceeds");
  expect_closed (fd);

  /* a layout pointing outside the frame */
  fd = guest_connect (path, NV12_CAPS);
  hdr = frame_header (W * H * 3 / 2, 0, W);
  hdr.stride[1] = W * 2; /* plane 1 would run past the frame */
  send_header (fd, &hdr);
  expect_warning (bus, "does not fit");
  expect_closed (fd);

  /* caps that do not parse */
  fd = unix_connect (path);
  fail_unless_equals_int (handshake (fd, "video/x-raw, width=(int)", NULL),
                          VMS_STATUS_BAD_CAPS);
  expect_warning (bus, "caps");
  expect_closed (fd);

  /* a truncated frame, then the peer leaves */
  fd = guest_connect (path, NV12_CAPS);
  hdr = frame_header (W * H * 3 / 2, 0, W);
  send_header (fd, &hdr);
  write_all (fd, junk, 100);
  close (fd);
  expect_warning (bus, "truncated frame");

  /* a handshake that starts and never ends */
  fd = unix_connect (path);
  write_all (fd, "VMS1", 4);
  expect_warning (bus, "no handshake in time");
  expect_closed (fd);

  /* a peer that never says anything (QEMU's chardev before the guest
   * boots) is closed without a warning */
  fd = unix_connect (path);
  expect_closed (fd);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);

  /* after all that, a good sender still gets through */
  expect_frame_flows (h, path);

  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "rejected", &rejected);
  fail_unless_equals_uint64 (rejected, 7);
  gst_structure_free (stats);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

static guint64
src_stat (GstHarness *h, const gchar *name)
{
  GstStructure *stats;
  guint64 v = 0;

  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, name, &v);
  gst_structure_free (stats);
  return v;
}

/* The current sender's next frame arrives in order, not DISCONT: what a
 * newcomer did meanwhile left it alone. */
static void
expect_sender_undisturbed (GstHarness *h, gint fd, guint64 seq)
{
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, seq, W);
  guint8 *payload = pattern (hdr.size, 5);
  GstBuffer *buf;

  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), seq);
  fail_if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (buf);
  g_free (payload);
}

/* A receiver that restarted behind virtio-serial: QEMU's new connection
 * first carries the rest of an old frame (with "VMS1" and a plausible HELLO
 * header inside its payload), a whole old message, then the guest's new
 * HELLO. The source skips to that HELLO and the stream goes on. */
GST_START_TEST (test_src_resync_mid_stream)
{
  gchar *path = sock_path ("midstream.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 7, W);
  guint8 *old = pattern (hdr.size, 1);
  guint8 stream[4096], fake[VMS_HELLO_SIZE];
  VmsHello fh = { VMS_PROTOCOL_VERSION, 0, 11 };
  gsize n = 0, tail = 1000;
  gint fd;

  /* the tail of an old frame, with a HELLO look-alike in its payload */
  memcpy (stream, old + hdr.size - tail, tail);
  vms_hello_write (fake, &fh);
  memcpy (stream + 100, fake, sizeof (fake));
  memcpy (stream + 100 + sizeof (fake), "video/x-raw", 11);
  n = tail;
  /* a whole old message: header and a payload shorter than the frame */
  hdr.size = 2000;
  vms_msg_header_write (stream + n, &hdr);
  n += VMS_MSG_HEADER_SIZE;
  memcpy (stream + n, old, hdr.size);
  n += hdr.size;

  fd = unix_connect (path);
  write_all (fd, stream, n); /* one write: the source sees it all at once */
  fail_unless_equals_int (handshake (fd, NV12_CAPS, NULL), VMS_STATUS_OK);
  expect_first_frame (h, fd);
  fail_unless_equals_uint64 (src_stat (h, "resyncs"), 1);
  fail_unless_equals_uint64 (src_stat (h, "bytes-skipped"), n);
  fail_unless_equals_uint64 (src_stat (h, "rejected"), 0);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);

  close (fd);
  g_free (old);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

/* A newcomer that streams bytes with no HELLO in them is dropped after at
 * most max-frame-size + one message + one HELLO of them; one that trickles
 * them is dropped at handshake-timeout, and its handshake thread sleeps
 * meanwhile (CPU time, not a busy loop). Neither disturbs the current
 * sender. */
GST_START_TEST (test_src_resync_garbage_bounded)
{
  gchar *path = sock_path ("garbage.sock");
  GstBus *bus = gst_bus_new ();
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  gchar *uri = g_strdup_printf ("unix://%s", path);
  const gsize max_frame = 8192;
  const gsize bound
      = max_frame + VMS_MSG_HEADER_SIZE + VMS_HELLO_SIZE + VMS_MAX_CAPS_LEN;
  guint8 junk[4096];
  gsize sent = 0;
  struct timespec c0, c1;
  gint64 t0;
  gint cur, fd, i;

  g_object_set (h->element, "uri", uri, "handshake-timeout", 1000,
                "max-frame-size", (guint)max_frame, "buffer-size", 0, NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);
  cur = guest_connect (path, NV12_CAPS);
  expect_first_frame (h, cur);

  /* bytes that hold no 'V', as fast as the source takes them */
  for (i = 0; i < (gint)sizeof (junk); i++)
    junk[i] = (guint8)(g_random_int () | 0x80);
  fd = unix_connect (path);
  for (;;) {
    ssize_t n = send (fd, junk, sizeof (junk), MSG_NOSIGNAL);
    if (n <= 0) {
      fail_unless (n < 0 && (errno == EPIPE || errno == ECONNRESET), "send: %s",
                   g_strerror (errno));
      break;
    }
    sent += n;
    /* kernel buffers on both sides hold a few hundred KiB more */
    fail_unless (sent < bound + 4 * 1024 * 1024, "not dropped after %zu bytes",
                 sent);
  }
  expect_warning (bus, "no HELLO magic");
  close (fd);
  expect_sender_undisturbed (h, cur, 1);

  /* a trickle: one byte every 20 ms */
  fd = unix_connect (path);
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c0);
  t0 = g_get_monotonic_time ();
  while (send (fd, junk, 1, MSG_NOSIGNAL) == 1
         && g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC)
    g_usleep (20 * 1000);
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &c1);
  fail_unless (g_get_monotonic_time () - t0 < 3 * G_USEC_PER_SEC,
               "a trickling peer was not dropped at handshake-timeout");
  fail_unless ((c1.tv_sec - c0.tv_sec) * 1000.0
                       + (c1.tv_nsec - c0.tv_nsec) / 1e6
                   < 300.0,
               "the scan burnt CPU while waiting for bytes");
  expect_warning (bus, "in time");
  close (fd);
  expect_sender_undisturbed (h, cur, 2);
  fail_unless_equals_uint64 (src_stat (h, "rejected"), 2);

  close (cur);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_src_new_peer_replaces_old)
{
  gchar *path = sock_path ("replace.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  gint old_fd;

  old_fd = guest_connect (path, NV12_CAPS);
  /* the old connection stays open (half-open after a guest reboot) */
  expect_frame_flows (h, path);
  expect_closed (old_fd);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_src_stray_client_does_not_cut_stream)
{
  gchar *path = sock_path ("stray.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
  guint8 *payload = pattern (hdr.size, 4);
  const gchar *http = "GET / HTTP/1.1\r\n\r\n";
  GstBuffer *buf;
  gint fd, stray;

  fd = guest_connect (path, NV12_CAPS);
  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  gst_buffer_unref (buf);

  stray = unix_connect (path);
  write_all (stray, http, strlen (http));
  expect_warning (bus, "magic");
  expect_closed (stray);

  hdr.seq = 1;
  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 1);
  fail_if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (buf);

  close (fd);
  g_free (payload);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_src_hello_resync)
{
  gchar *path = sock_path ("resync.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
  guint8 *payload = pattern (hdr.size, 9);
  GstBuffer *buf;
  gint fd;

  /* one stream, then a new HELLO on the same byte stream, as a guest
   * restarting on virtio-serial produces */
  fd = guest_connect (path, NV12_CAPS);
  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  gst_buffer_unref (buf);
  fail_unless_equals_int (handshake (fd, NV12_CAPS, NULL), VMS_STATUS_OK);
  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (buf);

  close (fd);
  g_free (payload);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_src_back_channel)
{
  gchar *path = sock_path ("back.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  guint8 hb[VMS_BACK_HEADER_SIZE];
  VmsBackHeader bh;
  gchar payload[256];
  GstBuffer *buf;
  gint fd;

  expect_frame_flows (h, path);
  fd = guest_connect (path, NV12_CAPS);
  /* make sure the source has switched to this connection */
  {
    VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
    guint8 *p = pattern (hdr.size, 0);
    send_frame (fd, &hdr, p);
    buf = gst_harness_pull (h);
    gst_buffer_unref (buf);
    g_free (p);
  }

  fail_unless (gst_harness_push_upstream_event (
      h, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE,
                                                      1)));
  fail_unless (read_all (fd, hb, sizeof (hb)));
  fail_unless (vms_back_header_parse (hb, sizeof (hb), &bh, NULL));
  fail_unless_equals_int (bh.type, VMS_BACK_KEYFRAME_REQUEST);
  fail_unless_equals_int (bh.len, 0);

  fail_unless (gst_harness_push_upstream_event (
      h, gst_event_new_navigation (
             gst_structure_new ("application/x-gst-"
                                "navigation",
                                "event", G_TYPE_STRING, "key-press", "key",
                                G_TYPE_STRING, "KeyA", NULL))));
  fail_unless (read_all (fd, hb, sizeof (hb)));
  fail_unless (vms_back_header_parse (hb, sizeof (hb), &bh, NULL));
  fail_unless_equals_int (bh.type, VMS_BACK_NAVIGATION);
  fail_unless (bh.len < sizeof (payload));
  fail_unless (read_all (fd, payload, bh.len));
  payload[bh.len] = '\0';
  fail_unless (strstr (payload, "KeyA") != NULL, "%s", payload);

  close (fd);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

/* Caps downstream cannot take: the sender hears "caps refused" in its
 * WELCOME, the bus says why, and the source goes on listening. */
GST_START_TEST (test_src_refuses_caps_downstream_rejects)
{
  gchar *path = sock_path ("refuse.sock");
  gchar *desc = g_strdup_printf ("vsocksrc uri=unix://%s ! "
                                 "video/x-raw,format=I420 ! fakesink",
                                 path);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstBus *bus = gst_element_get_bus (p);
  VmsWelcome w;
  gint fd;

  fail_unless (p != NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  fd = unix_connect (path);
  send_hello (fd, NV12_CAPS);
  w = answer_challenge (fd, NULL);
  fail_unless_equals_int (w.status, VMS_STATUS_BAD_CAPS);
  expect_warning (bus, "does not accept");
  expect_closed (fd);

  /* an acceptable sender is served afterwards */
  fd = unix_connect (path);
  send_hello (fd, "video/x-raw,format=I420,width=64,height=48,"
                  "framerate=30/1");
  w = answer_challenge (fd, NULL);
  fail_unless_equals_int (w.status, VMS_STATUS_OK);
  close (fd);

  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (p);
  g_free (desc);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_src_bad_uri)
{
  GstElement *src = gst_element_factory_make ("vsocksrc", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;

  gst_element_set_bus (src, bus);
  ASSERT_WARNING (g_object_set (src, "uri", "vsock://x:5000", NULL));
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_PAUSED),
                          GST_STATE_CHANGE_FAILURE);
  msg = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "vsock://x:5000") != NULL, "%s",
               err->message);
  fail_unless (strstr (err->message, "vsock://CID:PORT") != NULL);
  g_clear_error (&err);
  gst_message_unref (msg);
  gst_element_set_state (src, GST_STATE_NULL);

  /* a socket another process listens on */
  {
    gchar *path = sock_path ("busy.sock");
    gchar *uri = g_strdup_printf ("unix://%s", path);
    gint fd = unix_listen (path);

    g_object_set (src, "uri", uri, NULL);
    fail_unless_equals_int (gst_element_set_state (src, GST_STATE_PAUSED),
                            GST_STATE_CHANGE_FAILURE);
    expect_error (bus, "another process is listening");
    close (fd);
    g_free (uri);
    g_free (path);
  }
  gst_element_set_state (src, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (bus);
}

GST_END_TEST;

GST_START_TEST (test_src_timeout_warning)
{
  gchar *path = sock_path ("timeout.sock");
  GstBus *bus;
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  gchar *uri = g_strdup_printf ("unix://%s", path);

  g_object_set (h->element, "uri", uri, "timeout", 200, NULL);
  bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);
  expect_warning (bus, "No frame received for 200 ms");
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

/* A source with a secret: only a sender that proves it is served. */
GST_START_TEST (test_src_requires_secret)
{
  gchar *path = sock_path ("secret.sock");
  gchar *uri = g_strdup_printf ("unix://%s", path);
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  GstBus *bus = gst_bus_new ();
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
  guint8 *payload = pattern (hdr.size, 5);
  GstBuffer *buf;
  gint fd;

  g_object_set (h->element, "uri", uri, "handshake-timeout", 2000, "secret",
                "correct horse", NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);

  fd = unix_connect (path);
  fail_unless_equals_int (handshake (fd, NV12_CAPS, NULL),
                          VMS_STATUS_AUTH_FAILED);
  expect_warning (bus, "the sender has no link secret");
  expect_closed (fd);

  fd = unix_connect (path);
  fail_unless_equals_int (handshake (fd, NV12_CAPS, "correct horsE"),
                          VMS_STATUS_AUTH_FAILED);
  expect_warning (bus, "wrong secret");
  expect_closed (fd);

  /* version 1 cannot authenticate */
  fd = unix_connect (path);
  {
    guint8 hb[VMS_HELLO_SIZE];
    VmsHello v1 = { 1, 0, strlen (NV12_CAPS) };
    vms_hello_write (hb, &v1);
    write_all (fd, hb, sizeof (hb));
    write_all (fd, NV12_CAPS, strlen (NV12_CAPS));
  }
  fail_unless_equals_int (read_welcome (fd).status, VMS_STATUS_BAD_VERSION);
  expect_warning (bus, "version 1");
  expect_closed (fd);

  fd = unix_connect (path);
  fail_unless_equals_int (handshake (fd, NV12_CAPS, "correct horse"),
                          VMS_STATUS_OK);
  send_frame (fd, &hdr, payload);
  buf = gst_harness_pull (h);
  fail_unless (buf != NULL);
  gst_buffer_unref (buf);
  /* a re-HELLO on the same connection proves the secret again */
  fail_unless_equals_int (handshake (fd, NV12_CAPS, "wrong"),
                          VMS_STATUS_AUTH_FAILED);
  expect_warning (bus, "wrong secret");
  expect_closed (fd);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (payload);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

/* secret-file: the first line of the file. */
GST_START_TEST (test_src_secret_file)
{
  gchar *path = sock_path ("sf.sock");
  gchar *file = sock_path ("secret");
  gchar *uri = g_strdup_printf ("unix://%s", path);
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  GstBus *bus = gst_bus_new ();
  gint fd;

  fail_unless (g_file_set_contents (file, "from-file\n", -1, NULL));
  g_object_set (h->element, "uri", uri, "secret", "from-property",
                "secret-file", file, NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);
  fd = unix_connect (path);
  fail_unless_equals_int (handshake (fd, NV12_CAPS, "from-file"),
                          VMS_STATUS_OK);
  close (fd);
  gst_harness_teardown (h);

  /* a file that cannot be read is an error at start */
  unlink (file);
  h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  g_object_set (h->element, "uri", uri, "secret-file", file, NULL);
  gst_element_set_bus (h->element, bus);
  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_PAUSED),
                          GST_STATE_CHANGE_FAILURE);
  expect_error (bus, "link secret");
  gst_element_set_state (h->element, GST_STATE_NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (uri);
  g_free (file);
  g_free (path);
}

GST_END_TEST;

/* unix://: a peer running as another uid is refused before it speaks. */
GST_START_TEST (test_src_allowed_uid)
{
  gchar *path = sock_path ("uid.sock");
  gchar *uri = g_strdup_printf ("unix://%s", path);
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  GstBus *bus = gst_bus_new ();
  gint64 uid = -2;
  gint fd;

  /* the default is our own uid */
  g_object_get (h->element, "allowed-uid", &uid, NULL);
  fail_unless_equals_int64 (uid, getuid ());

  g_object_set (h->element, "uri", uri, "allowed-uid", (gint64)getuid () + 1,
                NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);
  /* refused at accept, before it could say a word */
  fd = unix_connect (path);
  expect_warning (bus, "allowed-uid");
  expect_closed (fd);
  gst_harness_teardown (h);

  /* -1: any uid */
  h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  g_object_set (h->element, "uri", uri, "allowed-uid", (gint64)-1, NULL);
  gst_harness_play (h);
  fd = guest_connect (path, NV12_CAPS);
  close (fd);
  gst_harness_teardown (h);

  gst_object_unref (bus);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

/* While a newcomer is in its handshake the current sender's frames keep
 * coming, and the back-channel stays with the current sender. */
GST_START_TEST (test_src_silent_newcomer_does_not_stall)
{
  gchar *path = sock_path ("silent.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
  guint8 *payload = pattern (hdr.size, 6);
  guint8 hb[VMS_BACK_HEADER_SIZE], tmp[64];
  VmsBackHeader bh;
  GstBuffer *buf;
  gint fd, silent, i;
  gint64 t0;

  fd = guest_connect (path, NV12_CAPS);
  send_frame (fd, &hdr, payload);
  gst_buffer_unref (gst_harness_pull (h));

  silent = unix_connect (path);
  write_all (silent, "VMS1", 4); /* and nothing more */
  t0 = g_get_monotonic_time ();
  for (i = 1; i <= 5; i++) {
    hdr.seq = i;
    send_frame (fd, &hdr, payload);
    buf = gst_harness_pull (h);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), i);
    gst_buffer_unref (buf);
  }
  /* long before the 2 s handshake-timeout */
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC);
  fail_unless (gst_harness_push_upstream_event (
      h, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE,
                                                      1)));
  fail_unless (read_all (fd, hb, sizeof (hb)));
  fail_unless (vms_back_header_parse (hb, sizeof (hb), &bh, NULL));
  fail_unless_equals_int (bh.type, VMS_BACK_KEYFRAME_REQUEST);
  {
    struct pollfd pfd = { silent, POLLIN, 0 };
    fail_unless (poll (&pfd, 1, 100) == 0, "the newcomer got a message");
  }
  expect_warning (bus, "no handshake in time");
  fail_unless (read (silent, tmp, sizeof (tmp)) == 0);
  close (silent);

  close (fd);
  g_free (payload);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

/* A flood of silent connections cannot keep the guest out: with all 16
 * handshake slots taken, a newcomer makes the source abandon the oldest. */
GST_START_TEST (test_src_silent_flood)
{
  gchar *path = sock_path ("flood.sock");
  gchar *uri = g_strdup_printf ("unix://%s", path);
  GstHarness *h = gst_harness_new_with_padnames ("vsocksrc", NULL, "src");
  GstBus *bus = gst_bus_new ();
  gint silent[20], fd, i;
  gint64 t0;

  /* long enough that none of them times out during the test */
  g_object_set (h->element, "uri", uri, "handshake-timeout", 60000, NULL);
  gst_element_set_bus (h->element, bus);
  gst_harness_play (h);
  for (i = 0; i < (gint)G_N_ELEMENTS (silent); i++)
    silent[i] = unix_connect (path);
  t0 = g_get_monotonic_time ();
  fd = guest_connect (path, NV12_CAPS);
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC);
  /* the oldest ones were abandoned (closed quietly) */
  expect_closed (silent[0]);
  close (fd);
  for (i = 1; i < (gint)G_N_ELEMENTS (silent); i++)
    close (silent[i]);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (uri);
  g_free (path);
}

GST_END_TEST;

/* An authenticated newcomer whose caps downstream refuses, arriving while
 * the current sender is in the middle of a frame: the frame arrives whole
 * and the current sender goes on. */
GST_START_TEST (test_src_refused_newcomer_mid_frame)
{
  gchar *path = sock_path ("midframe.sock");
  gchar *desc = g_strdup_printf ("vsocksrc uri=unix://%s ! "
                                 "video/x-raw,format=NV12 ! appsink name=sink "
                                 "sync=false",
                                 path);
  GstElement *p = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (p), "sink");
  GstBus *bus = gst_element_get_bus (p);
  VmsMsgHeader hdr = frame_header (W * H * 3 / 2, 0, W);
  guint8 *payload = pattern (hdr.size, 8);
  GstSample *sample;
  GstMapInfo map;
  gint fd, other;

  fail_unless (p != NULL);
  gst_element_set_state (p, GST_STATE_PLAYING);
  fd = guest_connect (path, NV12_CAPS);
  send_frame (fd, &hdr, payload);
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  gst_sample_unref (sample);

  /* half a frame, then the newcomer */
  hdr.seq = 1;
  send_header (fd, &hdr);
  write_all (fd, payload, hdr.size / 2);
  other = unix_connect (path);
  fail_unless_equals_int (handshake (other,
                                     "video/x-raw,format=I420,width=64,"
                                     "height=48,framerate=30/1",
                                     NULL),
                          VMS_STATUS_BAD_CAPS);
  expect_closed (other);
  write_all (fd, payload + hdr.size / 2, hdr.size - hdr.size / 2);

  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND);
  fail_unless (sample != NULL, "the current sender's frame did not arrive");
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (gst_sample_get_buffer (sample)),
                             1);
  gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ);
  fail_unless (memcmp (map.data, payload, hdr.size) == 0);
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  gst_sample_unref (sample);
  expect_warning (bus, "does not accept");

  close (fd);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (p);
  g_free (payload);
  g_free (desc);
  g_free (path);
}

GST_END_TEST;

/* ================= vsocksink ================= */

typedef struct {
  gchar *path;
  gint listen_fd;
  guint16 status;      /* WELCOME status to answer */
  const gchar *secret; /* required when set */
  VmsAuth auth;        /* what the sink answered */
  guint n_frames;      /* frames to read */
  gboolean send_keyframe_request;
  const guint8 *back; /* raw back-channel bytes sent after the first frame */
  gsize back_len;
  gboolean hold_open; /* keep the connection, read nothing more */
  VmsHello hello;     /* the sink's */
  gint conn_fd;
  GAsyncQueue *events; /* "welcomed", "back-sent" */
  gchar *caps;
  VmsMsgHeader hdr[8];
  guint8 *payload[8];
} FakeHost;

static gpointer
fake_host_thread (gpointer data)
{
  FakeHost *fh = data;
  guint8 buf[VMS_HELLO_SIZE], wb[VMS_WELCOME_SIZE], hb[VMS_MSG_HEADER_SIZE];
  VmsHello hello;
  VmsWelcome w = { VMS_PROTOCOL_VERSION, fh->status, 1 << 24 };
  gint fd;
  guint i;

  fd = accept (fh->listen_fd, NULL, NULL);
  fail_unless (fd >= 0);
  fail_unless (read_all (fd, buf, sizeof (buf)));
  fail_unless (vms_hello_parse (buf, sizeof (buf), &hello, NULL));
  fh->hello = hello;
  fh->caps = g_malloc0 (hello.caps_len + 1);
  fail_unless (read_all (fd, fh->caps, hello.caps_len));
  fail_unless_equals_int (hello.version, VMS_PROTOCOL_VERSION);
  {
    guint8 cb[VMS_CHALLENGE_SIZE], ab[VMS_AUTH_SIZE];
    VmsChallenge c = { VMS_PROTOCOL_VERSION, 0, { 0 } };
    guint i;

    for (i = 0; i < VMS_NONCE_LEN; i++)
      c.nonce[i] = g_random_int ();
    if (fh->secret)
      c.flags = VMS_CHALLENGE_FLAG_SECRET_REQUIRED;
    vms_challenge_write (cb, &c);
    write_all (fd, cb, sizeof (cb));
    fail_unless (read_all (fd, ab, sizeof (ab)));
    fail_unless (vms_auth_parse (ab, sizeof (ab), &fh->auth, NULL));
    if (fh->secret
        && !vms_auth_verify (&fh->auth, (const guint8 *)fh->secret,
                             strlen (fh->secret), c.nonce))
      w.status = VMS_STATUS_AUTH_FAILED;
  }
  vms_welcome_write (wb, &w);
  write_all (fd, wb, sizeof (wb));
  g_async_queue_push (fh->events, (gpointer) "welcomed");

  for (i = 0; i < fh->n_frames; i++) {
    fail_unless (read_all (fd, hb, sizeof (hb)));
    fail_unless (
        vms_msg_header_parse (hb, sizeof (hb), 1 << 24, &fh->hdr[i], NULL));
    fh->payload[i] = g_malloc (fh->hdr[i].size);
    fail_unless (read_all (fd, fh->payload[i], fh->hdr[i].size));
    if (i == 0 && fh->send_keyframe_request) {
      guint8 bb[VMS_BACK_HEADER_SIZE];
      VmsBackHeader bh = { VMS_BACK_KEYFRAME_REQUEST, 0 };
      vms_back_header_write (bb, &bh);
      write_all (fd, bb, sizeof (bb));
      g_async_queue_push (fh->events, (gpointer) "back-sent");
    }
    if (i == 0 && fh->back != NULL) {
      write_all (fd, fh->back, fh->back_len);
      g_async_queue_push (fh->events, (gpointer) "back-sent");
    }
  }
  if (fh->hold_open)
    fh->conn_fd = fd;
  else
    close (fd);
  return NULL;
}

static FakeHost *
fake_host_new (const gchar *name, guint n_frames, guint16 status)
{
  FakeHost *fh = g_new0 (FakeHost, 1);

  fh->path = sock_path (name);
  fh->listen_fd = unix_listen (fh->path);
  fh->n_frames = n_frames;
  fh->status = status;
  fh->events = g_async_queue_new ();
  fh->conn_fd = -1;
  return fh;
}

static void
fake_host_free (FakeHost *fh)
{
  guint i;
  for (i = 0; i < G_N_ELEMENTS (fh->payload); i++)
    g_free (fh->payload[i]);
  close (fh->listen_fd);
  if (fh->conn_fd >= 0)
    close (fh->conn_fd);
  g_async_queue_unref (fh->events);
  g_free (fh->caps);
  g_free (fh->path);
  g_free (fh);
}

static GstHarness *
sink_harness_full (const gchar *path, const gchar *resize_program, GstBus **bus)
{
  GstElement *sink = gst_element_factory_make ("vsocksink", NULL);
  gchar *uri = g_strdup_printf ("unix://%s", path);
  GstHarness *h;

  g_object_set (sink, "uri", uri, "timeout", 5000, "resize-program",
                resize_program, NULL);
  g_free (uri);
  *bus = gst_bus_new ();
  gst_element_set_bus (sink, *bus);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, NV12_CAPS);
  return h;
}

static GstHarness *
sink_harness (const gchar *path, GstBus **bus)
{
  return sink_harness_full (path, NULL, bus);
}

static GstBuffer *
nv12_buffer (guint stride, guint seed, GstClockTime pts)
{
  gsize size = stride * H * 3 / 2;
  GstBuffer *buf = gst_buffer_new_wrapped (pattern (size, seed), size);
  gsize offset[4] = { 0, stride * H, 0, 0 };
  gint strides[4] = { stride, stride, 0, 0 };

  if (stride != W)
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
                                    GST_VIDEO_FORMAT_NV12, W, H, 2, offset,
                                    strides);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  return buf;
}

GST_START_TEST (test_sink_sends_frames)
{
  FakeHost *fh = fake_host_new ("sink.sock", 3, VMS_STATUS_OK);
  GThread *t = g_thread_new ("host", fake_host_thread, fh);
  GstBus *bus;
  GstHarness *h = sink_harness (fh->path, &bus);
  GstBuffer *bufs[3];
  GstStructure *stats;
  guint64 sent, dropped;
  guint i;

  bufs[0] = nv12_buffer (80, 0, 0);
  bufs[1] = nv12_buffer (W, 1, GST_SECOND / 30);
  bufs[2] = nv12_buffer (W, 2, 2 * GST_SECOND / 30);
  GST_BUFFER_FLAG_SET (bufs[2], GST_BUFFER_FLAG_DELTA_UNIT);
  for (i = 0; i < 3; i++)
    fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (bufs[i])),
                            GST_FLOW_OK);
  g_thread_join (t);

  fail_unless (strstr (fh->caps, "NV12") != NULL);
  for (i = 0; i < 3; i++) {
    GstMapInfo map;
    VmsMsgHeader *hd = &fh->hdr[i];

    fail_unless_equals_int (hd->type, VMS_MSG_FRAME);
    fail_unless_equals_uint64 (hd->seq, i);
    fail_unless_equals_uint64 (hd->pts, GST_BUFFER_PTS (bufs[i]));
    fail_unless_equals_uint64 (hd->duration, GST_SECOND / 30);
    fail_unless (hd->capture_time
                 > G_GUINT64_CONSTANT (1600000000) * GST_SECOND);
    fail_unless (hd->flags & VMS_FRAME_FLAG_VIDEO_META);
    fail_unless_equals_int (hd->n_planes, 2);
    fail_unless_equals_int (hd->stride[0], i == 0 ? 80 : W);
    fail_unless_equals_int (hd->offset[1], (i == 0 ? 80 : W) * H);
    gst_buffer_map (bufs[i], &map, GST_MAP_READ);
    fail_unless_equals_int (hd->size, map.size);
    fail_unless (memcmp (fh->payload[i], map.data, map.size) == 0);
    gst_buffer_unmap (bufs[i], &map);
    gst_buffer_unref (bufs[i]);
  }
  fail_unless (fh->hdr[0].flags & VMS_FRAME_FLAG_DISCONT);
  fail_if (fh->hdr[1].flags & VMS_FRAME_FLAG_DISCONT);
  fail_unless (fh->hdr[2].flags & VMS_FRAME_FLAG_DELTA_UNIT);

  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "frames-sent", &sent);
  gst_structure_get_uint64 (stats, "frames-dropped", &dropped);
  fail_unless_equals_uint64 (sent, 3);
  fail_unless_equals_uint64 (dropped, 0);
  gst_structure_free (stats);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

/* A buffer of as many memories as GStreamer lets a buffer hold (16): one
 * writev of 17 pieces, bytes and sequence intact. */
GST_START_TEST (test_sink_many_memories)
{
  FakeHost *fh = fake_host_new ("many.sock", 2, VMS_STATUS_OK);
  GThread *t = g_thread_new ("host", fake_host_thread, fh);
  GstBus *bus;
  GstHarness *h = sink_harness (fh->path, &bus);
  GstBuffer *whole = nv12_buffer (W, 7, 0);
  GstBuffer *split = gst_buffer_new ();
  GstMapInfo map;
  guint n = gst_buffer_get_max_memory ();
  gsize size = gst_buffer_get_size (whole), step = size / n, off = 0;

  gst_buffer_map (whole, &map, GST_MAP_READ);
  for (guint i = 0; i < n; i++) {
    gsize len = i == n - 1 ? size - off : step;
    gpointer piece = g_memdup2 (map.data + off, len);
    gst_buffer_append_memory (
        split, gst_memory_new_wrapped (0, piece, len, 0, len, piece, g_free));
    off += len;
  }
  fail_unless_equals_int (gst_buffer_n_memory (split), n);
  GST_BUFFER_PTS (split) = 0;
  fail_unless_equals_int (gst_harness_push (h, split), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 8, 1)),
                          GST_FLOW_OK);
  g_thread_join (t);
  fail_unless_equals_uint64 (fh->hdr[0].size, size);
  fail_unless (memcmp (fh->payload[0], map.data, size) == 0,
               "the %u-memory frame arrived changed", n);
  fail_unless_equals_uint64 (fh->hdr[0].seq, 0);
  fail_unless_equals_uint64 (fh->hdr[1].seq, 1);
  gst_buffer_unmap (whole, &map);
  gst_buffer_unref (whole);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

/* A host that reads every message and answers PING with PONG, or not. */
typedef struct {
  gint listen_fd;
  gboolean answer;
  volatile gint pings;
  volatile gint stop;
} PingHost;

static gpointer
ping_host_thread (gpointer data)
{
  PingHost *ph = data;

  while (!g_atomic_int_get (&ph->stop)) {
    struct pollfd lp = { ph->listen_fd, POLLIN, 0 };
    guint8 buf[VMS_HELLO_SIZE], cb[VMS_CHALLENGE_SIZE], ab[VMS_AUTH_SIZE];
    guint8 wb[VMS_WELCOME_SIZE], hb[VMS_MSG_HEADER_SIZE];
    VmsChallenge c = { VMS_PROTOCOL_VERSION, 0, { 0 } };
    VmsWelcome w = { VMS_PROTOCOL_VERSION, VMS_STATUS_OK, 1 << 24 };
    VmsHello hello;
    guint8 *skip;
    gint fd;

    if (poll (&lp, 1, 50) != 1)
      continue;
    fd = accept (ph->listen_fd, NULL, NULL);
    if (!read_all (fd, buf, sizeof (buf))
        || !vms_hello_parse (buf, sizeof (buf), &hello, NULL)) {
      close (fd);
      continue;
    }
    skip = g_malloc (hello.caps_len);
    read_all (fd, skip, hello.caps_len);
    g_free (skip);
    vms_challenge_write (cb, &c);
    write_all (fd, cb, sizeof (cb));
    read_all (fd, ab, sizeof (ab));
    vms_welcome_write (wb, &w);
    write_all (fd, wb, sizeof (wb));
    for (;;) {
      struct pollfd pfd = { fd, POLLIN, 0 };
      VmsMsgHeader h;

      if (g_atomic_int_get (&ph->stop))
        break;
      if (poll (&pfd, 1, 50) != 1)
        continue;
      if (!read_all (fd, hb, sizeof (hb))
          || !vms_msg_header_parse (hb, sizeof (hb), 1 << 24, &h, NULL))
        break;
      skip = g_malloc (MAX (h.size, 1));
      read_all (fd, skip, h.size);
      g_free (skip);
      if (h.type == VMS_MSG_PING) {
        g_atomic_int_inc (&ph->pings);
        if (ph->answer) {
          guint8 bb[VMS_BACK_HEADER_SIZE];
          VmsBackHeader bh = { VMS_BACK_PONG, 0 };
          vms_back_header_write (bb, &bh);
          write_all (fd, bb, sizeof (bb));
        }
      }
    }
    close (fd);
  }
  return NULL;
}

static void
check_keepalive (gboolean answer)
{
  gchar *path = sock_path (answer ? "pong.sock" : "nopong.sock");
  PingHost ph = { unix_listen (path), answer, 0, 0 };
  GThread *t = g_thread_new ("host", ping_host_thread, &ph);
  GstBus *bus;
  GstHarness *h = sink_harness (path, &bus);
  guint64 disconnects;
  gint i;

  g_object_set (h->element, "keepalive", 100, "timeout", 400, NULL);
  for (i = 0; i < 40; i++) {
    fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, i, 0)),
                            GST_FLOW_OK);
    g_usleep (25 * 1000);
  }
  {
    GstStructure *stats;
    g_object_get (h->element, "stats", &stats, NULL);
    gst_structure_get_uint64 (stats, "disconnects", &disconnects);
    gst_structure_free (stats);
  }
  fail_unless (g_atomic_int_get (&ph.pings) >= 2, "%d PINGs",
               g_atomic_int_get (&ph.pings));
  if (answer) {
    fail_unless_equals_uint64 (disconnects, 0);
  } else {
    /* no PONG within timeout: the link starts afresh */
    fail_unless (disconnects >= 1);
    expect_warning (bus, "frames are dropped");
  }
  gst_harness_teardown (h);
  g_atomic_int_set (&ph.stop, 1);
  g_thread_join (t);
  close (ph.listen_fd);
  gst_object_unref (bus);
  g_free (path);
}

GST_START_TEST (test_sink_keepalive_answered)
{
  check_keepalive (TRUE);
}

GST_END_TEST;

GST_START_TEST (test_sink_keepalive_unanswered)
{
  check_keepalive (FALSE);
}

GST_END_TEST;

/* The source answers PING with PONG on the back-channel. */
GST_START_TEST (test_src_pong)
{
  gchar *path = sock_path ("ping.sock");
  GstBus *bus;
  GstHarness *h = src_harness (path, &bus);
  VmsMsgHeader hdr = { 0 };
  guint8 hb[VMS_BACK_HEADER_SIZE];
  VmsBackHeader bh;
  gint fd = guest_connect (path, NV12_CAPS);

  hdr.type = VMS_MSG_PING;
  send_header (fd, &hdr);
  fail_unless (read_all (fd, hb, sizeof (hb)));
  fail_unless (vms_back_header_parse (hb, sizeof (hb), &bh, NULL));
  fail_unless_equals_int (bh.type, VMS_BACK_PONG);
  fail_unless_equals_int (bh.len, 0);
  close (fd);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

/* The sink proves the host's secret (from secret-file) without sending it. */
GST_START_TEST (test_sink_secret)
{
  FakeHost *fh = fake_host_new ("sinksecret.sock", 1, VMS_STATUS_OK);
  gchar *file = sock_path ("sink-secret");
  GThread *t;
  GstBus *bus;
  GstHarness *h;

  fh->secret = "guest-secret";
  fail_unless (g_file_set_contents (file, "guest-secret\n", -1, NULL));
  t = g_thread_new ("host", fake_host_thread, fh);
  h = sink_harness (fh->path, &bus);
  g_object_set (h->element, "secret-file", file, NULL);
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 0, 0)),
                          GST_FLOW_OK);
  g_thread_join (t);
  fail_unless (fh->auth.flags & VMS_AUTH_FLAG_MAC);
  fail_unless_equals_int (fh->hdr[0].type, VMS_MSG_FRAME);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
  g_free (file);
}

GST_END_TEST;

GST_START_TEST (test_sink_wrong_secret)
{
  FakeHost *fh = fake_host_new ("sinkwrong.sock", 0, VMS_STATUS_OK);
  GThread *t;
  GstBus *bus;
  GstHarness *h;

  fh->secret = "host-secret";
  t = g_thread_new ("host", fake_host_thread, fh);
  h = sink_harness (fh->path, &bus);
  g_object_set (h->element, "secret", "guest-secret", NULL);
  /* refused: the frame is dropped, the pipeline goes on and retries */
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 0, 0)),
                          GST_FLOW_OK);
  g_thread_join (t);
  expect_warning (bus, "refused ours");
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

GST_START_TEST (test_sink_host_absent_drops)
{
  gchar *path = sock_path ("nobody.sock");
  GstBus *bus;
  GstHarness *h = sink_harness (path, &bus);
  GstStructure *stats;
  guint64 dropped, sent;
  guint i;

  for (i = 0; i < 5; i++)
    fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, i, 0)),
                            GST_FLOW_OK);
  expect_warning (bus, "frames are dropped");
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR) == NULL);
  g_object_get (h->element, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "frames-dropped", &dropped);
  gst_structure_get_uint64 (stats, "frames-sent", &sent);
  fail_unless_equals_uint64 (dropped, 5);
  fail_unless_equals_uint64 (sent, 0);
  gst_structure_free (stats);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_sink_refused)
{
  FakeHost *fh = fake_host_new ("refuse.sock", 0, VMS_STATUS_BAD_CAPS);
  GThread *t = g_thread_new ("host", fake_host_thread, fh);
  GstBus *bus;
  GstHarness *h = sink_harness (fh->path, &bus);
  GstMessage *msg;
  GError *err = NULL;

  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 0, 0)),
                          GST_FLOW_ERROR);
  g_thread_join (t);
  msg = pop_message (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "caps refused") != NULL, "%s",
               err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

GST_START_TEST (test_sink_keyframe_request_upstream)
{
  FakeHost *fh = fake_host_new ("key.sock", 2, VMS_STATUS_OK);
  GThread *t;
  GstBus *bus;
  GstHarness *h;
  GstEvent *ev;
  gboolean found = FALSE;

  fh->send_keyframe_request = TRUE;
  t = g_thread_new ("host", fake_host_thread, fh);
  h = sink_harness (fh->path, &bus);
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 0, 0)),
                          GST_FLOW_OK);
  fail_unless_equals_string (g_async_queue_pop (fh->events), "welcomed");
  fail_unless_equals_string (g_async_queue_pop (fh->events), "back-sent");
  /* the request is already in the socket: the sink reads it before it
   * sends the next frame, and asks upstream for a key unit */
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 1, 0)),
                          GST_FLOW_OK);
  g_thread_join (t);
  while ((ev = gst_harness_try_pull_upstream_event (h)) != NULL) {
    if (gst_video_event_is_force_key_unit (ev))
      found = TRUE;
    gst_event_unref (ev);
  }
  fail_unless (found);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

/* ================= resize: vsocksrc -> vsocksink ================= */

/* A guest pipeline (videotestsrc ! vsocksink) and a host pipeline
 * (vsocksrc ! appsink) over unix://, each with its own bus. */
typedef struct {
  GstElement *guest, *host, *src, *out;
  GstBus *guest_bus;
} ResizeLink;

static void
resize_link_start (ResizeLink *l, const gchar *path, const gchar *program)
{
  g_autofree gchar *host_desc = g_strdup_printf (
      "vsocksrc name=src uri=unix://%s ! appsink name=out sync=false "
      "max-buffers=4 drop=true",
      path);
  g_autofree gchar *guest_desc = g_strdup_printf (
      "videotestsrc is-live=true ! " NV12_CAPS " ! vsocksink name=sink "
      "uri=unix://%s reconnect-interval=20 resize-program=\"%s\"",
      path, program ? program : "");
  GstSample *sample;

  l->host = gst_parse_launch (host_desc, NULL);
  l->guest = gst_parse_launch (guest_desc, NULL);
  fail_unless (l->host != NULL && l->guest != NULL);
  l->src = gst_bin_get_by_name (GST_BIN (l->host), "src");
  l->out = gst_bin_get_by_name (GST_BIN (l->host), "out");
  l->guest_bus = gst_element_get_bus (l->guest);
  gst_element_set_state (l->host, GST_STATE_PLAYING);
  gst_element_set_state (l->guest, GST_STATE_PLAYING);
  /* the sender is connected once a frame came through */
  sample
      = gst_app_sink_try_pull_sample (GST_APP_SINK (l->out), 10 * GST_SECOND);
  fail_unless (sample != NULL, "no frame reached the host");
  gst_sample_unref (sample);
}

/* Lets @n more frames through: every one was sent after the sink read its
 * back-channel (it reads it before each frame). */
static void
resize_link_frames (ResizeLink *l, guint n)
{
  for (guint i = 0; i < n; i++) {
    GstSample *sample
        = gst_app_sink_try_pull_sample (GST_APP_SINK (l->out), 10 * GST_SECOND);
    fail_unless (sample != NULL, "the stream stopped");
    gst_sample_unref (sample);
  }
}

static void
resize_link_stop (ResizeLink *l)
{
  gst_element_set_state (l->guest, GST_STATE_NULL);
  gst_element_set_state (l->host, GST_STATE_NULL);
  gst_object_unref (l->guest_bus);
  gst_object_unref (l->src);
  gst_object_unref (l->out);
  gst_object_unref (l->guest);
  gst_object_unref (l->host);
}

static GstEvent *
resize_event (gint width, gint height)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
                               gst_structure_new ("vmstream-resize", "width",
                                                  G_TYPE_INT, width, "height",
                                                  G_TYPE_INT, height, NULL));
}

/* The next vmstream-resize element message on @bus, or NULL. */
static GstMessage *
pop_resize_message (GstBus *bus, GstClockTime timeout)
{
  for (;;) {
    GstMessage *m
        = gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ELEMENT);
    if (m == NULL || gst_message_has_name (m, "vmstream-resize"))
      return m;
    gst_message_unref (m);
  }
}

static gboolean
src_stat_bool (GstElement *src, const gchar *name)
{
  GstStructure *st = NULL;
  gboolean v = FALSE;

  g_object_get (src, "stats", &st, NULL);
  fail_unless (gst_structure_get_boolean (st, name, &v), "%s", name);
  gst_structure_free (st);
  return v;
}

/* A resize event at the host's vsocksrc reaches the guest's vsocksink as a
 * RESIZE: the guest's bus hears the numbers, and resize-program runs with
 * them as its two arguments. */
GST_START_TEST (test_resize_reaches_sink)
{
  g_autofree gchar *path = sock_path ("resize.sock");
  g_autofree gchar *fifo = sock_path ("resize.fifo");
  g_autofree gchar *prog = sock_path ("resize-program");
  g_autofree gchar *script
      = g_strdup_printf ("#!/bin/sh\necho \"$# $1 $2\" > '%s'\n", fifo);
  ResizeLink l;
  GstMessage *m;
  const GstStructure *st;
  gint w = 0, h = 0, fd;
  struct pollfd pfd;
  gchar got[64] = "";

  fail_unless (mkfifo (fifo, 0600) == 0);
  /* read-write: never end-of-file, and the script's open never blocks */
  fd = open (fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  fail_unless (fd >= 0);
  fail_unless (g_file_set_contents (prog, script, -1, NULL));
  fail_unless (chmod (prog, 0700) == 0);

  resize_link_start (&l, path, prog);
  fail_unless (src_stat_bool (l.src, "sender"));
  fail_unless (src_stat_bool (l.src, "sender-resizable"));
  fail_unless (gst_element_send_event (l.src, resize_event (1600, 900)));

  m = pop_resize_message (l.guest_bus, 10 * GST_SECOND);
  fail_unless (m != NULL, "no vmstream-resize message on the guest's bus");
  st = gst_message_get_structure (m);
  fail_unless (gst_structure_get_int (st, "width", &w));
  fail_unless (gst_structure_get_int (st, "height", &h));
  fail_unless_equals_int (w, 1600);
  fail_unless_equals_int (h, 900);
  gst_message_unref (m);

  pfd.fd = fd;
  pfd.events = POLLIN;
  fail_unless (poll (&pfd, 1, 10000) == 1, "the resize program did not run");
  fail_unless (read (fd, got, sizeof (got) - 1) > 0);
  fail_unless_equals_string (got, "2 1600 900\n");

  /* from downstream, the GStreamer way: the same */
  {
    GstPad *sinkpad = gst_element_get_static_pad (l.out, "sink");
    fail_unless (gst_pad_push_event (sinkpad, resize_event (640, 480)));
    gst_object_unref (sinkpad);
  }
  m = pop_resize_message (l.guest_bus, 10 * GST_SECOND);
  fail_unless (m != NULL);
  st = gst_message_get_structure (m);
  fail_unless (gst_structure_get_int (st, "width", &w));
  fail_unless_equals_int (w, 640);
  gst_message_unref (m);

  /* out of the protocol's bounds: refused at the source */
  fail_if (gst_element_send_event (l.src, resize_event (0, 900)));
  fail_if (gst_element_send_event (l.src, resize_event (1600, 16385)));

  resize_link_stop (&l);
  close (fd);
}

GST_END_TEST;

/* A sender whose HELLO did not offer RESIZE (no resize-program, as an
 * older guest) is sent nothing, and the request reports failure. */
GST_START_TEST (test_resize_not_offered)
{
  g_autofree gchar *path = sock_path ("noresize.sock");
  ResizeLink l;
  GstMessage *m;

  resize_link_start (&l, path, NULL);
  fail_unless (src_stat_bool (l.src, "sender"));
  fail_if (src_stat_bool (l.src, "sender-resizable"));
  fail_if (gst_element_send_event (l.src, resize_event (1600, 900)));
  /* the stream goes on; a RESIZE would have been read before these */
  resize_link_frames (&l, 5);
  m = pop_resize_message (l.guest_bus, 0);
  fail_unless (m == NULL, "the sender got a RESIZE it did not offer");
  resize_link_stop (&l);

  /* a resize-program that cannot run: not offered either, with a warning */
  path = (g_free (path), sock_path ("noresize2.sock"));
  resize_link_start (&l, path, "/nonexistent/vmstream-resize");
  fail_if (src_stat_bool (l.src, "sender-resizable"));
  fail_if (gst_element_send_event (l.src, resize_event (1600, 900)));
  m = gst_bus_pop_filtered (l.guest_bus, GST_MESSAGE_WARNING);
  fail_unless (m != NULL, "no warning about the resize program");
  gst_message_unref (m);
  resize_link_stop (&l);

  /* no sender at all */
  {
    GstElement *src = gst_element_factory_make ("vsocksrc", NULL);
    g_autofree gchar *uri = g_strdup_printf ("unix://%s/idle.sock", tmpdir);
    g_object_set (src, "uri", uri, NULL);
    fail_unless (gst_element_set_state (src, GST_STATE_PLAYING)
                 != GST_STATE_CHANGE_FAILURE);
    fail_if (src_stat_bool (src, "sender"));
    fail_if (gst_element_send_event (src, resize_event (1600, 900)));
    gst_element_set_state (src, GST_STATE_NULL);
    gst_object_unref (src);
  }
}

GST_END_TEST;

/* A RESIZE whose length is not 8 breaks the back-channel: the sink closes
 * the connection (and reconnects later), as for any bad message, and posts
 * no resize. */
GST_START_TEST (test_sink_malformed_resize)
{
  static const guint8 bad[] = { 4, 0, 0, 0, 7, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7 };
  FakeHost *fh = fake_host_new ("badresize.sock", 1, VMS_STATUS_OK);
  GstStructure *stats = NULL;
  guint64 disconnects = 0;
  GThread *t;
  GstBus *bus;
  GstHarness *h;
  GstMessage *m;

  fh->back = bad;
  fh->back_len = sizeof (bad);
  fh->hold_open = TRUE;
  t = g_thread_new ("host", fake_host_thread, fh);
  h = sink_harness_full (fh->path, "/bin/true", &bus);
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 0, 0)),
                          GST_FLOW_OK);
  fail_unless_equals_string (g_async_queue_pop (fh->events), "welcomed");
  fail_unless_equals_string (g_async_queue_pop (fh->events), "back-sent");
  g_thread_join (t);
  fail_unless (fh->hello.flags & VMS_HELLO_FLAG_RESIZE,
               "HELLO flags 0x%x do not offer RESIZE", fh->hello.flags);
  /* the next frame finds the bad message first */
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 1, 0)),
                          GST_FLOW_OK);
  g_object_get (h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "disconnects", &disconnects));
  gst_structure_free (stats);
  fail_unless_equals_int (disconnects, 1);
  m = pop_resize_message (bus, 0);
  fail_unless (m == NULL);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

/* A raw frame smaller than its caps say (pipewiresrc after the screen
 * shrank under it) is dropped, not sent: the host would drop the connection
 * for its layout. The next whole frame goes out on the same connection. */
GST_START_TEST (test_sink_drops_short_frame)
{
  FakeHost *fh = fake_host_new ("short.sock", 1, VMS_STATUS_OK);
  GstStructure *stats = NULL;
  guint64 dropped = 0, disconnects = 0;
  gsize short_size = W * H; /* NV12 needs W * H * 3 / 2 */
  GThread *t;
  GstBus *bus;
  GstHarness *h;

  t = g_thread_new ("host", fake_host_thread, fh);
  h = sink_harness (fh->path, &bus);
  fail_unless_equals_int (
      gst_harness_push (
          h, gst_buffer_new_wrapped (pattern (short_size, 1), short_size)),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, nv12_buffer (W, 2, 0)),
                          GST_FLOW_OK);
  g_thread_join (t);
  fail_unless_equals_int (fh->hdr[0].size, W * H * 3 / 2);
  g_object_get (h->element, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "frames-dropped", &dropped));
  fail_unless (gst_structure_get_uint64 (stats, "disconnects", &disconnects));
  gst_structure_free (stats);
  fail_unless_equals_int (dropped, 1);
  fail_unless_equals_int (disconnects, 0);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  fake_host_free (fh);
}

GST_END_TEST;

/* A host that accepted and then stopped reading must not hang a state
 * change: the sink blocked in its write returns FLUSHING on unlock. */
typedef struct {
  GstHarness *h;
  GstFlowReturn ret;
} PushCtx;

static gpointer
push_big_frame (gpointer data)
{
  PushCtx *ctx = data;
  gsize size = 8 * 1024 * 1024;
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);

  ctx->ret = gst_harness_push (ctx->h, buf);
  return NULL;
}

GST_START_TEST (test_sink_blocked_write_unlocks)
{
  FakeHost *fh = fake_host_new ("stuck.sock", 0, VMS_STATUS_OK);
  GThread *host;
  GstElement *sink = gst_element_factory_make ("vsocksink", NULL);
  gchar *uri = g_strdup_printf ("unix://%s", fh->path);
  PushCtx ctx = { NULL, GST_FLOW_OK };
  GThread *pusher;
  gint64 t0;

  fh->hold_open = TRUE;
  host = g_thread_new ("host", fake_host_thread, fh);
  /* wait for room without limit, and a long stall timeout */
  g_object_set (sink, "uri", uri, "max-send-wait", (gint64)-1, "timeout",
                600000, "buffer-size", 65536, NULL);
  ctx.h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_harness_set_src_caps_str (ctx.h, "application/octet-stream");
  pusher = g_thread_new ("push", push_big_frame, &ctx);
  /* the host handshakes and then reads nothing: 8 MiB cannot go out */
  fail_unless_equals_string (g_async_queue_pop (fh->events), "welcomed");
  g_thread_join (host); /* the host thread returns, keeps the fd */

  t0 = g_get_monotonic_time ();
  gst_element_set_state (sink, GST_STATE_NULL);
  g_thread_join (pusher);
  fail_unless (g_get_monotonic_time () - t0 < 5 * G_USEC_PER_SEC,
               "the state change waited for the stuck write");
  fail_unless_equals_int (ctx.ret, GST_FLOW_FLUSHING);

  gst_harness_teardown (ctx.h);
  gst_object_unref (sink);
  fake_host_free (fh);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_sink_bad_uri)
{
  GstElement *sink = gst_element_factory_make ("vsocksink", NULL);
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (sink, bus);
  /* no uri at all */
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
                          GST_STATE_CHANGE_FAILURE);
  expect_error (bus, "No transport URI");
  gst_element_set_state (sink, GST_STATE_NULL);

  /* listen-only address */
  g_object_set (sink, "uri", "vsock://any:5000", NULL);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED),
                          GST_STATE_CHANGE_FAILURE);
  expect_error (bus, "only listen");
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (bus);
}

GST_END_TEST;

static Suite *
vsockelements_suite (void)
{
  Suite *s = suite_create ("vsockelements");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_src_receives_frame_with_layout);
  tcase_add_test (tc, test_src_caps_message_renegotiates);
  tcase_add_test (tc, test_src_rejects_bad_peers);
  tcase_add_test (tc, test_src_new_peer_replaces_old);
  tcase_add_test (tc, test_src_stray_client_does_not_cut_stream);
  tcase_add_test (tc, test_src_hello_resync);
  tcase_add_test (tc, test_src_resync_mid_stream);
  tcase_add_test (tc, test_src_resync_garbage_bounded);
  tcase_add_test (tc, test_src_back_channel);
  tcase_add_test (tc, test_src_refuses_caps_downstream_rejects);
  tcase_add_test (tc, test_src_bad_uri);
  tcase_add_test (tc, test_src_timeout_warning);
  tcase_add_test (tc, test_src_requires_secret);
  tcase_add_test (tc, test_src_secret_file);
  tcase_add_test (tc, test_src_allowed_uid);
  tcase_add_test (tc, test_src_silent_newcomer_does_not_stall);
  tcase_add_test (tc, test_src_refused_newcomer_mid_frame);
  tcase_add_test (tc, test_src_silent_flood);
  tcase_add_test (tc, test_sink_sends_frames);
  tcase_add_test (tc, test_sink_many_memories);
  tcase_add_test (tc, test_sink_host_absent_drops);
  tcase_add_test (tc, test_sink_refused);
  tcase_add_test (tc, test_sink_secret);
  tcase_add_test (tc, test_sink_wrong_secret);
  tcase_add_test (tc, test_sink_keepalive_answered);
  tcase_add_test (tc, test_sink_keepalive_unanswered);
  tcase_add_test (tc, test_src_pong);
  tcase_add_test (tc, test_sink_keyframe_request_upstream);
  tcase_add_test (tc, test_sink_blocked_write_unlocks);
  tcase_add_test (tc, test_sink_bad_uri);
  tcase_add_test (tc, test_resize_reaches_sink);
  tcase_add_test (tc, test_resize_not_offered);
  tcase_add_test (tc, test_sink_malformed_resize);
  tcase_add_test (tc, test_sink_drops_short_frame);
  return s;
}

GST_CHECK_MAIN (vsockelements);
