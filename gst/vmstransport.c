/* vmstream transports: URI parsing and socket helpers. */
#include "vmstransport.h"
#include "vmsprotocol.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#define VMS_HAVE_VSOCK 1
#endif

#define VMS_UNIX_PATH_MAX (sizeof (((struct sockaddr_un *)0)->sun_path) - 1)

static gboolean
invalid (GError **error, const gchar *uri, const gchar *why)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Invalid transport URI \"%s\": %s. Expected one "
               "of " VMS_TRANSPORT_URI_FORMS ".",
               uri, why);
  return FALSE;
}

static gboolean
parse_u32 (const gchar *s, guint64 max, guint32 *out)
{
  guint64 v;
  gchar *end = NULL;

  if (s == NULL || *s == '\0' || !g_ascii_isdigit (*s))
    return FALSE;
  errno = 0;
  v = g_ascii_strtoull (s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return FALSE;
  *out = (guint32)v;
  return TRUE;
}

/* vsock://CID:PORT (after the scheme: @rest) */
static gboolean
parse_vsock (VmsAddress *addr, const gchar *uri, const gchar *rest,
             GError **error)
{
  g_auto (GStrv) parts = g_strsplit (rest, ":", -1);

  addr->kind = VMS_TRANSPORT_VSOCK;
  if (g_strv_length (parts) != 2)
    return invalid (error, uri, "a vsock address is CID:PORT");
  if (g_ascii_strcasecmp (parts[0], "any") == 0) {
    addr->cid = VMS_VSOCK_CID_ANY;
  } else if (!parse_u32 (parts[0], G_MAXUINT32 - 1, &addr->cid)) {
    return invalid (error, uri,
                    "the CID must be a number from 0 to 4294967294 or "
                    "\"any\"");
  }
  if (!parse_u32 (parts[1], G_MAXUINT32 - 1, &addr->port))
    return invalid (error, uri,
                    "the port must be a number from 0 to 4294967294");
  return TRUE;
}

/* unix:///path or unix://@name */
static gboolean
parse_unix (VmsAddress *addr, const gchar *uri, const gchar *rest,
            GError **error)
{
  addr->kind = VMS_TRANSPORT_UNIX;
  if (rest[0] == '@') {
    addr->abstract = TRUE;
    rest++;
    if (*rest == '\0')
      return invalid (error, uri, "the abstract socket name is empty");
  } else if (rest[0] != '/') {
    return invalid (error, uri,
                    "a unix socket path must be absolute "
                    "(unix:///path, three slashes)");
  } else if (rest[1] == '\0') {
    return invalid (error, uri, "the unix socket path is empty");
  }
  if (strlen (rest) > VMS_UNIX_PATH_MAX - (addr->abstract ? 1 : 0))
    return invalid (error, uri,
                    "the unix socket path is longer than 107 bytes");
  addr->path = g_strdup (rest);
  return TRUE;
}

/* tcp://HOST:PORT or tcp://[ADDR]:PORT */
static gboolean
parse_tcp (VmsAddress *addr, const gchar *uri, const gchar *rest,
           GError **error)
{
  const gchar *colon;

  addr->kind = VMS_TRANSPORT_TCP;
  if (rest[0] == '[') {
    const gchar *close = strchr (rest, ']');
    if (close == NULL || close[1] != ':')
      return invalid (error, uri, "an IPv6 address is written [ADDR]:PORT");
    addr->host = g_strndup (rest + 1, close - rest - 1);
    colon = close + 1;
  } else {
    colon = strrchr (rest, ':');
    if (colon == NULL)
      return invalid (error, uri, "a tcp address is HOST:PORT");
    addr->host = g_strndup (rest, colon - rest);
  }
  if (addr->host[0] == '\0')
    return invalid (error, uri, "the host is empty");
  if (!parse_u32 (colon + 1, 65535, &addr->port))
    return invalid (error, uri, "the port must be a number from 0 to 65535");
  return TRUE;
}

/* serial:///dev/virtio-ports/NAME */
static gboolean
parse_serial (VmsAddress *addr, const gchar *uri, const gchar *rest,
              GError **error)
{
  addr->kind = VMS_TRANSPORT_SERIAL;
  if (rest[0] != '/' || rest[1] == '\0')
    return invalid (error, uri,
                    "a serial device path must be absolute "
                    "(serial:///dev/virtio-ports/NAME)");
  addr->path = g_strdup (rest);
  return TRUE;
}

VmsAddress *
vms_address_parse (const gchar *uri, GError **error)
{
  static const struct {
    const gchar *scheme;
    gboolean (*parse) (VmsAddress *addr, const gchar *uri, const gchar *rest,
                       GError **error);
  } schemes[] = {
    { "vsock://", parse_vsock },
    { "unix://", parse_unix },
    { "tcp://", parse_tcp },
    { "serial://", parse_serial },
  };
  g_autoptr (VmsAddress) addr = NULL;

  if (uri == NULL || *uri == '\0') {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "No transport URI set. Expected one of " VMS_TRANSPORT_URI_FORMS ".");
    return NULL;
  }
  addr = g_new0 (VmsAddress, 1);
  for (guint i = 0; i < G_N_ELEMENTS (schemes); i++) {
    if (g_str_has_prefix (uri, schemes[i].scheme)) {
      if (!schemes[i].parse (addr, uri, uri + strlen (schemes[i].scheme),
                             error))
        return NULL;
      return g_steal_pointer (&addr);
    }
  }
  invalid (error, uri, "unknown scheme");
  return NULL;
}

