#include "vmsio.h"
#include "vmstransport.h" /* VMS_MSG_NOSIGNAL */

#include <gio/gio.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

gboolean
vms_io_wait (GstPoll *poll, GstPollFD *pfd, gboolean read, GstClockTime timeout,
             GError **error)
{
  gint rc;

  gst_poll_fd_ctl_read (poll, pfd, read);
  gst_poll_fd_ctl_write (poll, pfd, !read);
  do {
    rc = gst_poll_wait (poll, timeout);
  } while (rc < 0 && (errno == EINTR || errno == EAGAIN));
  gst_poll_fd_ctl_read (poll, pfd, FALSE);
  gst_poll_fd_ctl_write (poll, pfd, FALSE);

  if (rc < 0) {
    if (errno == EBUSY) {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                           "interrupted (flushing)");
    } else {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "poll failed: %s", g_strerror (err));
    }
    return FALSE;
  }
  if (rc == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "peer made no progress for %" GST_TIME_FORMAT,
                 GST_TIME_ARGS (timeout));
    return FALSE;
  }
  if (gst_poll_fd_has_error (poll, pfd) && !gst_poll_fd_can_read (poll, pfd)
      && !gst_poll_fd_can_write (poll, pfd)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                         "connection error");
    return FALSE;
  }
  /* Hang-up with nothing to read or write: a virtio-serial port reports
   * POLLHUP while the host side is not connected (its writes then block and
   * its reads end); waiting again would return at once, a busy loop. */
  if (gst_poll_fd_has_closed (poll, pfd) && !gst_poll_fd_can_read (poll, pfd)
      && !gst_poll_fd_can_write (poll, pfd)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                         "the other side is not connected (hang-up)");
    return FALSE;
  }
  return TRUE;
}

gboolean
vms_io_writev_all (GstPoll *poll, GstPollFD *pfd, gboolean is_socket,
                   struct iovec *iov, gint iovcnt, GstClockTime timeout,
                   gsize *written, GError **error)
{
  gsize dummy;

  if (written == NULL)
    written = &dummy;
  *written = 0;
  while (iovcnt > 0) {
    ssize_t n;

    if (iov->iov_len == 0) {
      iov++;
      iovcnt--;
      continue;
    }
    if (is_socket) {
      struct msghdr msg = { 0 };
      msg.msg_iov = iov;
      msg.msg_iovlen = MIN (iovcnt, IOV_MAX);
      n = sendmsg (pfd->fd, &msg, VMS_MSG_NOSIGNAL);
    } else {
      n = writev (pfd->fd, iov, MIN (iovcnt, IOV_MAX));
    }
    if (n < 0) {
      int err = errno;
      if (err == EINTR)
        continue;
      if (err == EAGAIN) {
        if (!vms_io_wait (poll, pfd, FALSE, timeout, error))
          return FALSE;
        continue;
      }
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "write failed: %s", g_strerror (err));
      return FALSE;
    }
    /* Advance past what was written; a short write leaves a partial iov. */
    *written += n;
    while (n > 0 && iovcnt > 0) {
      if ((size_t)n >= iov->iov_len) {
        n -= iov->iov_len;
        iov++;
        iovcnt--;
      } else {
        iov->iov_base = (guint8 *)iov->iov_base + n;
        iov->iov_len -= n;
        n = 0;
      }
    }
  }
  return TRUE;
}

/* The read loop of vms_io_read_all() and vms_io_read_deadline(): each
 * wait for more bytes lasts @timeout, or, with @deadline_us >= 0, what is
 * left until @deadline_us (monotonic time). */
static gboolean
read_loop (GstPoll *poll, GstPollFD *pfd, guint8 *dst, gsize len,
           GstClockTime timeout, gint64 deadline_us, gsize *got, GError **error)
{
  gsize done = 0;
  gboolean ret = TRUE;

  while (done < len) {
    ssize_t n = read (pfd->fd, dst + done, len - done);

    if (n > 0) {
      done += n;
      continue;
    }
    if (n == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "peer closed the connection after %" G_GSIZE_FORMAT
                   " of %" G_GSIZE_FORMAT " bytes",
                   done, len);
      ret = FALSE;
      break;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) {
      if (deadline_us >= 0) {
        gint64 left = deadline_us - g_get_monotonic_time ();
        if (left <= 0) {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "peer sent %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                       " bytes in time",
                       done, len);
          ret = FALSE;
          break;
        }
        timeout = left * GST_USECOND;
      }
      if (!vms_io_wait (poll, pfd, TRUE, timeout, error)) {
        ret = FALSE;
        break;
      }
      continue;
    }
    {
      int err = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                   "read failed: %s", g_strerror (err));
    }
    ret = FALSE;
    break;
  }
  if (got)
    *got = done;
  return ret;
}

gboolean
vms_io_read_all (GstPoll *poll, GstPollFD *pfd, guint8 *dst, gsize len,
                 GstClockTime timeout, gsize *got, GError **error)
{
  return read_loop (poll, pfd, dst, len, timeout, -1, got, error);
}

gboolean
vms_io_read_deadline (GstPoll *poll, GstPollFD *pfd, guint8 *dst, gsize len,
                      gint64 deadline_us, gsize *got, GError **error)
{
  return read_loop (poll, pfd, dst, len, GST_CLOCK_TIME_NONE,
                    MAX (deadline_us, 0), got, error);
}
