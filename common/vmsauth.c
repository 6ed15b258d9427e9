/* vmstream common: secrets and their comparison (see vmsauth.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsauth.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

gboolean
vms_token_equal (const gchar *expected, const gchar *given)
{
  gsize a, b;
  guint8 diff;

  if (expected == NULL || given == NULL || *expected == '\0')
    return FALSE;
  a = strlen (expected);
  b = strlen (given);
  diff = a != b;
  for (gsize i = 0; i < b; i++)
    diff |= (guint8)given[i] ^ (guint8)expected[i % a];
  return diff == 0;
}

gboolean
vms_random_bytes (guint8 *buf, gsize len, GError **error)
{
  gsize got = 0;
  int fd;

  /* /dev/urandom exists on Linux and macOS alike (getrandom(2) is
   * Linux-only); GLib's g_random is not meant for secrets. */
  fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                 "cannot open /dev/urandom for random bytes: %s",
                 g_strerror (e));
    return FALSE;
  }
  while (got < len) {
    ssize_t r = read (fd, buf + got, len - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "cannot read random bytes from /dev/urandom: %s",
                   g_strerror (e));
      return FALSE;
    }
    got += (gsize)r;
  }
  close (fd);
  return TRUE;
}

gchar *
vms_token_generate (gsize n_bytes, GError **error)
{
  g_autofree guint8 *raw = g_malloc (n_bytes);
  GString *hex;

  if (!vms_random_bytes (raw, n_bytes, error)) {
    g_prefix_error (error, "no new secret: ");
    return NULL;
  }
  hex = g_string_sized_new (2 * n_bytes);
  for (gsize i = 0; i < n_bytes; i++)
    g_string_append_printf (hex, "%02x", raw[i]);
  memset (raw, 0, n_bytes);
  return g_string_free (hex, FALSE);
}
