/* Transport URIs and socket helpers. */
#include <gst/check/gstcheck.h>
#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmsio.h"
#include "vmstransport.h"

static void
check_roundtrip (const gchar *uri, VmsTransportKind kind)
{
  GError *err = NULL;
  VmsAddress *a = vms_address_parse (uri, &err);
  gchar *s;

  fail_unless (a != NULL, "%s: %s", uri, err ? err->message : "");
  fail_unless_equals_int (a->kind, kind);
  s = vms_address_to_string (a);
  fail_unless_equals_string (s, uri);
  g_free (s);
  vms_address_free (a);
}

static void
check_invalid (const gchar *uri, const gchar *needle)
{
  GError *err = NULL;
  VmsAddress *a = vms_address_parse (uri, &err);

  fail_unless (a == NULL, "%s should be rejected", uri);
  fail_unless (err != NULL);
  /* the message names the value and the expected forms */
  if (uri && *uri)
    fail_unless (strstr (err->message, uri) != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "vsock://CID:PORT") != NULL);
  if (needle)
    fail_unless (strstr (err->message, needle) != NULL, "%s", err->message);
  g_clear_error (&err);
}

GST_START_TEST (test_parse_valid)
{
  VmsAddress *a;

  check_roundtrip ("vsock://3:5000", VMS_TRANSPORT_VSOCK);
  check_roundtrip ("vsock://any:5000", VMS_TRANSPORT_VSOCK);
  check_roundtrip ("vsock://4294967294:4294967294", VMS_TRANSPORT_VSOCK);
  check_roundtrip ("unix:///run/vm0.sock_5000", VMS_TRANSPORT_UNIX);
  check_roundtrip ("unix://@vmstream-test", VMS_TRANSPORT_UNIX);
  check_roundtrip ("tcp://127.0.0.1:5000", VMS_TRANSPORT_TCP);
  check_roundtrip ("tcp://[::1]:5000", VMS_TRANSPORT_TCP);
  check_roundtrip ("tcp://localhost:0", VMS_TRANSPORT_TCP);
  check_roundtrip ("serial:///dev/virtio-ports/vmstream.0",
                   VMS_TRANSPORT_SERIAL);

  a = vms_address_parse ("vsock://ANY:7", NULL);
  fail_unless_equals_int (a->cid, VMS_VSOCK_CID_ANY);
  fail_unless_equals_int (a->port, 7);
  vms_address_free (a);

  a = vms_address_parse ("unix://@abc", NULL);
  fail_unless (a->abstract);
  fail_unless_equals_string (a->path, "abc");
  vms_address_free (a);

  a = vms_address_parse ("tcp://[::1]:80", NULL);
  fail_unless_equals_string (a->host, "::1");
  fail_unless_equals_int (a->port, 80);
  vms_address_free (a);
}

GST_END_TEST;

GST_START_TEST (test_parse_invalid)
{
  gchar *longpath;
  GError *err = NULL;

  fail_unless (vms_address_parse (NULL, &err) == NULL);
  fail_unless (strstr (err->message, "No transport URI") != NULL);
  g_clear_error (&err);
  check_invalid ("", NULL);
  check_invalid ("http://x:1", "unknown scheme");
  check_invalid ("vsock://", "CID:PORT");
  check_invalid ("vsock://3", "CID:PORT");
  check_invalid ("vsock://3:5000:1", "CID:PORT");
  check_invalid ("vsock://x:5000", "CID");
  check_invalid ("vsock://-1:5000", "CID");
  check_invalid ("vsock://3:", "port");
  check_invalid ("vsock://3:4294967295", "port");
  check_invalid ("vsock://3:99999999999999999999", "port");
  check_invalid ("vsock://3:12ab", "port");
  check_invalid ("unix://relative/path", "absolute");
  check_invalid ("unix://", "absolute");
  check_invalid ("unix:///", "empty");
  check_invalid ("unix://@", "empty");
  longpath = g_strdup_printf ("unix:///%0200d", 0);
  check_invalid (longpath, "longer");
  g_free (longpath);
  check_invalid ("tcp://127.0.0.1", "HOST:PORT");
  check_invalid ("tcp://:80", "host is empty");
  check_invalid ("tcp://h:65536", "port");
  check_invalid ("tcp://h:", "port");
  check_invalid ("tcp://[::1]80", "IPv6");
  check_invalid ("serial://dev/x", "absolute");
}

GST_END_TEST;

