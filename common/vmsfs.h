/* vmstream common: private runtime folders and files.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A runtime folder holds sockets (QMP, the guest link), secrets and logs:
 * another local user who owns it, or who made it a symbolic link to a
 * folder of theirs, could read the stream, drive the VM or swap a socket.
 * /tmp/vmstream-UID in particular has a name anyone can predict and create
 * first. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Makes sure @path is a folder only this user can use. Missing: it is
 * created with mode 0700 (missing parents too, 0700). Existing: it must be
 * a real folder (a symbolic link is refused, opened with O_NOFOLLOW and
 * checked with fstat), owned by our effective uid and not writable by group
 * or others; read/search permission for group or others is taken away
 * (mode 0700; *@tightened, when given, says so). FALSE with @error (a
 * sentence naming @path and the reason, G_FILE_ERROR) otherwise. */
gboolean vms_private_dir_ensure (const gchar *path, gboolean *tightened,
                                 GError **error);

/* Writes @contents to @path with mode 0600 (a new file renamed over any old
 * one, so no reader ever sees a partly written or wider-mode file). */
gboolean vms_private_file_write (const gchar *path, const gchar *contents,
                                 GError **error);

G_END_DECLS
