/* vmstream common: the nesting guard.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * json-glib and GStreamer's caps/structure parser recurse once per nesting
 * level: text from a peer nested a few thousand levels deep overflows the
 * stack of whoever parses it. These checks run before either parser sees
 * the text. They are tokenizers of the grammar the parser really reads:
 *
 * - JSON: strict RFC 8259 lexical syntax. Everything json-glib takes beyond
 *   it (single-quoted strings, comments, bare words other than the literals)
 *   is refused rather than interpreted, so the guard and the parser can
 *   never disagree about where a string ends.
 * - Caps and structures: quoted values are unescaped (backslash escapes and
 *   GStreamer's three-digit octal escapes) and checked again one level
 *   deeper, because GStreamer unquotes typed values such as
 *   `(structure)"..."` and parses them again. Brackets of every kind count.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VMS_NEST_ERROR (vms_nest_error_quark ())
GQuark vms_nest_error_quark (void);

typedef enum {
  VMS_NEST_ERROR_TOO_DEEP, /* nested deeper than the limit */
  VMS_NEST_ERROR_SYNTAX,   /* not the grammar (JSON only) */
} VmsNestError;

gboolean vms_json_nesting_check (const gchar *text, gsize len, guint max_depth,
                                 GError **error);
gboolean vms_caps_nesting_check (const gchar *text, gsize len, guint max_depth,
                                 GError **error);

G_END_DECLS
