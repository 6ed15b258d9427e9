/* vmstream common: the nesting guard (see vmsnest.h).
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vmsnest.h"

#include <string.h>

/* The checks recurse only into quoted caps values, one level per quote, so
 * their own stack use is bounded by the depth limit. */
#define MAX_LIMIT 64

GQuark
vms_nest_error_quark (void)
{
  return g_quark_from_static_string ("vms-nest-error-quark");
}

static gboolean
too_deep (guint max_depth, GError **error)
{
  g_set_error (error, VMS_NEST_ERROR, VMS_NEST_ERROR_TOO_DEEP,
               "nested deeper than %u levels", max_depth);
  return FALSE;
}

static gboolean
json_syntax_error (gsize offset, const gchar *what, GError **error)
{
  g_set_error (error, VMS_NEST_ERROR, VMS_NEST_ERROR_SYNTAX,
               "not JSON at byte %" G_GSIZE_FORMAT ": %s", offset, what);
  return FALSE;
}

/* Skips a JSON string that starts at text[*i] == '"'. Control characters
 * are refused as RFC 8259 does; escapes are checked for their shape. */
static gboolean
json_skip_string (const gchar *text, gsize len, gsize *i, GError **error)
{
  gsize start = *i;

  for ((*i)++; *i < len; (*i)++) {
    guchar c = (guchar)text[*i];

    if (c == '"')
      return TRUE;
    if (c < 0x20)
      return json_syntax_error (*i, "a control character inside a string",
                                error);
    if (c == '\\') {
      if (++(*i) >= len)
        break;
      if (!strchr ("\"\\/bfnrtu", text[*i]) || text[*i] == '\0')
        return json_syntax_error (*i, "an unknown escape in a string", error);
    }
  }
  return json_syntax_error (start, "a string that never ends", error);
}

gboolean
vms_json_nesting_check (const gchar *text, gsize len, guint max_depth,
                        GError **error)
{
  guint depth = 0;

  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  for (gsize i = 0; i < len; i++) {
    gchar c = text[i];

    switch (c) {
      case '[':
      case '{':
        if (++depth > max_depth)
          return too_deep (max_depth, error);
        break;
      case ']':
      case '}':
        if (depth == 0)
          return json_syntax_error (i, "a bracket closes what never opened",
                                    error);
        depth--;
        break;
      case '"':
        if (!json_skip_string (text, len, &i, error))
          return FALSE;
        break;
      case '\'':
        return json_syntax_error (i, "single-quoted strings are not JSON",
                                  error);
      case '/':
      case '#':
        return json_syntax_error (i, "comments are not JSON", error);
      case ' ':
      case '\t':
      case '\n':
      case '\r':
      case ':':
      case ',':
        break;
      default:
        /* numbers and the literals true, false, null */
        if (!g_ascii_isalnum (c) && c != '+' && c != '-' && c != '.')
          return json_syntax_error (i, "a character outside any JSON token",
                                    error);
        break;
    }
  }
  return TRUE;
}

/* GStreamer's string unquoting: a backslash takes the next character
 * literally, or three octal digits (the first 0..3) as one byte. Returns
 * the unescaped content of the quoted string at text[*i] == '"' and moves
 * *i to its closing quote (or to len when it never closes). */
static GString *
caps_unquote (const gchar *text, gsize len, gsize *i)
{
  GString *out = g_string_sized_new (64);

  for ((*i)++; *i < len && text[*i] != '"'; (*i)++) {
    if (text[*i] != '\\') {
      g_string_append_c (out, text[*i]);
      continue;
    }
    if (++(*i) >= len)
      break;
    if (*i + 2 < len && text[*i] >= '0' && text[*i] <= '3'
        && text[*i + 1] >= '0' && text[*i + 1] <= '7' && text[*i + 2] >= '0'
        && text[*i + 2] <= '7') {
      g_string_append_c (out, (gchar)(((text[*i] - '0') << 6)
                                      | ((text[*i + 1] - '0') << 3)
                                      | (text[*i + 2] - '0')));
      *i += 2;
    } else {
      g_string_append_c (out, text[*i]);
    }
  }
  return out;
}

static gboolean
caps_check (const gchar *text, gsize len, guint base, guint max_depth,
            GError **error)
{
  guint depth = base;

  for (gsize i = 0; i < len; i++) {
    switch (text[i]) {
      case '<':
      case '[':
      case '{':
      case '(':
        if (++depth > max_depth)
          return too_deep (max_depth, error);
        break;
      case '>':
      case ']':
      case '}':
      case ')':
        /* never below where this text started: a stray closer must not
         * buy an attacker extra levels */
        if (depth > base)
          depth--;
        break;
      case '"': {
        /* A quoted value may be unquoted and parsed again, one level
         * deeper than where it stands. */
        g_autoptr (GString) inner = NULL;
        if (depth + 1 > max_depth)
          return too_deep (max_depth, error);
        inner = caps_unquote (text, len, &i);
        if (!caps_check (inner->str, inner->len, depth + 1, max_depth, error))
          return FALSE;
        break;
      }
      default:
        break;
    }
  }
  return TRUE;
}

gboolean
vms_caps_nesting_check (const gchar *text, gsize len, guint max_depth,
                        GError **error)
{
  g_return_val_if_fail (text != NULL || len == 0, FALSE);
  g_return_val_if_fail (max_depth <= MAX_LIMIT, FALSE);
  return caps_check (text, len, 0, max_depth, error);
}
