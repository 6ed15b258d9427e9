/* vmstream common: the supervisor's RTSP door and its handoff to sessions.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One RTSP port serves every session: the supervisor reads the head of a
 * client's first request (at most VMS_RTSP_HEAD_MAX bytes), takes the
 * session id from the URL path (rtsp://host:port/{id}[/...]) and hands the
 * connected socket and the bytes it read to that session's process over a
 * Unix socket in the session's private runtime folder:
 *
 *   one Unix stream connection per RTSP client; the sender writes the head
 *   with the client's socket attached (SCM_RIGHTS) to the first byte, then
 *   closes. The receiver reads to EOF (at most VMS_RTSP_HEAD_MAX bytes) and
 *   gives the socket and the head to its GstRTSPServer
 *   (gst_rtsp_server_transfer_connection).
 *
 * The head is text (RTSP request line and headers) without NUL bytes: that
 * is what gst_rtsp_server_transfer_connection() takes. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Bytes of a request head the door reads before it gives up (400). */
#define VMS_RTSP_HEAD_MAX 4096

/* Name of the handoff socket in a session's runtime folder. */
#define VMS_RTSP_HANDOFF_NAME "rtsp.sock"

/* TRUE when @buf holds a whole request head (ends with an empty line). */
gboolean vms_rtsp_head_complete (const gchar *buf, gsize len);

/* Parses the request line of the head in @buf: *@session_id gets the first
 * path segment of the URL (newly allocated), *@cseq the CSeq header's value
 * when it is a plain number (else NULL). FALSE with @error when the head is
 * not an RTSP request (bad request line, NUL bytes): the door answers 400;
 * TRUE with *@session_id NULL when the URL names no session: 404. */
gboolean vms_rtsp_head_parse (const gchar *buf, gsize len, gchar **session_id,
                              gchar **cseq, GError **error);

/* "RTSP/1.0 CODE REASON\r\nCSeq: N\r\n..." for an answer the door gives
 * itself (the CSeq line only when @cseq is set). */
gchar *vms_rtsp_answer (guint code, const gchar *reason, const gchar *cseq);

/* Sends @head with @fd attached (SCM_RIGHTS) on the connected Unix stream
 * socket @sock, without blocking: FALSE with @error when it does not go in
 * one write. */
gboolean vms_rtsp_handoff_send (GSocket *sock, gint fd, const gchar *head,
                                gsize len, GError **error);

G_END_DECLS
