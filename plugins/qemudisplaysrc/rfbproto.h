/* rfbproto: the client side of the RFB (VNC) protocol 3.8 as far as
 * qemudisplaysrc needs it, as pure functions over bytes: no sockets, no
 * clock, no GStreamer element. The element feeds whatever it read from the
 * server into rfb_client_feed() and sends what the client queued in
 * RfbClient.out; the unit test and the fuzz target do the same with bytes
 * of their own.
 *
 * The client asks for one pixel format, 32-bit true colour little endian
 * with red at bit 16, green at 8 and blue at 0: in memory B, G, R, x, which
 * is GStreamer's BGRx, so raw rectangles are copied as they come. It asks
 * for the raw encoding and the DesktopSize pseudo-encoding (-223) only.
 *
 * Every size the server sends is checked before it is used: framebuffer
 * dimensions (at most max_width x max_height, at most 8192x8192), rectangles
 * (inside the framebuffer), string lengths (at most RFB_MAX_STRING).
 * Nothing the server sends is buffered whole: a raw rectangle is consumed
 * row by row, cut text is skipped.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RFB_HARD_MAX_DIMENSION 8192
#define RFB_MAX_STRING (64 * 1024) /* reason strings, desktop name */
#define RFB_BPP 4                  /* bytes per pixel of our format */

#define RFB_ENCODING_RAW 0
#define RFB_ENCODING_DESKTOP_SIZE (-223)

#define RFB_ERROR (rfb_error_quark ())
typedef enum {
  RFB_ERROR_VERSION,      /* not an RFB server, or older than 3.8 */
  RFB_ERROR_AUTH,         /* authentication needed or refused */
  RFB_ERROR_REFUSED,      /* the server sent a reason for closing */
  RFB_ERROR_TOO_LARGE,    /* framebuffer or string above the limits */
  RFB_ERROR_BAD_RECT,     /* rectangle outside the framebuffer */
  RFB_ERROR_BAD_ENCODING, /* an encoding we did not ask for */
  RFB_ERROR_BAD_MESSAGE,  /* unknown server message type */
} RfbError;
GQuark rfb_error_quark (void);

typedef enum {
  RFB_STATE_VERSION,
  RFB_STATE_SECURITY_TYPES,
  RFB_STATE_SECURITY_RESULT,
  RFB_STATE_SERVER_INIT,
  RFB_STATE_MESSAGE,     /* between server messages */
  RFB_STATE_RECT_HEADER, /* inside a FramebufferUpdate */
  RFB_STATE_RECT_ROWS,   /* inside a raw rectangle */
  RFB_STATE_SKIP,        /* skipping cut text */
  RFB_STATE_FAILED,
} RfbState;

typedef enum {
  RFB_EVENT_READY = 1 << 0,   /* ServerInit done, framebuffer allocated */
  RFB_EVENT_RESIZED = 1 << 1, /* DesktopSize: new width/height */
  RFB_EVENT_UPDATE = 1 << 2,  /* a whole FramebufferUpdate was applied */
  RFB_EVENT_BELL = 1 << 3,
} RfbEvent;

typedef struct {
  RfbState state;
  guint max_width, max_height;

  /* the framebuffer: width * height pixels of RFB_BPP bytes, BGRx, rows of
   * width * RFB_BPP bytes; black after ServerInit and after a resize */
  guint width, height;
  guint8 *fb;
  gchar *name; /* desktop name from ServerInit */

  /* bytes for the server, appended by the client; the caller sends and
   * removes them */
  GByteArray *out;
  /* RfbEvent bits since the caller last cleared them */
  guint events;
  guint64 updates; /* complete FramebufferUpdates */

  /* inside a FramebufferUpdate / rectangle / skip */
  guint rects_left;
  guint rx, ry, rw, rh, row;
  guint64 skip_left;
  gboolean resized; /* a DesktopSize in the current update */
  /* no pixels received since the framebuffer was (re)allocated: after a
   * DesktopSize QEMU sends the new picture in the next update, so an update
   * that only resized is not a picture worth showing */
  gboolean blank;
} RfbClient;

/* max_width/max_height: the largest framebuffer accepted (clamped to
 * RFB_HARD_MAX_DIMENSION). */
void rfb_client_init (RfbClient *c, guint max_width, guint max_height);
void rfb_client_clear (RfbClient *c);
/* Back to the start of a handshake (a new connection). */
void rfb_client_reset (RfbClient *c);

/* Consumes as many whole protocol units of data as there are and sets
 * *consumed; the caller keeps the rest and calls again with more bytes
 * appended. FALSE (state FAILED, error set) when the server broke the
 * protocol, refused us or asked for something we do not do. */
gboolean rfb_client_feed (RfbClient *c, const guint8 *data, gsize len,
                          gsize *consumed, GError **error);

/* Client messages, appended to out (also used by the tests' fake server to
 * check what the client sent). */
void rfb_write_set_pixel_format (GByteArray *out);
void rfb_write_set_encodings (GByteArray *out);
void rfb_write_update_request (GByteArray *out, gboolean incremental, guint x,
                               guint y, guint w, guint h);

G_END_DECLS
