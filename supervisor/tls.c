/* vmstream-supervisor: HTTPS on the listen port.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With HELIX_TLS_CERT and HELIX_TLS_KEY (--tls-cert, --tls-key) the listen
 * port serves HTTPS (and WSS for upgrades) with that certificate. Without
 * them a loopback listen stays plain HTTP (nobody else can reach it), and
 * any other listen address gets a self-signed certificate, made once in the
 * state folder ($STATE_DIRECTORY, else the runtime folder) and reused at
 * every start, so a client that pinned its fingerprint keeps working. The
 * fingerprint is logged and in GET /api/v1/info. See docs/security.md. */
#include "supervisor.h"

#include "vmstls.h"

#include <string.h>

/* The names and addresses clients use to reach us, for a self-signed
 * certificate: the listen address, loopback, the public names. */
static GStrv
certificate_names (VmsConfig *cfg)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();

  g_strv_builder_add (b, cfg->listen_host);
  g_strv_builder_add_many (b, "localhost", "127.0.0.1", "::1", NULL);
  for (gchar **n = cfg->public_names; n && *n; n++)
    if (!g_str_equal (*n, "*"))
      g_strv_builder_add (b, *n);
  return g_strv_builder_end (b);
}

gboolean
vms_tls_prepare (VmsConfig *cfg, GError **error)
{
  const gchar *dir = cfg->state_dir ? cfg->state_dir : cfg->runtime_dir;
  g_auto (GStrv) names = NULL;
  g_autoptr (GError) e = NULL;
  gboolean created = FALSE;

  if (*cfg->tls_cert_file || *cfg->tls_key_file) {
    cfg->tls_certificate
        = vms_tls_certificate_load (cfg->tls_cert_file, cfg->tls_key_file, &e);
    if (cfg->tls_certificate == NULL) {
      g_set_error (error, e->domain, e->code,
                   "cannot serve HTTPS: %s (HELIX_TLS_CERT / --tls-cert, "
                   "HELIX_TLS_KEY / --tls-key)",
                   e->message);
      return FALSE;
    }
  } else if (cfg->listen_loopback) {
    return TRUE; /* this machine only: plain HTTP, as before */
  } else {
    names = certificate_names (cfg);
    cfg->tls_certificate = vms_tls_certificate_self_signed (
        dir, (const gchar *const *)names, &created, &e);
    if (cfg->tls_certificate == NULL) {
      g_set_error (error, e->domain, e->code,
                   "listening on %s, off loopback, needs TLS, and no "
                   "self-signed certificate could be made in %s: %s (or set "
                   "HELIX_TLS_CERT and HELIX_TLS_KEY)",
                   cfg->listen, dir, e->message);
      return FALSE;
    }
    g_free (cfg->tls_cert_file);
    cfg->tls_cert_file = g_build_filename (dir, VMS_TLS_SELF_SIGNED_CERT, NULL);
  }
  cfg->tls_fingerprint = vms_tls_fingerprint (cfg->tls_certificate);
  if (*cfg->tls_key_file)
    g_message ("HTTPS with the certificate %s, SHA-256 fingerprint %s",
               cfg->tls_cert_file, cfg->tls_fingerprint);
  else
    g_message ("HTTPS with %s self-signed certificate %s (listening off "
               "loopback; set HELIX_TLS_CERT and HELIX_TLS_KEY for one of "
               "your own), SHA-256 fingerprint %s",
               created ? "a new" : "the", cfg->tls_cert_file,
               cfg->tls_fingerprint);
  return TRUE;
}

const gchar *
vms_url_scheme (const VmsConfig *cfg, gboolean websocket)
{
  if (cfg->tls_certificate)
    return websocket ? "wss" : "https";
  return websocket ? "ws" : "http";
}
