/* vmstream common: the session process <-> supervisor protocol.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * vmstream-session (supervisor/session-main.c) writes these lines on its
 * stdout and ends with these exit codes; vmstream-supervisor
 * (supervisor/sessions.c) reads them. One definition for both
 * (docs/operations.md). Input goes the other way, on the session's stdin,
 * as input contract lines (vmsinput.h).
 *
 * Status lines, one JSON object each:
 *   {"event":"state","state":"playing"}      the pipeline reached PLAYING
 *   {"event":"state","state":"eos"}          end of stream
 *   {"event":"stats","frames":N,"bytes":N,"fps":F,"clients":N,
 *    "input_events":N}                       every --stats-interval
 *   {"event":"error","message":"..."}        the session is ending with it
 *   {"event":"warning","message":"..."}
 *   {"event":"size","width":W,"height":H}   the stream's size changed (a
 *                                            resize request or a player's)
 *   {"event":"answer","id":N,"status":S,"type":"image/png","bytes":N,
 *    "message":"..."}                        the answer to request N; when
 *                                            "bytes" > 0, that many raw
 *                                            bytes follow the newline
 *
 * Requests, the supervisor to the session, on stdin between input lines:
 *   {"request":"screenshot","id":N,"format":"png"|"jpeg","width":W}
 *                     the latest raw frame before the encoder as an image,
 *                     W pixels wide keeping the aspect ratio (0: as is)
 *   {"request":"resize","id":N,"width":W,"height":H}
 *                     change the desktop's size (X: RandR) and the stream's
 * Each request gets exactly one answer with its id; "status" is an HTTP
 * status (200, 400, 409, 503) the supervisor passes on with "message".
 * GLib and json-glib only: the supervisor links it. */
#pragma once

#include "vmsresize.h"

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VMS_SESSION_EXIT_OK = 0,      /* stopped on request, EOS or stdin closed */
  VMS_SESSION_EXIT_USAGE = 2,   /* bad command line */
  VMS_SESSION_EXIT_PARSE = 3,   /* the pipeline description does not parse */
  VMS_SESSION_EXIT_STATE = 4,   /* the pipeline refused to start */
  VMS_SESSION_EXIT_RUNTIME = 5, /* an element posted an error while running */
} VmsSessionExit;

/* TRUE when a session that ended with @code can never run as it is (bad
 * command line, a pipeline that does not parse): not restarted. */
gboolean vms_session_exit_is_permanent (gint code);

/* Longest status line the supervisor reads; longer ones are ignored. */
#define VMS_STATUS_MAX_LINE (64 * 1024)

typedef enum {
  VMS_STATUS_STATE = 1,
  VMS_STATUS_STATS,
  VMS_STATUS_ERROR,
  VMS_STATUS_WARNING,
  VMS_STATUS_ANSWER,
  VMS_STATUS_SIZE,
} VmsStatusKind;

typedef struct {
  VmsStatusKind kind;
  gchar *text; /* state: its name; error, warning: the message */
  guint64 frames;
  guint64 bytes; /* stats: encoded bytes; answer: the raw bytes after the
                  * line, at most VMS_ANSWER_MAX_BYTES */
  gdouble fps;
  gint clients; /* -1: unknown */
  guint64 input_events;
  /* answer: text is its message (may be NULL) */
  guint id;
  guint status;
  gchar *type;        /* Content-Type of the bytes that follow, or NULL */
  gint width, height; /* size */
} VmsStatus;

/* The most raw bytes an answer may carry (an 8192-pixel-wide PNG). */
#define VMS_ANSWER_MAX_BYTES (256 * 1024 * 1024)

/* The lines, without newline; newly allocated. */
gchar *vms_status_line_state (const gchar *state);
gchar *vms_status_line_message (VmsStatusKind kind, const gchar *message);
gchar *vms_status_line_stats (guint64 frames, guint64 bytes, gdouble fps,
                              gint clients, guint64 input_events);
gchar *vms_status_line_size (gint width, gint height);
/* @type and @message may be NULL; @bytes raw bytes follow the line. */
gchar *vms_status_line_answer (guint id, guint status, const gchar *type,
                               guint64 bytes, const gchar *message);

/* Reads one status line into @out (clear it with vms_status_clear()).
 * FALSE with @error set for anything else (not strict JSON, nested, an
 * unknown event, fields of the wrong type). */
gboolean vms_status_parse (const gchar *line, gssize len, VmsStatus *out,
                           GError **error);
void vms_status_clear (VmsStatus *status);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VmsStatus, vms_status_clear)

/* --- requests ----------------------------------------------------------- */

/* Limits both sides apply (the API answers 400 outside them). */
#define VMS_SCREENSHOT_MAX_WIDTH 8192
#define VMS_RESIZE_MIN_WIDTH 320
#define VMS_RESIZE_MIN_HEIGHT 200
#define VMS_RESIZE_MAX_WIDTH 4096
#define VMS_RESIZE_MAX_HEIGHT 2160
/* How long a guest (a session whose pipeline has a vsocksrc) may take to
 * send the size it was asked for before the session answers 504; the
 * supervisor waits a little longer for that answer than for others. */
#define VMS_GUEST_RESIZE_TIMEOUT_S 30

typedef enum {
  VMS_REQUEST_SCREENSHOT = 1,
  VMS_REQUEST_RESIZE,
} VmsRequestKind;

typedef enum {
  VMS_IMAGE_PNG = 0,
  VMS_IMAGE_JPEG,
} VmsImageFormat;

typedef struct {
  VmsRequestKind kind;
  guint id;
  VmsImageFormat format; /* screenshot */
  gint width;            /* screenshot: 0 = the frame's own */
  gint height;           /* resize */
} VmsRequest;

/* FALSE with a sentence in @error when @req is outside the limits above
 * (width 1..8192 for screenshots, 320x200..4096x2160 and even for resize). */
gboolean vms_request_check (const VmsRequest *req, GError **error);
/* A screenshot request from the API's query: @format "png" (or NULL) or
 * "jpeg", @width NULL or a decimal 1..8192. FALSE with a sentence. */
gboolean vms_screenshot_query_parse (const gchar *format, const gchar *width,
                                     VmsRequest *out, GError **error);
/* A player's resize message on the WebSocket,
 * {"type":"resize","width":W,"height":H} (docs/websocket.md), as a resize
 * request (id 0) within the limits. FALSE with G_IO_ERROR_NOT_FOUND when
 * @json is no resize message (an input message, say), with another code
 * when it is a bad one. */
/* The bus message wsh264sink posts for it: VMS_RESIZE_MESSAGE
 * (vmsresize.h). */
gboolean vms_resize_message_parse (const gchar *json, gssize len,
                                   VmsRequest *out, GError **error);
/* "image/png" or "image/jpeg" */
const gchar *vms_image_format_type (VmsImageFormat format);
/* The request line, without newline; newly allocated. */
gchar *vms_request_line (const VmsRequest *req);
/* TRUE when a line of the session's stdin is a request (else it is input). */
gboolean vms_line_is_request (const gchar *line, gsize len);
/* Reads a request line (and checks it with vms_request_check()). */
gboolean vms_request_parse (const gchar *line, gssize len, VmsRequest *out,
                            GError **error);

G_END_DECLS
