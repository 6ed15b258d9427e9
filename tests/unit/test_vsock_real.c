/* A real AF_VSOCK byte path through vsocksink and vsocksrc. It needs vsock
 * loopback (CID 1, the vsock_loopback module) or runs inside a guest; where
 * the kernel offers neither it is reported as skipped with the reason.
 * It never connects to CID 2 (the host as seen from a guest). */
#include <gst/gst.h>
#include <gst/app/gstappsink.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define SKIP 77
#define N 30

static int
skip (const gchar *why)
{
  g_print ("SKIP: %s\n", why);
  return SKIP;
}

/* Can this kernel carry bytes over vsock loopback? */
static gboolean
loopback_works (guint port, gchar **why)
{
  struct sockaddr_vm svm = { .svm_family = AF_VSOCK };
  gint lfd, cfd, rc, err;

  lfd = socket (AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    *why = g_strdup_printf ("the kernel has no AF_VSOCK sockets (%s)",
                            g_strerror (errno));
    return FALSE;
  }
  svm.svm_cid = VMADDR_CID_ANY;
  svm.svm_port = port;
  if (bind (lfd, (struct sockaddr *)&svm, sizeof (svm)) != 0
      || listen (lfd, 1) != 0) {
    *why = g_strdup_printf ("cannot listen on vsock port %u (%s)", port,
                            g_strerror (errno));
    close (lfd);
    return FALSE;
  }
  cfd = socket (AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  svm.svm_cid = VMADDR_CID_LOCAL;
  rc = connect (cfd, (struct sockaddr *)&svm, sizeof (svm));
  err = errno;
  close (cfd);
  close (lfd);
  if (rc != 0) {
    *why = g_strdup_printf (
        "no vsock loopback: connecting to CID 1 failed "
        "(%s); load the vsock_loopback module or run inside a VM",
        g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  guint port = 20000 + (getpid () % 20000);
  gchar *why = NULL, *desc;
  GstElement *rx, *tx, *appsink;
  GError *err = NULL;
  guint i;

  gst_init (&argc, &argv);
  if (!loopback_works (port, &why)) {
    int rc = skip (why);
    g_free (why);
    return rc;
  }

  desc = g_strdup_printf ("vsocksrc uri=vsock://any:%u ! appsink name=sink "
                          "sync=false",
                          port);
  rx = gst_parse_launch (desc, &err);
  g_assert_no_error (err);
  g_free (desc);
  appsink = gst_bin_get_by_name (GST_BIN (rx), "sink");
  gst_element_set_state (rx, GST_STATE_PLAYING);

  desc = g_strdup_printf (
      "videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,format=NV12,width=1280,height=720 ! vsocksink "
      "uri=vsock://1:%u max-send-wait=-1",
      N, port);
  tx = gst_parse_launch (desc, &err);
  g_assert_no_error (err);
  g_free (desc);
  gst_element_set_state (tx, GST_STATE_PLAYING);

  for (i = 0; i < N; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (GST_APP_SINK (appsink),
                                                 20 * GST_SECOND);
    GstBuffer *buf;
    if (s == NULL) {
      g_printerr ("FAIL: frame %u did not arrive over vsock\n", i);
      return 1;
    }
    buf = gst_sample_get_buffer (s);
    g_assert_cmpuint (gst_buffer_get_size (buf), ==, 1280 * 720 * 3 / 2);
    g_assert_cmpuint (GST_BUFFER_OFFSET (buf), ==, i);
    gst_sample_unref (s);
  }
  g_print ("PASS: %d frames over AF_VSOCK loopback\n", N);
  gst_element_set_state (tx, GST_STATE_NULL);
  gst_element_set_state (rx, GST_STATE_NULL);
  gst_object_unref (appsink);
  gst_object_unref (tx);
  gst_object_unref (rx);
  return 0;
}
