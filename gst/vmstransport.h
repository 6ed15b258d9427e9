/* vmstream transports: one address type and one set of helpers for
 * vsock://, unix://, tcp:// and serial:// so that elements never special-case
 * a transport. All descriptors returned are non-blocking and close-on-exec.
 */
#pragma once

#include <glib.h>
#include <sys/socket.h>

#include "vmsauth.h" /* vms_random_bytes */

G_BEGIN_DECLS

typedef enum {
  VMS_TRANSPORT_VSOCK,
  VMS_TRANSPORT_UNIX,
  VMS_TRANSPORT_TCP,
  VMS_TRANSPORT_SERIAL,
} VmsTransportKind;

/* VMADDR_CID_ANY, for vsock://any:PORT */
#define VMS_VSOCK_CID_ANY G_MAXUINT32

typedef struct {
  VmsTransportKind kind;
  /* vsock */
  guint32 cid;
  /* vsock and tcp; 0 for tcp means "any free port" when listening */
  guint32 port;
  /* tcp */
  gchar *host;
  /* unix (name without the '@' when abstract) and serial */
  gchar *path;
  gboolean abstract;
} VmsAddress;

#define VMS_TRANSPORT_URI_FORMS                                                \
  "vsock://CID:PORT, vsock://any:PORT, unix:///path, unix://@abstract-name, "  \
  "tcp://HOST:PORT or serial:///dev/PORT"

VmsAddress *vms_address_parse (const gchar *uri, GError **error);
void vms_address_free (VmsAddress *addr);
gchar *vms_address_to_string (const VmsAddress *addr);
gboolean vms_address_can_listen (const VmsAddress *addr, GError **error);
gboolean vms_address_can_connect (const VmsAddress *addr, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmsAddress, vms_address_free)

/* For a "uri" property setter: g_warning()s at once when @uri does not
 * parse (the element checks again at start, where the error reaches the
 * bus). @who names the element in the message. */
void vms_address_warn_if_invalid (const gchar *who, const gchar *uri);

/* Creates a listening socket. For unix:// a stale socket file nobody
 * listens on is replaced; a live one is an error. */
gint vms_transport_listen (const VmsAddress *addr, GError **error);

/* A socket that is close-on-exec (and non-blocking when @nonblock) and, on
 * platforms without MSG_NOSIGNAL, set not to raise SIGPIPE: socket(2)'s
 * SOCK_CLOEXEC/SOCK_NONBLOCK where they exist (Linux), fcntl(2) elsewhere.
 * -1 with errno set on failure. */
gint vms_socket_new (gint domain, gint type, gint protocol, gboolean nonblock);
/* A connected AF_UNIX stream pair, both ends as vms_socket_new() makes
 * them (blocking). */
gboolean vms_socketpair_new (gint sv[2]);

/* send(2)/sendmsg(2) flags that never raise SIGPIPE: MSG_NOSIGNAL where it
 * exists; elsewhere (macOS) our sockets carry SO_NOSIGPIPE instead. */
#ifdef MSG_NOSIGNAL
#define VMS_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define VMS_MSG_NOSIGNAL 0
#endif
/* Port a tcp:// listening socket is bound to (for tcp://HOST:0). */
guint vms_transport_get_local_port (gint fd);
/* Accepts one connection, or returns -1 with error (G_IO_ERROR_WOULD_BLOCK
 * when nobody is waiting). *peer is set to a printable peer description. */
gint vms_transport_accept (gint listen_fd, gchar **peer, GError **error);
/* Starts connecting (non-blocking). Returns the descriptor; *in_progress is
 * TRUE when the caller must wait for writability and then call
 * vms_transport_connect_finish(). serial:// opens the device. */
gint vms_transport_connect (const VmsAddress *addr, gboolean *in_progress,
                            GError **error);
gboolean vms_transport_connect_finish (gint fd, GError **error);
/* The uid of the process at the other end of a connected unix socket
 * (SO_PEERCRED, taken when it connected). FALSE when @fd is not one. */
gboolean vms_transport_get_peer_uid (gint fd, guint32 *uid);
/* The CID of the peer of a connected vsock socket. FALSE when @fd is not
 * one. */
gboolean vms_transport_get_peer_cid (gint fd, guint32 *cid);
/* Reads a link secret from @path: the file's first line, without the line
 * end; 1..VMS_MAX_SECRET_LEN bytes, no NUL. Free the result with
 * vms_secret_free(). */
gchar *vms_secret_load_file (const gchar *path, gsize *len, GError **error);
/* Zeroes and frees a secret. */
void vms_secret_free (gchar *secret);

/* Whether the descriptor is a socket (sendmsg/MSG_NOSIGNAL usable). */
gboolean vms_transport_is_socket (gint fd);
/* Larger socket buffers for bulk frames (best effort). */
void vms_transport_tune (gint fd, gint bufsize);

G_END_DECLS