GST_START_TEST (test_can_listen_connect)
{
  GError *err = NULL;
  VmsAddress *a;

  a = vms_address_parse ("vsock://any:5000", NULL);
  fail_unless (vms_address_can_listen (a, NULL));
  fail_if (vms_address_can_connect (a, &err));
  fail_unless (strstr (err->message, "only listen") != NULL);
  g_clear_error (&err);
  vms_address_free (a);

  a = vms_address_parse ("serial:///dev/null", NULL);
  fail_if (vms_address_can_listen (a, &err));
  fail_unless (strstr (err->message, "cannot listen") != NULL);
  g_clear_error (&err);
  fail_unless (vms_transport_listen (a, &err) < 0);
  g_clear_error (&err);
  vms_address_free (a);

  a = vms_address_parse ("tcp://127.0.0.1:0", NULL);
  fail_if (vms_address_can_connect (a, &err));
  g_clear_error (&err);
  vms_address_free (a);
}

GST_END_TEST;

/* Connects, sends bytes both ways over a freshly listened address. */
static void
check_pair (VmsAddress *listen_addr, VmsAddress *connect_addr)
{
  GError *err = NULL;
  gboolean in_progress;
  gint lfd, cfd, sfd;
  gchar *peer = NULL;
  gchar buf[8];
  struct pollfd pfd;

  lfd = vms_transport_listen (listen_addr, &err);
  fail_unless (lfd >= 0, "%s", err ? err->message : "");
  if (connect_addr->kind == VMS_TRANSPORT_TCP && connect_addr->port == 0)
    connect_addr->port = vms_transport_get_local_port (lfd);
  cfd = vms_transport_connect (connect_addr, &in_progress, &err);
  fail_unless (cfd >= 0, "%s", err ? err->message : "");
  pfd.fd = lfd;
  pfd.events = POLLIN;
  fail_unless (poll (&pfd, 1, 5000) == 1);
  sfd = vms_transport_accept (lfd, &peer, &err);
  fail_unless (sfd >= 0, "%s", err ? err->message : "");
  fail_unless (peer != NULL);
  if (in_progress) {
    pfd.fd = cfd;
    pfd.events = POLLOUT;
    fail_unless (poll (&pfd, 1, 5000) == 1);
  }
  fail_unless (vms_transport_connect_finish (cfd, NULL));
  fail_unless (vms_transport_is_socket (cfd));
  {
    guint32 id = G_MAXUINT32;
    /* SO_PEERCRED on unix sockets only; no vsock CID on either */
    fail_unless_equals_int (vms_transport_get_peer_uid (sfd, &id),
                            connect_addr->kind == VMS_TRANSPORT_UNIX);
    if (connect_addr->kind == VMS_TRANSPORT_UNIX)
      fail_unless_equals_int (id, getuid ());
    fail_if (vms_transport_get_peer_cid (sfd, &id));
  }
  vms_transport_tune (cfd, 1 << 20);
  fail_unless_equals_int (write (cfd, "ping", 4), 4);
  pfd.fd = sfd;
  pfd.events = POLLIN;
  fail_unless (poll (&pfd, 1, 5000) == 1);
  fail_unless_equals_int (read (sfd, buf, sizeof (buf)), 4);
  fail_unless (memcmp (buf, "ping", 4) == 0);
  g_free (peer);
  close (sfd);
  close (cfd);
  close (lfd);
}

GST_START_TEST (test_tcp_pair)
{
  VmsAddress *l = vms_address_parse ("tcp://127.0.0.1:0", NULL);
  VmsAddress *c = vms_address_parse ("tcp://127.0.0.1:0", NULL);

  check_pair (l, c);
  vms_address_free (l);
  vms_address_free (c);
}

GST_END_TEST;

GST_START_TEST (test_unix_pair_and_stale)
{
  gchar *dir = g_dir_make_tmp ("vmstest-XXXXXX", NULL);
  gchar *uri = g_strdup_printf ("unix://%s/s.sock", dir);
  VmsAddress *a = vms_address_parse (uri, NULL);
  GError *err = NULL;
  gint lfd, lfd2;
  struct stat st;

  check_pair (a, a);
  /* the closed listener left a stale socket file: listening replaces it */
  fail_unless (stat (a->path, &st) == 0);
  lfd = vms_transport_listen (a, &err);
  fail_unless (lfd >= 0, "%s", err ? err->message : "");
  /* a live listener is not stolen */
  lfd2 = vms_transport_listen (a, &err);
  fail_unless (lfd2 < 0);
  fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE),
               "%s", err->message);
  g_clear_error (&err);
  close (lfd);
  unlink (a->path);

  /* a regular file in the way is an error, not deleted */
  g_file_set_contents (a->path, "x", 1, NULL);
  fail_unless (vms_transport_listen (a, &err) < 0);
  fail_unless (strstr (err->message, "not a socket") != NULL);
  g_clear_error (&err);
  fail_unless (stat (a->path, &st) == 0);
  unlink (a->path);
  rmdir (dir);
  vms_address_free (a);
  g_free (uri);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_abstract_pair)
{
  gchar *uri = g_strdup_printf ("unix://@vmstest-%d", getpid ());
  VmsAddress *a = vms_address_parse (uri, NULL);

  check_pair (a, a);
  vms_address_free (a);
  g_free (uri);
}

