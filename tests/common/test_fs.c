/* common/vmsfs: private runtime folders and files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each case is a folder someone else could have prepared for us: owned by
 * another user (needs root to create; skipped otherwise), a symbolic link,
 * group/world writable. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmsfs.h"

static gchar *tmp;

static guint
mode_of (const gchar *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_missing_is_created_private (void)
{
  g_autofree gchar *dir = g_build_filename (tmp, "a", "b", "run", NULL);
  g_autofree gchar *parent = g_path_get_dirname (dir);
  g_autoptr (GError) err = NULL;
  gboolean tightened = TRUE;

  g_assert_true (vms_private_dir_ensure (dir, &tightened, &err));
  g_assert_no_error (err);
  g_assert_false (tightened);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_cmpuint (mode_of (dir), ==, 0700);
  g_assert_cmpuint (mode_of (parent), ==, 0700);
  /* again: it exists, it is ours, fine */
  g_assert_true (vms_private_dir_ensure (dir, NULL, &err));
}

static void
test_symlink_is_refused (void)
{
  g_autofree gchar *target = g_build_filename (tmp, "elsewhere", NULL);
  g_autofree gchar *link = g_build_filename (tmp, "linked", NULL);
  g_autofree gchar *dangling = g_build_filename (tmp, "dangling", NULL);
  g_autoptr (GError) err = NULL;

  g_assert_cmpint (g_mkdir (target, 0700), ==, 0);
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_false (vms_private_dir_ensure (link, NULL, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_LOOP);
  g_assert_nonnull (strstr (err->message, "symbolic link"));
  g_clear_error (&err);
  {
    /* a trailing slash must not make the link followed */
    g_autofree gchar *slash = g_strconcat (link, "//", NULL);
    g_assert_false (vms_private_dir_ensure (slash, NULL, &err));
    g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_LOOP);
    g_clear_error (&err);
  }
  /* a link to a folder that does not exist yet is not followed either */
  g_assert_cmpint (symlink ("/nonexistent/vmstream-target", dangling), ==, 0);
  g_assert_false (vms_private_dir_ensure (dangling, NULL, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_LOOP);
  g_assert_false (
      g_file_test ("/nonexistent/vmstream-target", G_FILE_TEST_EXISTS));
}

static void
test_other_owner_is_refused (void)
{
  g_autofree gchar *dir = g_build_filename (tmp, "theirs", NULL);
  g_autoptr (GError) err = NULL;

  if (geteuid () != 0) {
    g_test_skip ("needs root to give a folder to another user");
    return;
  }
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_cmpint (chown (dir, 65534, 65534), ==, 0);
  g_assert_false (vms_private_dir_ensure (dir, NULL, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_PERM);
  g_assert_nonnull (strstr (err->message, "owned by uid 65534"));
}

static void
test_writable_by_others_is_refused (void)
{
  g_autofree gchar *dir = g_build_filename (tmp, "open", NULL);
  g_autoptr (GError) err = NULL;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_cmpint (chmod (dir, 0777), ==, 0);
  g_assert_false (vms_private_dir_ensure (dir, NULL, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_PERM);
  g_assert_nonnull (strstr (err->message, "mode 0777"));
  g_clear_error (&err);
  g_assert_cmpint (chmod (dir, 0720), ==, 0);
  g_assert_false (vms_private_dir_ensure (dir, NULL, &err));
  g_assert_cmpuint (mode_of (dir), ==, 0720); /* refused, not changed */
}

static void
test_readable_by_others_is_tightened (void)
{
  g_autofree gchar *dir = g_build_filename (tmp, "wide", NULL);
  g_autoptr (GError) err = NULL;
  gboolean tightened = FALSE;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  g_assert_true (vms_private_dir_ensure (dir, &tightened, &err));
  g_assert_no_error (err);
  g_assert_true (tightened);
  g_assert_cmpuint (mode_of (dir), ==, 0700);
}

static void
test_not_a_folder_is_refused (void)
{
  g_autofree gchar *file = g_build_filename (tmp, "plain", NULL);
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (file, "x", -1, NULL));
  g_assert_false (vms_private_dir_ensure (file, NULL, &err));
  g_assert_error (err, G_FILE_ERROR, G_FILE_ERROR_NOTDIR);
}

static void
test_private_file (void)
{
  g_autofree gchar *file = g_build_filename (tmp, "secret", NULL);
  g_autofree gchar *text = NULL;
  g_autoptr (GError) err = NULL;

  g_assert_true (g_file_set_contents (file, "old", -1, NULL));
  g_assert_cmpint (chmod (file, 0644), ==, 0);
  g_assert_true (vms_private_file_write (file, "s3cret\n", &err));
  g_assert_no_error (err);
  g_assert_cmpuint (mode_of (file), ==, 0600);
  g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "s3cret\n");
}

int
main (int argc, char **argv)
{
  int ret;
  g_autofree gchar *cmd = NULL;

  g_test_init (&argc, &argv, NULL);
  tmp = g_dir_make_tmp ("vmsfs-XXXXXX", NULL);
  g_assert_nonnull (tmp);
  g_test_add_func ("/fs/missing-is-created-private",
                   test_missing_is_created_private);
  g_test_add_func ("/fs/symlink-is-refused", test_symlink_is_refused);
  g_test_add_func ("/fs/other-owner-is-refused", test_other_owner_is_refused);
  g_test_add_func ("/fs/writable-by-others-is-refused",
                   test_writable_by_others_is_refused);
  g_test_add_func ("/fs/readable-by-others-is-tightened",
                   test_readable_by_others_is_tightened);
  g_test_add_func ("/fs/not-a-folder-is-refused", test_not_a_folder_is_refused);
  g_test_add_func ("/fs/private-file", test_private_file);
  ret = g_test_run ();
  cmd = g_strdup_printf ("rm -rf '%s'", tmp);
  if (system (cmd) != 0)
    g_printerr ("could not remove %s\n", tmp);
  g_free (tmp);
  return ret;
}
