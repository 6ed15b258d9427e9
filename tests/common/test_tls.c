/* common/vmstls: certificates for the supervisor and wsh264sink.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every refusal is a GError naming the file at fault; a mismatched key is
 * refused although GLib itself loads one without complaint; the
 * self-signed certificate is made once and reused (same fingerprint); the
 * fingerprint is the one `openssl x509 -fingerprint -sha256` prints. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmstls.h"
#ifdef VMS_TEST_GNUTLS_STATIC_TLS
#include <gnutls/gnutls.h> /* see static_tls_gnutls_dep, tests/meson.build */
#endif

static gchar *tmp;
static gchar *dir_a, *dir_b; /* two self-signed pairs, made by main() */

static const gchar *const names[]
    = { "127.0.0.1", "::1", "localhost", "vmstream.test", "0.0.0.0", NULL };

static gchar *
path_in (const gchar *dir, const gchar *name)
{
  return g_build_filename (dir, name, NULL);
}

static guint
mode_of (const gchar *path)
{
  struct stat st;

  g_assert_cmpint (stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_self_signed_made_then_reused (void)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GTlsCertificate) first = NULL;
  g_autoptr (GTlsCertificate) second = NULL;
  g_autofree gchar *fp1 = NULL, *fp2 = NULL;
  g_autofree gchar *dir = path_in (tmp, "fresh");
  g_autofree gchar *crt = path_in (dir, VMS_TLS_SELF_SIGNED_CERT);
  g_autofree gchar *key = path_in (dir, VMS_TLS_SELF_SIGNED_KEY);
  gboolean created = FALSE;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  first = vms_tls_certificate_self_signed (dir, names, &created, &err);
  g_assert_no_error (err);
  g_assert_nonnull (first);
  g_assert_true (created);
  g_assert_cmpuint (mode_of (crt), ==, 0600);
  g_assert_cmpuint (mode_of (key), ==, 0600);

  /* a second start: the same certificate, not a new one */
  second = vms_tls_certificate_self_signed (dir, names, &created, &err);
  g_assert_no_error (err);
  g_assert_false (created);
  fp1 = vms_tls_fingerprint (first);
  fp2 = vms_tls_fingerprint (second);
  g_assert_cmpstr (fp1, ==, fp2);
  g_assert_cmpuint (strlen (fp1), ==, 95);
}

static void
test_self_signed_names (void)
{
  g_autoptr (GTlsCertificate) cert = NULL;
  const gchar *good[] = { "vmstream.test", "localhost", NULL };

  cert = vms_tls_certificate_self_signed (dir_a, names, NULL, NULL);
  g_assert_nonnull (cert);
  for (const gchar **n = good; *n; n++) {
    g_autoptr (GSocketConnectable) id = g_network_address_new (*n, 443);
    g_assert_false (g_tls_certificate_verify (cert, id, NULL)
                    & G_TLS_CERTIFICATE_BAD_IDENTITY);
  }
  {
    g_autoptr (GInetAddress) ia = g_inet_address_new_from_string ("127.0.0.1");
    g_autoptr (GSocketAddress) id = g_inet_socket_address_new (ia, 443);
    g_assert_false (
        g_tls_certificate_verify (cert, G_SOCKET_CONNECTABLE (id), NULL)
        & G_TLS_CERTIFICATE_BAD_IDENTITY);
  }
  {
    g_autoptr (GSocketConnectable) id
        = g_network_address_new ("other.test", 443);
    g_assert_true (g_tls_certificate_verify (cert, id, NULL)
                   & G_TLS_CERTIFICATE_BAD_IDENTITY);
  }
}

static void
test_self_signed_new_name_makes_new (void)
{
  g_autoptr (GTlsCertificate) a = NULL;
  g_autoptr (GTlsCertificate) b = NULL;
  g_autofree gchar *fa = NULL, *fb = NULL;
  const gchar *more[] = { "127.0.0.1", "vm.example.org", NULL };
  g_autofree gchar *dir = path_in (tmp, "renamed");
  gboolean created = FALSE;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  a = vms_tls_certificate_self_signed (dir, names, NULL, NULL);
  g_assert_nonnull (a);
  /* clients now use a name the old one lacks: it would fail for them */
  b = vms_tls_certificate_self_signed (dir, more, &created, NULL);
  g_assert_nonnull (b);
  g_assert_true (created);
  fa = vms_tls_fingerprint (a);
  fb = vms_tls_fingerprint (b);
  g_assert_cmpstr (fa, !=, fb);
}

static void
test_fingerprint_is_openssls (void)
{
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autofree gchar *crt = path_in (dir_a, VMS_TLS_SELF_SIGNED_CERT);
  g_autofree gchar *key = path_in (dir_a, VMS_TLS_SELF_SIGNED_KEY);
  g_autofree gchar *fp = NULL;
  g_autofree gchar *out = NULL;
  g_autoptr (GError) err = NULL;
  const gchar *argv[] = { "openssl", "x509", "-noout", "-fingerprint",
                          "-sha256", "-in",  crt,      NULL };
  gint status;
  const gchar *eq;

  cert = vms_tls_certificate_load (crt, key, &err);
  g_assert_no_error (err);
  fp = vms_tls_fingerprint (cert);
  g_assert_true (g_spawn_sync (NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, &out, NULL, &status, &err));
  g_assert_no_error (err);
  g_assert_cmpint (status, ==, 0);
  /* "sha256 Fingerprint=AA:BB:..." */
  eq = strchr (out, '=');
  g_assert_nonnull (eq);
  g_assert_cmpstr (g_strstrip ((gchar *)eq + 1), ==, fp);
}