GST_END_TEST;

GST_START_TEST (test_connect_refused)
{
  gchar *uri = g_strdup_printf ("unix://@vmstest-nobody-%d", getpid ());
  VmsAddress *a = vms_address_parse (uri, NULL);
  GError *err = NULL;
  gboolean in_progress;

  fail_unless (vms_transport_connect (a, &in_progress, &err) < 0);
  fail_unless (strstr (err->message, "Cannot connect to") != NULL);
  fail_unless (strstr (err->message, uri) != NULL);
  g_clear_error (&err);
  vms_address_free (a);
  g_free (uri);

  a = vms_address_parse ("serial:///nonexistent/vport", NULL);
  fail_unless (vms_transport_connect (a, &in_progress, &err) < 0);
  fail_unless (strstr (err->message, "/nonexistent/vport") != NULL);
  g_clear_error (&err);
  vms_address_free (a);
}

GST_END_TEST;

GST_START_TEST (test_secret_file_and_random)
{
  gchar *dir = g_dir_make_tmp ("vmstest-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "secret", NULL);
  guint8 a[32] = { 0 }, b[32] = { 0 };
  GError *err = NULL;
  gchar *secret;
  gsize len = 0;

  /* the first line, without its line end */
  fail_unless (g_file_set_contents (path, "0123abcd\nrest\n", -1, NULL));
  secret = vms_secret_load_file (path, &len, &err);
  fail_unless (secret != NULL, "%s", err ? err->message : "");
  fail_unless_equals_string (secret, "0123abcd");
  fail_unless_equals_int (len, 8);
  vms_secret_free (secret);
  fail_unless (g_file_set_contents (path, "no-newline", -1, NULL));
  secret = vms_secret_load_file (path, &len, NULL);
  fail_unless_equals_string (secret, "no-newline");
  vms_secret_free (secret);
  /* empty, or an empty first line, is no secret */
  fail_unless (g_file_set_contents (path, "\nx", -1, NULL));
  fail_unless (vms_secret_load_file (path, &len, &err) == NULL);
  fail_unless (strstr (err->message, path) != NULL, "%s", err->message);
  g_clear_error (&err);
  unlink (path);
  fail_unless (vms_secret_load_file (path, &len, &err) == NULL);
  g_clear_error (&err);

  fail_unless (vms_random_bytes (a, sizeof (a), NULL));
  fail_unless (vms_random_bytes (b, sizeof (b), NULL));
  fail_if (memcmp (a, b, sizeof (a)) == 0);

  rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

/* A hang-up with nothing to read is an error, not "ready": the guest's
 * virtio-serial port reports POLLHUP alone while the host side is not
 * connected, and a sender that waited again would spin. The read end of a
 * pipe whose writer is gone reports the same (POLLHUP, no POLLIN). */
GST_START_TEST (test_io_wait_hangup)
{
  gint fds[2];
  GstPoll *poll = gst_poll_new (TRUE);
  GstPollFD pfd = GST_POLL_FD_INIT;
  GError *err = NULL;
  guint8 b = 7, got = 0;

  fail_unless (pipe (fds) == 0);
  pfd.fd = fds[0];
  gst_poll_add_fd (poll, &pfd);
  /* data first: readable, and it is read */
  fail_unless (write (fds[1], &b, 1) == 1);
  fail_unless (vms_io_wait (poll, &pfd, TRUE, GST_SECOND, &err));
  fail_unless (read (fds[0], &got, 1) == 1 && got == 7);
  /* then the writer goes: an error at once, not a wait that returns TRUE */
  close (fds[1]);
  fail_if (vms_io_wait (poll, &pfd, TRUE, GST_SECOND, &err));
  fail_unless (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED),
               "%s", err ? err->message : "no error");
  g_clear_error (&err);
  gst_poll_free (poll);
  close (fds[0]);
}

GST_END_TEST;

static Suite *
transport_suite (void)
{
  Suite *s = suite_create ("transport");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_parse_valid);
  tcase_add_test (tc, test_parse_invalid);
  tcase_add_test (tc, test_can_listen_connect);
  tcase_add_test (tc, test_tcp_pair);
  tcase_add_test (tc, test_unix_pair_and_stale);
  tcase_add_test (tc, test_abstract_pair);
  tcase_add_test (tc, test_connect_refused);
  tcase_add_test (tc, test_secret_file_and_random);
  tcase_add_test (tc, test_io_wait_hangup);
  return s;
}

GST_CHECK_MAIN (transport);
