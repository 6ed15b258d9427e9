/* vmstream common: secrets and their comparison.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE when @given equals @expected. Runs over all of @given whatever
 * matched, so the time taken tells nothing about how much matched. NULL or
 * empty values never match. */
gboolean vms_token_equal (const gchar *expected, const gchar *given);

/* Fills @buf with @len bytes from the system's random source
 * (/dev/urandom). FALSE with @error set when there is none. */
gboolean vms_random_bytes (guint8 *buf, gsize len, GError **error);

/* A new random secret: @n_bytes from the system's random source, as
 * lowercase hex (2 * @n_bytes characters). NULL with @error set when the
 * system has no random source. */
gchar *vms_token_generate (gsize n_bytes, GError **error);

G_END_DECLS