void
vms_address_warn_if_invalid (const gchar *who, const gchar *uri)
{
  GError *err = NULL;
  VmsAddress *addr;

  if (uri == NULL)
    return;
  addr = vms_address_parse (uri, &err);
  if (addr == NULL) {
    g_warning ("%s: %s", who, err->message);
    g_clear_error (&err);
  }
  vms_address_free (addr);
}

void
vms_address_free (VmsAddress *addr)
{
  if (addr == NULL)
    return;
  g_free (addr->host);
  g_free (addr->path);
  g_free (addr);
}

gchar *
vms_address_to_string (const VmsAddress *addr)
{
  switch (addr->kind) {
    case VMS_TRANSPORT_VSOCK:
      if (addr->cid == VMS_VSOCK_CID_ANY)
        return g_strdup_printf ("vsock://any:%u", addr->port);
      return g_strdup_printf ("vsock://%u:%u", addr->cid, addr->port);
    case VMS_TRANSPORT_UNIX:
      return g_strdup_printf ("unix://%s%s", addr->abstract ? "@" : "",
                              addr->path);
    case VMS_TRANSPORT_TCP:
      if (strchr (addr->host, ':') != NULL)
        return g_strdup_printf ("tcp://[%s]:%u", addr->host, addr->port);
      return g_strdup_printf ("tcp://%s:%u", addr->host, addr->port);
    case VMS_TRANSPORT_SERIAL:
      return g_strdup_printf ("serial://%s", addr->path);
  }
  g_return_val_if_reached (NULL);
}

/* AF_VSOCK is Linux's: elsewhere vsock:// is refused with the ways that
 * do work there. */
static gboolean
vsock_available (const VmsAddress *addr, GError **error)
{
#ifdef VMS_HAVE_VSOCK
  return TRUE;
#else
  if (addr->kind != VMS_TRANSPORT_VSOCK)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "vsock:// needs AF_VSOCK, which this platform does not have "
               "(Linux only): use unix:///PATH for a virtio-serial chardev "
               "socket or a hybrid-vsock VMM's socket (QEMU, UTM, vfkit), "
               "or tcp://HOST:PORT");
  return FALSE;
#endif
}

gboolean
vms_address_can_listen (const VmsAddress *addr, GError **error)
{
  if (!vsock_available (addr, error))
    return FALSE;
  if (addr->kind == VMS_TRANSPORT_SERIAL) {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "serial:// is a guest-side device and cannot listen; on the host, "
        "listen on the unix:// socket the VM's serial port is connected to");
    return FALSE;
  }
  return TRUE;
}

gboolean
vms_address_can_connect (const VmsAddress *addr, GError **error)
{
  if (!vsock_available (addr, error))
    return FALSE;
  if (addr->kind == VMS_TRANSPORT_VSOCK && addr->cid == VMS_VSOCK_CID_ANY) {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "vsock://any:%u can only listen; to connect, name the peer's CID "
        "(the host is CID 2 as seen from a guest)",
        addr->port);
    return FALSE;
  }
  if (addr->kind == VMS_TRANSPORT_TCP && addr->port == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "cannot connect to tcp port 0");
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_errno_error (GError **error, int err, const gchar *what,
                 const VmsAddress *addr)
{
  g_autofree gchar *s = vms_address_to_string (addr);

  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
               "Cannot %s %s: %s", what, s, g_strerror (err));
  return FALSE;
}

static socklen_t
make_unix_sockaddr (const VmsAddress *addr, struct sockaddr_un *sun)
{
  gsize len = strlen (addr->path);

  memset (sun, 0, sizeof (*sun));
  sun->sun_family = AF_UNIX;
  if (addr->abstract) {
    memcpy (sun->sun_path + 1, addr->path, len);
    return offsetof (struct sockaddr_un, sun_path) + 1 + len;
  }
  memcpy (sun->sun_path, addr->path, len);
  return sizeof (*sun);
}

