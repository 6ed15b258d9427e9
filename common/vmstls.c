/* vmstream common: TLS certificates (see vmstls.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmstls.h"

#include "vmsfs.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SELF_SIGNED_DAYS 825
/* a handshake between two ends of a socketpair takes milliseconds; this
 * only bounds a TLS library that never answers */
#define MATCH_TIMEOUT_S 10

static gchar *
read_file (const gchar *what, const gchar *path, GError **error)
{
  g_autoptr (GError) e = NULL;
  gchar *text = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &text, &len, &e)) {
    g_set_error (error, G_FILE_ERROR, e->code, "cannot read the TLS %s %s: %s",
                 what, path, e->message);
    return NULL;
  }
  if (len == 0 || strlen (text) != len) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "the TLS %s %s is %s, not a PEM file", what, path,
                 len == 0 ? "empty" : "binary");
    g_free (text);
    return NULL;
  }
  return text;
}

typedef struct {
  GIOStream *tls;
  GError *error;
} Side;

static gpointer
server_side (gpointer data)
{
  Side *s = data;

  g_tls_connection_handshake (G_TLS_CONNECTION (s->tls), NULL, &s->error);
  g_io_stream_close (s->tls, NULL, NULL);
  return NULL;
}

static gboolean
accept_any (GTlsConnection *conn, GTlsCertificate *peer,
            GTlsCertificateFlags errors, gpointer user_data)
{
  return TRUE; /* we check the key, not who signed the certificate */
}

static GIOStream *
socket_stream (int fd)
{
  g_autoptr (GSocket) sock = g_socket_new_from_fd (fd, NULL);

  if (sock == NULL) {
    close (fd);
    return NULL;
  }
  g_socket_set_timeout (sock, MATCH_TIMEOUT_S);
  return G_IO_STREAM (g_socket_connection_factory_create_connection (sock));
}

/* TRUE when @cert's private key is the one its certificate names. GLib
 * does not check it (g_tls_certificate_new_from_files takes any key), and
 * no GIO call signs with a key: so both ends of one handshake run here,
 * over a socketpair. With a foreign key the client refuses the server's
 * signature (CertificateVerify / key exchange), and the handshake fails. */
static gboolean
key_matches (GTlsCertificate *cert, GError **error)
{
  g_autoptr (GIOStream) a = NULL;
  g_autoptr (GIOStream) b = NULL;
  g_autoptr (GIOStream) client = NULL;
  g_autoptr (GError) cerr = NULL;
  Side server = { NULL, NULL };
  GThread *thread;
  gboolean ok;
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "cannot check the TLS key: socketpair: %s",
                 g_strerror (errno));
    return FALSE;
  }
  a = socket_stream (fds[0]);
  b = socket_stream (fds[1]);
  if (a == NULL || b == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot check the TLS key: no socket");
    return FALSE;
  }
  server.tls = g_tls_server_connection_new (a, cert, error);
  if (server.tls == NULL)
    return FALSE;
  /* no CA database (the peer is accepted by accept_any): the default one
   * would load every CA certificate of the system for nothing */
  client = g_initable_new (
      g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
      NULL, error, "base-io-stream", b, "database", NULL, NULL);
  if (client == NULL) {
    g_object_unref (server.tls);
    return FALSE;
  }
  g_signal_connect (client, "accept-certificate", G_CALLBACK (accept_any),
                    NULL);
  thread = g_thread_new ("vmstls-check", server_side, &server);
  ok = g_tls_connection_handshake (G_TLS_CONNECTION (client), NULL, &cerr);
  g_io_stream_close (client, NULL, NULL);
  g_thread_join (thread);
  ok = ok && server.error == NULL;
  g_clear_error (&server.error);
  g_object_unref (server.tls);
  if (!ok)
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                 "a TLS handshake with it failed%s%s", cerr ? ": " : "",
                 cerr ? cerr->message : "");
  return ok;
}

static gboolean
has_private_key (GTlsCertificate *cert)
{
  g_autoptr (GByteArray) key = NULL;

  g_object_get (cert, "private-key", &key, NULL);
  return key && key->len > 0;
}

