/* Helpers shared by the C test suites.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <gst/check/gstcheck.h>
#include <gst/gst.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: no SIGPIPE guard per call */
#endif

/* TRUE if GStreamer has an element factory @name. */
static inline gboolean
vms_test_have_element (const gchar *name)
{
  GstElementFactory *f = gst_element_factory_find (name);

  if (f)
    gst_object_unref (f);
  return f != NULL;
}

/* Fails the current GstCheck case when element @name is missing: every
 * element the suites use is installed by tools/install-deps.sh (./run-tests),
 * so a missing one is a broken set-up, never a silent pass. */
#define VMS_REQUIRE_ELEMENT(name)                                              \
  fail_unless (vms_test_have_element (name),                                   \
               "element %s is not installed here: run tools/install-deps.sh "  \
               "(its package is in tools/apt-packages.txt)",                   \
               name)

/* Fails the case when program @name is not on PATH, for the same reason. */
#define VMS_REQUIRE_PROGRAM(name)                                              \
  G_STMT_START                                                                 \
  {                                                                            \
    gchar *vms_p_ = g_find_program_in_path (name);                             \
    fail_unless (vms_p_ != NULL,                                               \
                 "%s is not installed here: run tools/install-deps.sh", name); \
    g_free (vms_p_);                                                           \
  }                                                                            \
  G_STMT_END

/* Fails the case when an error message waits on @pipeline's bus, naming
 * the error and its debug text. */
#define VMS_ASSERT_NO_BUS_ERROR(pipeline)                                      \
  G_STMT_START                                                                 \
  {                                                                            \
    GstBus *vms_b_ = gst_element_get_bus (GST_ELEMENT (pipeline));             \
    GstMessage *vms_m_ = gst_bus_pop_filtered (vms_b_, GST_MESSAGE_ERROR);     \
    gst_object_unref (vms_b_);                                                 \
    if (vms_m_) {                                                              \
      GError *vms_e_ = NULL;                                                   \
      gchar *vms_d_ = NULL;                                                    \
      gst_message_parse_error (vms_m_, &vms_e_, &vms_d_);                      \
      fail ("error on the bus of %s: %s (%s)", GST_OBJECT_NAME (pipeline),     \
            vms_e_->message, vms_d_ ? vms_d_ : "");                            \
    }                                                                          \
  }                                                                            \
  G_STMT_END

/* This process's resident memory in bytes (/proc/self/statm), 0 when it
 * cannot be read. */
static inline guint64
vms_test_rss_bytes (void)
{
  gchar *statm = NULL;
  guint64 size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      && sscanf (statm, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &size,
                 &resident)
             != 2)
    resident = 0;
  g_free (statm);
  return resident * (guint64)sysconf (_SC_PAGESIZE);
}

/* Writes all of @data to @fd (a socket: MSG_NOSIGNAL, so a gone peer is a
 * failure, not SIGPIPE; anything else: write()), failing the case on an
 * error. */
static inline void
vms_test_write_all (gint fd, const void *data, gsize len)
{
  const guint8 *p = data;

  while (len > 0) {
    ssize_t n = send (fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    fail_unless (n > 0, "write: %s", g_strerror (errno));
    p += n;
    len -= n;
  }
}

/* Reads exactly @len bytes from @fd, each wait at most 10 s (a silent peer
 * fails the case); FALSE on end of file first. */
static inline gboolean
vms_test_read_all (gint fd, void *data, gsize len)
{
  guint8 *p = data;

  while (len > 0) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    ssize_t n;

    fail_unless (poll (&pfd, 1, 10000) == 1, "peer silent for 10 s");
    n = read (fd, p, len);
    if (n == 0)
      return FALSE;
    if (n < 0 && errno == EINTR)
      continue;
    fail_unless (n > 0, "read: %s", g_strerror (errno));
    p += n;
    len -= n;
  }
  return TRUE;
}