static struct addrinfo *
resolve_tcp (const VmsAddress *addr, gboolean passive, GError **error)
{
  struct addrinfo hints = { 0 }, *res = NULL;
  gchar port[16];
  int rc;

  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  g_snprintf (port, sizeof (port), "%u", addr->port);
  rc = getaddrinfo (addr->host, port, &hints, &res);
  if (rc != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "Cannot resolve host \"%s\": %s", addr->host,
                 gai_strerror (rc));
    return NULL;
  }
  return res;
}

/* Close-on-exec, optionally non-blocking, and no SIGPIPE where the
 * platform has SO_NOSIGPIPE instead of MSG_NOSIGNAL (macOS). */
static gint
socket_setup (gint fd, gboolean nonblock)
{
#ifdef SO_NOSIGPIPE
  int one = 1;
  setsockopt (fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof (one));
#endif
#ifndef SOCK_CLOEXEC
  if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0
      || (nonblock && fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK))) {
    int err = errno;
    close (fd);
    errno = err;
    return -1;
  }
#endif
  return fd;
}

gint
vms_socket_new (gint domain, gint type, gint protocol, gboolean nonblock)
{
#ifdef SOCK_CLOEXEC
  type |= SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
#endif
  gint fd = socket (domain, type, protocol);
  return fd < 0 ? -1 : socket_setup (fd, nonblock);
}

gboolean
vms_socketpair_new (gint sv[2])
{
  gint type = SOCK_STREAM;
#ifdef SOCK_CLOEXEC
  type |= SOCK_CLOEXEC;
#endif
  if (socketpair (AF_UNIX, type, 0, sv) != 0)
    return FALSE;
  if (socket_setup (sv[0], FALSE) < 0) {
    close (sv[1]);
    return FALSE;
  }
  if (socket_setup (sv[1], FALSE) < 0) {
    close (sv[0]);
    return FALSE;
  }
  return TRUE;
}

static gint
accept_cloexec (gint listen_fd, struct sockaddr *sa, socklen_t *len)
{
#ifdef HAVE_ACCEPT4
  gint fd = accept4 (listen_fd, sa, len, SOCK_CLOEXEC | SOCK_NONBLOCK);
#else
  gint fd = accept (listen_fd, sa, len);
#endif
  return fd < 0 ? -1 : socket_setup (fd, TRUE);
}

static void
set_nodelay (gint fd)
{
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
}

/* A unix socket file that exists: replace it only when nobody listens. */
static gboolean
unix_path_free (const VmsAddress *addr, GError **error)
{
  struct stat st;
  struct sockaddr_un sun;
  socklen_t len;
  int fd, rc, err;

  if (addr->abstract || lstat (addr->path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode)) {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_EXISTS,
        "Cannot listen on unix://%s: the path exists and is not a socket",
        addr->path);
    return FALSE;
  }
  fd = vms_socket_new (AF_UNIX, SOCK_STREAM, 0, FALSE);
  if (fd < 0)
    return TRUE;
  len = make_unix_sockaddr (addr, &sun);
  rc = connect (fd, (struct sockaddr *)&sun, len);
  err = errno;
  close (fd);
  if (rc == 0) {
    g_set_error (
        error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
        "Cannot listen on unix://%s: another process is listening there",
        addr->path);
    return FALSE;
  }
  if (err == ECONNREFUSED)
    unlink (addr->path);
  return TRUE;
}

G_STATIC_ASSERT (sizeof (struct sockaddr_un)
                 <= sizeof (struct sockaddr_storage));

/* A socket for a vsock or unix @addr, non-blocking, and its socket address
 * in @sa / @len; -1 with @error. */
static gint
local_socket_new (const VmsAddress *addr, struct sockaddr_storage *sa,
                  socklen_t *len, GError **error)
{
  gint fd;

  memset (sa, 0, sizeof (*sa));
  if (addr->kind == VMS_TRANSPORT_VSOCK) {
#ifdef VMS_HAVE_VSOCK
    struct sockaddr_vm *svm = (struct sockaddr_vm *)sa;

    fd = vms_socket_new (AF_VSOCK, SOCK_STREAM, 0, TRUE);
    if (fd < 0) {
      set_errno_error (error, errno, "create a vsock socket for", addr);
      return -1;
    }
    svm->svm_family = AF_VSOCK;
    svm->svm_cid = addr->cid;
    svm->svm_port = addr->port;
    *len = sizeof (*svm);
    return fd;
#else
    g_return_val_if_reached (-1); /* refused by vsock_available() */
#endif
  }
  g_return_val_if_fail (addr->kind == VMS_TRANSPORT_UNIX, -1);
  fd = vms_socket_new (AF_UNIX, SOCK_STREAM, 0, TRUE);
  if (fd < 0) {
    set_errno_error (error, errno, "create a socket for", addr);
    return -1;
  }
  *len = make_unix_sockaddr (addr, (struct sockaddr_un *)sa);
  return fd;
}