GTlsCertificate *
vms_tls_certificate_load (const gchar *cert_file, const gchar *key_file,
                          GError **error)
{
  g_autofree gchar *cert_pem = NULL;
  g_autofree gchar *key_pem = NULL;
  g_autofree gchar *both = NULL;
  g_autoptr (GTlsCertificate) alone = NULL;
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autoptr (GError) e = NULL;

  gboolean have_cert = cert_file && *cert_file;
  gboolean have_key = key_file && *key_file;

  if (!have_cert || !have_key) {
    if (have_cert || have_key)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "the TLS %s %s is given without its %s: TLS needs both "
                   "the certificate and its private key",
                   have_cert ? "certificate" : "private key",
                   have_cert ? cert_file : key_file,
                   have_cert ? "private key" : "certificate");
    else
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "no TLS certificate and private key given");
    return NULL;
  }
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE,
                 "this GLib has no TLS support (install glib-networking)");
    return NULL;
  }
  cert_pem = read_file ("certificate", cert_file, error);
  if (cert_pem == NULL)
    return NULL;
  key_pem = read_file ("private key", key_file, error);
  if (key_pem == NULL)
    return NULL;
  alone = g_tls_certificate_new_from_pem (cert_pem, -1, &e);
  if (alone == NULL) {
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                 "%s holds no usable PEM certificate: %s", cert_file,
                 e->message);
    return NULL;
  }
  both = g_strconcat (cert_pem, "\n", key_pem, NULL);
  cert = g_tls_certificate_new_from_pem (both, -1, &e);
  if (cert && !has_private_key (cert))
    g_clear_object (&cert); /* GLib takes a certificate without its key */
  if (cert == NULL) {
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                 "%s holds no usable PEM private key%s%s", key_file,
                 e ? ": " : "", e ? e->message : "");
    return NULL;
  }
  if (!key_matches (cert, &e)) {
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                 "the private key %s does not belong to the certificate %s "
                 "(%s)",
                 key_file, cert_file, e->message);
    return NULL;
  }
  return g_steal_pointer (&cert);
}

gchar *
vms_tls_fingerprint (GTlsCertificate *cert)
{
  g_autoptr (GByteArray) der = NULL;
  g_autofree gchar *hex = NULL;
  GString *out;

  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, der->data, der->len);
  out = g_string_sized_new (96);
  for (const gchar *p = hex; *p; p += 2)
    g_string_append_printf (out, "%s%c%c", out->len ? ":" : "",
                            g_ascii_toupper (p[0]), g_ascii_toupper (p[1]));
  return g_string_free (out, FALSE);
}

/* A DNS name we put in a certificate: letters, digits, '-', '.', and a
 * leading "*." wildcard label. Anything else would break the openssl
 * configuration line, so it is left out. */
static gboolean
dns_name_ok (const gchar *name)
{
  const gchar *p = g_str_has_prefix (name, "*.") ? name + 2 : name;

  if (*p == '\0' || strlen (name) > 253)
    return FALSE;
  for (; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

/* "IP:1.2.3.4,DNS:name,..." for the names a certificate must carry. */
static gchar *
subject_alt_names (const gchar *const *names)
{
  GString *san = g_string_new (NULL);

  for (; names && *names; names++) {
    g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (*names);
    g_autofree gchar *ip = ia ? g_inet_address_to_string (ia) : NULL;

    if (ia && (g_inet_address_get_is_any (ia)))
      continue; /* 0.0.0.0 / :: is no address a client can use */
    if (ip == NULL && !dns_name_ok (*names))
      continue;
    g_string_append_printf (san, "%s%s:%s", san->len ? "," : "",
                            ip ? "IP" : "DNS", ip ? ip : *names);
  }
  if (san->len == 0)
    g_string_append (san, "DNS:localhost");
  return g_string_free (san, FALSE);
}

/* TRUE when @cert is still valid and names every entry of @names (as an
 * address or a host name, the way a client checks it). */
static gboolean
certificate_fits (GTlsCertificate *cert, const gchar *const *names)
{
  g_autoptr (GDateTime) until = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  g_object_get (cert, "not-valid-after", &until, NULL);
  if (until && g_date_time_compare (until, now) <= 0)
    return FALSE;
  for (; names && *names; names++) {
    g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (*names);
    g_autoptr (GSocketConnectable) id = NULL;

    if ((ia && g_inet_address_get_is_any (ia))
        || (ia == NULL && !dns_name_ok (*names)))
      continue; /* never put in one (above) */
    id = ia ? G_SOCKET_CONNECTABLE (g_inet_socket_address_new (ia, 443))
            : g_network_address_new (*names, 443);
    if (g_tls_certificate_verify (cert, id, NULL)
        & G_TLS_CERTIFICATE_BAD_IDENTITY)
      return FALSE;
  }
  return TRUE;
}

static gboolean
run_openssl (const gchar *tmp, const gchar *san, GError **error)
{
  g_autofree gchar *conf = g_build_filename (tmp, "openssl.cnf", NULL);
  g_autofree gchar *key = g_build_filename (tmp, "key.pem", NULL);
  g_autofree gchar *crt = g_build_filename (tmp, "cert.pem", NULL);
  g_autofree gchar *days = g_strdup_printf ("%d", SELF_SIGNED_DAYS);
  g_autofree gchar *text = g_strdup_printf (
      "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n"
      "[dn]\nCN = vmstream\nO = vmstream self-signed\n"
      "[ext]\nbasicConstraints = critical, CA:FALSE\n"
      "keyUsage = critical, digitalSignature\n"
      "extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n"
      "subjectAltName = %s\n",
      san);
  g_autoptr (GSubprocess) proc = NULL;
  g_autofree gchar *err_text = NULL;
  const gchar *argv[] = { "openssl",
                          "req",
                          "-x509",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:prime256v1",
                          "-nodes",
                          "-sha256",
                          "-days",
                          days,
                          "-config",
                          conf,
                          "-keyout",
                          key,
                          "-out",
                          crt,
                          NULL };

  if (!g_file_set_contents (conf, text, -1, error))
    return FALSE;
  proc = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
      error);
  if (proc == NULL) {
    g_prefix_error (error, "cannot run openssl to make a self-signed TLS "
                           "certificate (install the openssl package, or set "
                           "a certificate and key): ");
    return FALSE;
  }
  if (!g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err_text, error))
    return FALSE;
  if (!g_subprocess_get_if_exited (proc)
      || g_subprocess_get_exit_status (proc) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "openssl could not make a self-signed TLS certificate: %s",
                 err_text ? g_strstrip (err_text) : "");
    return FALSE;
  }
  return TRUE;
}

