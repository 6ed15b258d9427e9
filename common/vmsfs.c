/* vmstream common: private runtime folders and files (see vmsfs.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsfs.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
fail_errno (GError **error, int e, const gchar *fmt, const gchar *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), fmt, path,
               g_strerror (e));
  return FALSE;
}

static gboolean dir_ensure (const gchar *path, gboolean *tightened,
                            GError **error);

gboolean
vms_private_dir_ensure (const gchar *path, gboolean *tightened, GError **error)
{
  g_autofree gchar *p = g_strdup (path);
  gsize n = p ? strlen (p) : 0;

  /* "dir/" would follow a symbolic link "dir" despite O_NOFOLLOW */
  while (n > 1 && p[n - 1] == '/')
    p[--n] = '\0';
  return dir_ensure (p, tightened, error);
}

static gboolean
dir_ensure (const gchar *path, gboolean *tightened, GError **error)
{
  struct stat st;
  int fd;

  if (tightened)
    *tightened = FALSE;
  if (path == NULL || *path == '\0') {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "no folder name given");
    return FALSE;
  }
  if (mkdir (path, 0700) != 0) {
    int e = errno;
    if (e == ENOENT) {
      g_autofree gchar *parent = g_path_get_dirname (path);
      if (g_mkdir_with_parents (parent, 0700) != 0)
        return fail_errno (error, errno, "cannot create %s: %s", parent);
      if (mkdir (path, 0700) != 0 && errno != EEXIST)
        return fail_errno (error, errno, "cannot create %s: %s", path);
    } else if (e != EEXIST) {
      return fail_errno (error, e, "cannot create %s: %s", path);
    }
  }

  fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (lstat (path, &st) == 0 && S_ISLNK (st.st_mode)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_LOOP,
                   "%s is a symbolic link, not a folder of ours: someone "
                   "may have pointed it at a folder they can read",
                   path);
      return FALSE;
    }
    if (e == ENOTDIR) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                   "%s exists and is not a folder", path);
      return FALSE;
    }
    return fail_errno (error, e, "cannot open the folder %s: %s", path);
  }
  if (fstat (fd, &st) != 0) {
    int e = errno;
    close (fd);
    return fail_errno (error, e, "cannot check the folder %s: %s", path);
  }
  if (st.st_uid != geteuid ()) {
    close (fd);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                 "%s is owned by uid %u, not by this user (uid %u): someone "
                 "else created it and could read or replace what is put "
                 "there",
                 path, (guint)st.st_uid, (guint)geteuid ());
    return FALSE;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    close (fd);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                 "%s can be written by group or others (mode %04o): others "
                 "may have put files there",
                 path, (guint)(st.st_mode & 07777));
    return FALSE;
  }
  if ((st.st_mode & 07777) != 0700) {
    if (fchmod (fd, 0700) != 0) {
      int e = errno;
      close (fd);
      return fail_errno (error, e, "cannot make %s private (chmod 0700): %s",
                         path);
    }
    if (tightened)
      *tightened = TRUE;
  }
  close (fd);
  return TRUE;
}

gboolean
vms_private_file_write (const gchar *path, const gchar *contents,
                        GError **error)
{
  return g_file_set_contents_full (path, contents, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}