static void
expect_refusal (const gchar *crt, const gchar *key, GQuark domain,
                const gchar *named)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GTlsCertificate) cert = vms_tls_certificate_load (crt, key, &err);

  g_assert_null (cert);
  g_assert_nonnull (err);
  g_assert_true (err->domain == domain);
  g_test_message ("refused: %s", err->message);
  g_assert_nonnull (strstr (err->message, named));
}

static void
test_refusals (void)
{
  g_autofree gchar *crt_a = path_in (dir_a, VMS_TLS_SELF_SIGNED_CERT);
  g_autofree gchar *key_a = path_in (dir_a, VMS_TLS_SELF_SIGNED_KEY);
  g_autofree gchar *missing = path_in (tmp, "no-such.pem");
  g_autofree gchar *garbage = path_in (tmp, "garbage.pem");
  g_autofree gchar *empty = path_in (tmp, "empty.pem");

  g_assert_true (g_file_set_contents (garbage, "not a key\n", -1, NULL));
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  /* the pair itself loads */
  {
    g_autoptr (GTlsCertificate) ok
        = vms_tls_certificate_load (crt_a, key_a, NULL);
    g_assert_nonnull (ok);
  }
  /* certificate without key, key without certificate */
  expect_refusal (crt_a, NULL, G_FILE_ERROR, crt_a);
  expect_refusal (crt_a, "", G_FILE_ERROR, "without its private key");
  expect_refusal (NULL, key_a, G_FILE_ERROR, key_a);
  /* missing and unreadable (a folder: root reads any file) */
  expect_refusal (crt_a, missing, G_FILE_ERROR, missing);
  expect_refusal (missing, key_a, G_FILE_ERROR, missing);
  expect_refusal (crt_a, tmp, G_FILE_ERROR, tmp);
  /* empty, not a key, a certificate where the key belongs */
  expect_refusal (crt_a, empty, G_FILE_ERROR, empty);
  expect_refusal (crt_a, garbage, G_TLS_ERROR, garbage);
  expect_refusal (crt_a, crt_a, G_TLS_ERROR, "private key");
  expect_refusal (garbage, key_a, G_TLS_ERROR, garbage);
}

static void
test_mismatched_key_refused (void)
{
  g_autofree gchar *crt_a = path_in (dir_a, VMS_TLS_SELF_SIGNED_CERT);
  g_autofree gchar *key_b = path_in (dir_b, VMS_TLS_SELF_SIGNED_KEY);
  g_autoptr (GError) err = NULL;
  g_autoptr (GTlsCertificate) glib_alone = NULL;

  /* GLib alone takes the pair: the check is ours */
  glib_alone = g_tls_certificate_new_from_files (crt_a, key_b, &err);
  g_assert_no_error (err);
  g_assert_nonnull (glib_alone);
  expect_refusal (crt_a, key_b, G_TLS_ERROR, "does not belong");
  expect_refusal (crt_a, key_b, G_TLS_ERROR, key_b);
}

int
main (int argc, char **argv)
{
  int ret;
  g_autofree gchar *cmd = NULL;
  g_autofree gchar *openssl = g_find_program_in_path ("openssl");

  g_test_init (&argc, &argv, NULL);
#ifdef VMS_TEST_GNUTLS_STATIC_TLS
  g_message ("GnuTLS %s linked in (static TLS under ASan)",
             gnutls_check_version (NULL));
#endif
  if (openssl == NULL) {
    g_print ("1..0 # SKIP no openssl command\n");
    return 77;
  }
  tmp = g_dir_make_tmp ("vmstls-test-XXXXXX", NULL);
  g_assert_nonnull (tmp);
  dir_a = path_in (tmp, "a");
  dir_b = path_in (tmp, "b");
  g_assert_cmpint (g_mkdir (dir_a, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (dir_b, 0700), ==, 0);
  {
    g_autoptr (GTlsCertificate) a
        = vms_tls_certificate_self_signed (dir_a, names, NULL, NULL);
    g_autoptr (GTlsCertificate) b
        = vms_tls_certificate_self_signed (dir_b, names, NULL, NULL);
    g_assert_nonnull (a);
    g_assert_nonnull (b);
  }
  g_test_add_func ("/tls/self-signed-made-then-reused",
                   test_self_signed_made_then_reused);
  g_test_add_func ("/tls/self-signed-names", test_self_signed_names);
  g_test_add_func ("/tls/self-signed-new-name-makes-new",
                   test_self_signed_new_name_makes_new);
  g_test_add_func ("/tls/fingerprint-is-openssls",
                   test_fingerprint_is_openssls);
  g_test_add_func ("/tls/refusals", test_refusals);
  g_test_add_func ("/tls/mismatched-key-refused", test_mismatched_key_refused);
  ret = g_test_run ();
  cmd = g_strdup_printf ("rm -rf '%s'", tmp);
  if (system (cmd) != 0)
    g_printerr ("could not remove %s\n", tmp);
  g_free (dir_a);
  g_free (dir_b);
  g_free (tmp);
  return ret;
}