/* Makes a new pair in a private temporary folder and moves it into @dir
 * with vms_private_file_write (0600, whole files only): the key first, so
 * a certificate on disk always has its key beside it. */
static gboolean
make_self_signed (const gchar *dir, const gchar *const *names, GError **error)
{
  g_autofree gchar *san = subject_alt_names (names);
  g_autofree gchar *tmp = g_dir_make_tmp ("vmstls-XXXXXX", error);
  g_autofree gchar *key_pem = NULL, *crt_pem = NULL;
  g_autofree gchar *key_t = NULL, *crt_t = NULL, *conf_t = NULL;
  g_autofree gchar *key = g_build_filename (dir, VMS_TLS_SELF_SIGNED_KEY, NULL);
  g_autofree gchar *crt
      = g_build_filename (dir, VMS_TLS_SELF_SIGNED_CERT, NULL);
  gboolean ok;

  if (tmp == NULL)
    return FALSE;
  key_t = g_build_filename (tmp, "key.pem", NULL);
  crt_t = g_build_filename (tmp, "cert.pem", NULL);
  conf_t = g_build_filename (tmp, "openssl.cnf", NULL);
  ok = run_openssl (tmp, san, error)
       && g_file_get_contents (key_t, &key_pem, NULL, error)
       && g_file_get_contents (crt_t, &crt_pem, NULL, error)
       && vms_private_file_write (key, key_pem, error)
       && vms_private_file_write (crt, crt_pem, error);
  g_unlink (key_t);
  g_unlink (crt_t);
  g_unlink (conf_t);
  g_rmdir (tmp);
  return ok;
}

GTlsCertificate *
vms_tls_certificate_self_signed (const gchar *dir, const gchar *const *names,
                                 gboolean *created, GError **error)
{
  g_autofree gchar *key = g_build_filename (dir, VMS_TLS_SELF_SIGNED_KEY, NULL);
  g_autofree gchar *crt
      = g_build_filename (dir, VMS_TLS_SELF_SIGNED_CERT, NULL);
  g_autoptr (GTlsCertificate) cert = NULL;

  if (created)
    *created = FALSE;
  if (g_file_test (crt, G_FILE_TEST_EXISTS)
      || g_file_test (key, G_FILE_TEST_EXISTS)) {
    /* ours from an earlier start: reuse it, unless it is broken, expired
     * or lacks a name clients now use */
    cert = vms_tls_certificate_load (crt, key, NULL);
    if (cert && certificate_fits (cert, names))
      return g_steal_pointer (&cert);
    g_clear_object (&cert);
  }
  if (!make_self_signed (dir, names, error))
    return NULL;
  if (created)
    *created = TRUE;
  return vms_tls_certificate_load (crt, key, error);
}
