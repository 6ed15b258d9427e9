/* Blocking-with-cancel I/O on non-blocking descriptors, driven by GstPoll so
 * that an element's unlock() (gst_poll_set_flushing) interrupts any wait. */
#pragma once

#include <gst/gst.h>
#include <sys/uio.h>

G_BEGIN_DECLS

/* Waits until @fd is readable (@read) or writable. Returns TRUE when ready;
 * FALSE with G_IO_ERROR_CANCELLED when flushing, G_IO_ERROR_TIMED_OUT after
 * @timeout (GST_CLOCK_TIME_NONE waits forever), G_IO_ERROR_NOT_CONNECTED on
 * a hang-up with nothing to read or write (a virtio-serial port whose host
 * side is not connected). */
gboolean vms_io_wait (GstPoll *poll, GstPollFD *pfd, gboolean read,
                      GstClockTime timeout, GError **error);

/* Writes every byte of @iov (modified in place), handling short writes.
 * @timeout bounds how long the peer may accept no byte at all. Sockets are
 * written with MSG_NOSIGNAL so a vanished peer is an error, not SIGPIPE.
 * *@written (may be NULL) gets the bytes written, also on failure: a caller
 * can tell a message that never started from a half-written one. */
gboolean vms_io_writev_all (GstPoll *poll, GstPollFD *pfd, gboolean is_socket,
                            struct iovec *iov, gint iovcnt,
                            GstClockTime timeout, gsize *written,
                            GError **error);

/* Reads exactly @len bytes; EOF before that is G_IO_ERROR_CONNECTION_CLOSED
 * (with *got set to what was read). */
gboolean vms_io_read_all (GstPoll *poll, GstPollFD *pfd, guint8 *dst, gsize len,
                          GstClockTime timeout, gsize *got, GError **error);

/* Like vms_io_read_all(), but the whole read must finish before
 * @deadline_us (g_get_monotonic_time() clock), however slowly the peer
 * trickles bytes in: G_IO_ERROR_TIMED_OUT after that. */
gboolean vms_io_read_deadline (GstPoll *poll, GstPollFD *pfd, guint8 *dst,
                               gsize len, gint64 deadline_us, gsize *got,
                               GError **error);

G_END_DECLS
