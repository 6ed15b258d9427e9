/* vmstream common: the supervisor's RTSP door and its handoff to sessions.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsrtsp.h"

#include <gio/gunixfdmessage.h>
#include <string.h>

gboolean
vms_rtsp_head_complete (const gchar *buf, gsize len)
{
  for (gsize i = 0; i + 1 < len; i++) {
    if (buf[i] != '\n')
      continue;
    if (buf[i + 1] == '\n')
      return TRUE;
    if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
      return TRUE;
  }
  return FALSE;
}

/* The value of the CSeq header when it is 1-10 digits, else NULL. */
static gchar *
find_cseq (const gchar *head)
{
  const gchar *p = strchr (head, '\n');

  while (p && *++p) {
    if (g_ascii_strncasecmp (p, "CSeq:", 5) == 0) {
      const gchar *v = p + 5;
      gsize n;

      while (*v == ' ' || *v == '\t')
        v++;
      n = strspn (v, "0123456789");
      if (n == 0 || n > 10 || (v[n] != '\r' && v[n] != '\n' && v[n] != ' '))
        return NULL;
      return g_strndup (v, n);
    }
    p = strchr (p, '\n');
  }
  return NULL;
}

/* The first path segment of @uri: rtsp://host[:port]/ID[/...], or /ID. */
static gchar *
session_of_uri (const gchar *uri)
{
  const gchar *path = NULL;
  gsize n;

  if (uri[0] == '/') {
    path = uri;
  } else {
    const gchar *sep = strstr (uri, "://");
    if (sep && (g_ascii_strncasecmp (uri, "rtsp", 4) == 0))
      path = strchr (sep + 3, '/');
  }
  if (path == NULL)
    return NULL;
  path++;
  n = strcspn (path, "/?;#");
  return n ? g_strndup (path, n) : NULL;
}

gboolean
vms_rtsp_head_parse (const gchar *buf, gsize len, gchar **session_id,
                     gchar **cseq, GError **error)
{
  g_autofree gchar *head = NULL;
  g_auto (GStrv) parts = NULL;
  gsize line_len;

  *session_id = NULL;
  *cseq = NULL;
  if (memchr (buf, '\0', len)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the request contains a NUL byte");
    return FALSE;
  }
  head = g_strndup (buf, len);
  line_len = strcspn (head, "\r\n");
  {
    g_autofree gchar *line = g_strndup (head, line_len);
    parts = g_strsplit (line, " ", 0);
  }
  if (g_strv_length (parts) != 3 || !*parts[0] || !*parts[1]
      || !g_str_has_prefix (parts[2], "RTSP/")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "not an RTSP request line (METHOD URL RTSP/1.0)");
    return FALSE;
  }
  *cseq = find_cseq (head);
  *session_id = session_of_uri (parts[1]);
  return TRUE;
}

gchar *
vms_rtsp_answer (guint code, const gchar *reason, const gchar *cseq)
{
  return g_strdup_printf ("RTSP/1.0 %u %s\r\n%s%s%sContent-Length: 0\r\n\r\n",
                          code, reason, cseq ? "CSeq: " : "", cseq ? cseq : "",
                          cseq ? "\r\n" : "");
}

gboolean
vms_rtsp_handoff_send (GSocket *sock, gint fd, const gchar *head, gsize len,
                       GError **error)
{
  g_autoptr (GSocketControlMessage) msg = g_unix_fd_message_new ();
  GOutputVector v = { head, len };
  gssize n;

  if (!g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (msg), fd, error))
    return FALSE;
  g_socket_set_blocking (sock, FALSE);
  n = g_socket_send_message (sock, NULL, &v, 1, &msg, 1, 0, NULL, error);
  if (n < 0)
    return FALSE;
  if ((gsize)n != len) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                 "the session took %" G_GSSIZE_FORMAT " of %" G_GSIZE_FORMAT
                 " bytes",
                 n, len);
    return FALSE;
  }
  return TRUE;
}