/* A TCP socket bound to @addr: the first of its addresses that binds. */
static gint
tcp_bound_socket_new (const VmsAddress *addr, GError **error)
{
  struct addrinfo *res, *ai;
  int fd = -1, one = 1, err = EADDRNOTAVAIL;

  res = resolve_tcp (addr, TRUE, error);
  if (res == NULL)
    return -1;
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    fd = vms_socket_new (ai->ai_family, ai->ai_socktype, ai->ai_protocol, TRUE);
    if (fd < 0) {
      err = errno;
      continue;
    }
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof (one));
    if (bind (fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    err = errno;
    close (fd);
    fd = -1;
  }
  freeaddrinfo (res);
  if (fd < 0)
    set_errno_error (error, err, "listen on", addr);
  return fd;
}

gint
vms_transport_listen (const VmsAddress *addr, GError **error)
{
  struct sockaddr_storage sa;
  socklen_t len;
  int fd = -1, err;

  if (!vms_address_can_listen (addr, error))
    return -1;

  switch (addr->kind) {
    case VMS_TRANSPORT_UNIX:
      if (!unix_path_free (addr, error))
        return -1;
      /* fall through */
    case VMS_TRANSPORT_VSOCK:
      fd = local_socket_new (addr, &sa, &len, error);
      if (fd < 0)
        return -1;
      if (bind (fd, (struct sockaddr *)&sa, len) != 0)
        goto failed;
      break;
    case VMS_TRANSPORT_TCP:
      fd = tcp_bound_socket_new (addr, error);
      if (fd < 0)
        return -1;
      break;
    case VMS_TRANSPORT_SERIAL:
      g_return_val_if_reached (-1);
  }

  if (listen (fd, 4) != 0)
    goto failed;
  return fd;

failed:
  err = errno;
  close (fd);
  set_errno_error (error, err, "listen on", addr);
  return -1;
}

guint
vms_transport_get_local_port (gint fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof (ss);

  if (getsockname (fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  switch (ss.ss_family) {
    case AF_INET:
      return ntohs (((struct sockaddr_in *)&ss)->sin_port);
    case AF_INET6:
      return ntohs (((struct sockaddr_in6 *)&ss)->sin6_port);
#ifdef VMS_HAVE_VSOCK
    case AF_VSOCK:
      return ((struct sockaddr_vm *)&ss)->svm_port;
#endif
    default:
      return 0;
  }
}

static gchar *
describe_peer (const struct sockaddr_storage *ss)
{
  gchar host[NI_MAXHOST], serv[NI_MAXSERV];

  switch (ss->ss_family) {
    case AF_UNIX:
      return g_strdup ("unix peer");
#ifdef VMS_HAVE_VSOCK
    case AF_VSOCK: {
      const struct sockaddr_vm *svm = (const struct sockaddr_vm *)ss;
      return g_strdup_printf ("vsock CID %u port %u", svm->svm_cid,
                              svm->svm_port);
    }
#endif
    case AF_INET:
    case AF_INET6:
      if (getnameinfo ((const struct sockaddr *)ss, sizeof (*ss), host,
                       sizeof (host), serv, sizeof (serv),
                       NI_NUMERICHOST | NI_NUMERICSERV)
          == 0)
        return g_strdup_printf ("tcp %s port %s", host, serv);
      return g_strdup ("tcp peer");
    default:
      return g_strdup ("peer");
  }
}

gint
vms_transport_accept (gint listen_fd, gchar **peer, GError **error)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof (ss);
  int fd;

  memset (&ss, 0, sizeof (ss));
  fd = accept_cloexec (listen_fd, (struct sockaddr *)&ss, &len);
  if (fd < 0) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "accept failed: %s", g_strerror (err));
    return -1;
  }
  if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
    set_nodelay (fd);
  if (peer != NULL)
    *peer = describe_peer (&ss);
  return fd;
}

