/* vmstream common: TLS certificates for our HTTP servers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One implementation for the supervisor's front door and wsh264sink:
 * - an operator's PEM certificate and key, checked before any client
 *   comes (both files readable, a certificate in the one, a private key in
 *   the other, and the key the certificate's own: GLib loads a mismatched
 *   pair without a word and every handshake would fail later);
 * - else a self-signed certificate made once (EC P-256, with the names and
 *   addresses clients use) and reused at every later start, so a
 *   fingerprint a client pinned stays valid;
 * - its SHA-256 fingerprint (of the DER), "AA:BB:...", the form
 *   `openssl x509 -fingerprint -sha256` and browsers show.
 * GIO only (glib-networking does the TLS); the self-signed certificate is
 * made with the `openssl` command. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* File names of the self-signed pair inside its folder. */
#define VMS_TLS_SELF_SIGNED_CERT "tls-cert.pem"
#define VMS_TLS_SELF_SIGNED_KEY "tls-key.pem"

/* Loads @cert_file (PEM certificate, may be followed by its chain) and
 * @key_file (PEM private key). NULL with @error, a sentence naming the file
 * at fault, when either is missing, empty, unreadable, holds no
 * certificate/key, or when the key does not belong to the certificate
 * (G_FILE_ERROR for files, G_TLS_ERROR_BAD_CERTIFICATE otherwise). */
GTlsCertificate *vms_tls_certificate_load (const gchar *cert_file,
                                           const gchar *key_file,
                                           GError **error);

/* The self-signed certificate in @dir (a folder of ours: the caller checked
 * it with vms_private_dir_ensure): VMS_TLS_SELF_SIGNED_CERT and _KEY, both
 * 0600. Reused when both load, match, have not expired and name every entry
 * of @names; otherwise a new pair is made with `openssl` (EC P-256,
 * CN=vmstream, subjectAltName = @names: IP literals as IP, the others as
 * DNS names; 825 days) and written there. *@created, when given, says
 * whether a new one was made. @names: NULL-terminated, may be NULL. */
GTlsCertificate *vms_tls_certificate_self_signed (const gchar *dir,
                                                  const gchar *const *names,
                                                  gboolean *created,
                                                  GError **error);

/* "AA:BB:..." (95 characters): SHA-256 of @cert's DER encoding. */
gchar *vms_tls_fingerprint (GTlsCertificate *cert);

G_END_DECLS
