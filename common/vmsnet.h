/* vmstream common: who may talk to our HTTP servers.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rules every HTTP endpoint (supervisor API and pages, WebSocket
 * streams) applies, so a web page in the operator's browser cannot use the
 * operator's access:
 * - Host: an IP address literal (DNS rebinding needs a name), a localhost
 *   name, or one of the operator's public names; anything else is a page
 *   that made its own name point at us.
 * - Origin: absent (not a browser), our own origin (scheme://Host of the
 *   request itself, once Host passed), or one the operator listed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE for loopback IP literals (127.0.0.0/8, ::1) and "localhost". */
gboolean vms_address_is_loopback (const gchar *address);

/* Splits a Host header ("name", "name:port", "[v6]:port") into its host
 * part, lowercased. NULL when it is not a well-formed Host value. */
gchar *vms_host_header_name (const gchar *host_header);

/* TRUE when @host_header names this server: see above. @public_names is a
 * NULL-terminated list of names the operator serves under (may be NULL);
 * an entry "*" allows any name. */
gboolean vms_host_allowed (const gchar *host_header,
                           const gchar *const *public_names);

/* TRUE when a request with @origin (may be NULL) and @host_header may
 * change state or open a stream: @origin absent, equal to
 * "http(s)://<host_header>" (either scheme: a TLS-terminating proxy may
 * stand in front), or listed in @allowed_origins (NULL-terminated, may be
 * NULL; "*" allows any). */
gboolean vms_origin_allowed (const gchar *origin, const gchar *host_header,
                             const gchar *const *allowed_origins);

/* Splits a comma-separated list, trims, drops empty entries. */
gchar **vms_split_list (const gchar *list);

/* Text from a client fit for one log line or error message: printable
 * ASCII (anything else becomes '?'), at most @max bytes then "...". */
gchar *vms_printable (const gchar *text, gsize max);

G_END_DECLS