gint
vms_transport_connect (const VmsAddress *addr, gboolean *in_progress,
                       GError **error)
{
  struct sockaddr_storage sa;
  socklen_t len;
  int fd = -1, err = 0, rc = -1;

  *in_progress = FALSE;
  if (!vms_address_can_connect (addr, error))
    return -1;

  switch (addr->kind) {
    case VMS_TRANSPORT_VSOCK:
    case VMS_TRANSPORT_UNIX:
      fd = local_socket_new (addr, &sa, &len, error);
      if (fd < 0)
        return -1;
      rc = connect (fd, (struct sockaddr *)&sa, len);
      err = errno;
      break;
    case VMS_TRANSPORT_TCP: {
      struct addrinfo *res;

      res = resolve_tcp (addr, FALSE, error);
      if (res == NULL)
        return -1;
      /* The first address only: reconnect logic retries anyway. */
      fd = vms_socket_new (res->ai_family, res->ai_socktype, res->ai_protocol,
                           TRUE);
      if (fd < 0) {
        err = errno;
        freeaddrinfo (res);
        set_errno_error (error, err, "create a socket for", addr);
        return -1;
      }
      set_nodelay (fd);
      rc = connect (fd, res->ai_addr, res->ai_addrlen);
      err = errno;
      freeaddrinfo (res);
      break;
    }
    case VMS_TRANSPORT_SERIAL:
      fd = open (addr->path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
      if (fd < 0) {
        set_errno_error (error, errno, "open", addr);
        return -1;
      }
      return fd;
  }

  if (rc == 0)
    return fd;
  if (err == EINPROGRESS || err == EAGAIN) {
    *in_progress = TRUE;
    return fd;
  }
  close (fd);
  set_errno_error (error, err, "connect to", addr);
  return -1;
}

gboolean
vms_transport_connect_finish (gint fd, GError **error)
{
  int err = 0;
  socklen_t len = sizeof (err);

  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err),
                 "connect failed: %s", g_strerror (err));
    return FALSE;
  }
  return TRUE;
}

gboolean
vms_transport_is_socket (gint fd)
{
  struct stat st;

  return fstat (fd, &st) == 0 && S_ISSOCK (st.st_mode);
}

void
vms_transport_tune (gint fd, gint bufsize)
{
  if (bufsize <= 0 || !vms_transport_is_socket (fd))
    return;
#ifdef SO_SNDBUFFORCE
  /* The FORCE variants (Linux) pass net.core.[rw]mem_max when privileged. */
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsize, sizeof (bufsize))
          == 0
      && setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsize, sizeof (bufsize))
             == 0)
    return;
#endif
  setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof (bufsize));
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof (bufsize));
}

gboolean
vms_transport_get_peer_uid (gint fd, guint32 *uid)
{
  struct sockaddr_storage ss;
  socklen_t slen = sizeof (ss);

  if (getsockname (fd, (struct sockaddr *)&ss, &slen) != 0
      || ss.ss_family != AF_UNIX)
    return FALSE;
#ifdef SO_PEERCRED
  {
    struct ucred cred;
    socklen_t len = sizeof (cred);
    if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0
        || len != sizeof (cred))
      return FALSE;
    *uid = cred.uid;
  }
#else
  {
    /* macOS and the BSDs */
    uid_t euid;
    gid_t egid;
    if (getpeereid (fd, &euid, &egid) != 0)
      return FALSE;
    *uid = euid;
  }
#endif
  return TRUE;
}

gboolean
vms_transport_get_peer_cid (gint fd, guint32 *cid)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof (ss);

  memset (&ss, 0, sizeof (ss));
#ifdef VMS_HAVE_VSOCK
  if (getpeername (fd, (struct sockaddr *)&ss, &len) != 0
      || ss.ss_family != AF_VSOCK)
    return FALSE;
  *cid = ((struct sockaddr_vm *)&ss)->svm_cid;
  return TRUE;
#else
  return FALSE;
#endif
}

void
vms_secret_free (gchar *secret)
{
  if (secret == NULL)
    return;
  memset (secret, 0, strlen (secret));
  g_free (secret);
}

gchar *
vms_secret_load_file (const gchar *path, gsize *len, GError **error)
{
  gchar *contents = NULL, *secret = NULL;
  gsize size = 0, n = 0;

  if (!g_file_get_contents (path, &contents, &size, error))
    return NULL;
  /* the first line, without its line end */
  while (n < size && contents[n] != '\n' && contents[n] != '\r')
    n++;
  if (vms_secret_check (contents, n, error)) {
    secret = g_strndup (contents, n);
    *len = n;
  } else {
    g_prefix_error (error, "%s: ", path);
  }
  memset (contents, 0, size);
  g_free (contents);
  return secret;
}
