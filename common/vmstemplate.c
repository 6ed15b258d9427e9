/* vmstream: pipeline templates (pipelines/NAME.txt) with ${VARIABLES}: the
 * one implementation, used by the supervisor and by tools/vmstream-expand. */
#include "vmstemplate.h"

#include <string.h>

#define MAX_DEPTH 16

gboolean
vms_template_name_is_valid (const gchar *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64 || name[0] == '.')
    return FALSE;
  for (const gchar *p = name; *p; p++) {
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
      return FALSE;
  }
  return strstr (name, "..") == NULL;
}

static gboolean
var_name_is_valid (const gchar *n)
{
  if (!g_ascii_isalpha (*n) && *n != '_')
    return FALSE;
  for (; *n; n++) {
    if (!g_ascii_isalnum (*n) && *n != '_')
      return FALSE;
  }
  return TRUE;
}

void
vms_template_free (VmsTemplate *t)
{
  if (t == NULL)
    return;
  g_free (t->body);
  g_hash_table_unref (t->defaults);
  g_ptr_array_unref (t->order);
  g_free (t);
}

VmsTemplate *
vms_template_parse (const gchar *contents, const gchar *where, GError **error)
{
  g_auto (GStrv) lines = NULL;
  GString *out;
  VmsTemplate *t;

  t = g_new0 (VmsTemplate, 1);
  t->defaults = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  t->order = g_ptr_array_new_with_free_func (g_free);
  lines = g_strsplit (contents, "\n", -1);
  out = g_string_new (NULL);
  for (gchar **l = lines; *l; l++) {
    gchar *s = g_strstrip (*l);
    if (g_str_has_prefix (s, "#:")) {
      gchar *eq = strchr (s + 2, '=');
      g_autofree gchar *n = NULL;
      if (eq == NULL
          || !var_name_is_valid (
              (n = g_strstrip (g_strndup (s + 2, eq - s - 2))))) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     "%s: bad default line \"%s\" (want #:NAME=value)", where,
                     s);
        g_string_free (out, TRUE);
        vms_template_free (t);
        return NULL;
      }
      if (!g_hash_table_contains (t->defaults, n))
        g_ptr_array_add (t->order, g_strdup (n));
      g_hash_table_replace (t->defaults, g_steal_pointer (&n),
                            g_strstrip (g_strdup (eq + 1)));
      continue;
    }
    if (*s == '\0' || *s == '#')
      continue;
    if (out->len)
      g_string_append_c (out, ' ');
    g_string_append (out, s);
  }
  t->body = g_string_free (out, FALSE);
  return t;
}

VmsTemplate *
vms_template_load_file (const gchar *path, GError **error)
{
  g_autofree gchar *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;
  return vms_template_parse (contents, path, error);
}

VmsTemplate *
vms_template_load (const gchar *dir, const gchar *name, GError **error)
{
  g_autofree gchar *file = NULL;
  g_autofree gchar *path = NULL;

  if (!vms_template_name_is_valid (name)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 "\"%s\" is not a valid template name", name);
    return NULL;
  }
  file = g_strconcat (name, ".txt", NULL);
  path = g_build_filename (dir, file, NULL);
  return vms_template_load_file (path, error);
}

static const gchar *
lookup (GHashTable **layers, const gchar *name)
{
  for (GHashTable **l = layers; *l; l++) {
    const gchar *v = g_hash_table_lookup (*l, name);
    if (v)
      return v;
  }
  return NULL;
}

/* Where the output stands in gst-launch's (and the shell's) double quotes:
 * scanned incrementally, a backslash escaping the next character. */
typedef struct {
  gsize scanned;
  gboolean quoted, escaped;
} QuoteState;

static gboolean
output_is_quoted (QuoteState *q, const GString *out)
{
  for (; q->scanned < out->len; q->scanned++) {
    gchar c = out->str[q->scanned];
    if (q->escaped)
      q->escaped = FALSE;
    else if (c == '\\')
      q->escaped = TRUE;
    else if (c == '"')
      q->quoted = !q->quoted;
  }
  return q->quoted;
}

static gboolean
expand_into (GString *out, QuoteState *q, const gchar *text,
             GHashTable **layers, gint depth, GError **error)
{
  const gchar *p = text;

  if (depth > MAX_DEPTH) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the template's variables refer to each other in a loop");
    return FALSE;
  }
  while (*p) {
    const gchar *end;
    if (p[0] == '$' && p[1] == '{' && (end = strchr (p + 2, '}')) != NULL) {
      g_autofree gchar *name = g_strndup (p + 2, end - (p + 2));
      const gchar *value;
      if (!var_name_is_valid (name)) {
        g_string_append_len (out, p, end + 1 - p);
        p = end + 1;
        continue;
      }
      value = lookup (layers, name);
      if (value == NULL) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     "the template uses ${%s}, which has no value: give "
                     "%s=... (to the supervisor: --var or HELIX_VAR_%s), or "
                     "add a #:%s= default line",
                     name, name, name, name);
        return FALSE;
      }
      {
        /* A value inside the template's double quotes stays inside them:
         * a '"' would end them and a '\\' would escape the closing one,
         * and the rest of the value would become pipeline (or command)
         * syntax: another element, another argument. */
        gboolean quoted = output_is_quoted (q, out);
        gsize start = out->len;
        if (!expand_into (out, q, value, layers, depth + 1, error))
          return FALSE;
        if (quoted && strpbrk (out->str + start, "\"\\") != NULL) {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "the value of ${%s} contains a double quote or a "
                       "backslash, and the template puts it inside double "
                       "quotes, which it would end early: give a value "
                       "without them",
                       name);
          return FALSE;
        }
      }
      p = end + 1;
    } else {
      g_string_append_c (out, *p++);
    }
  }
  return TRUE;
}

gchar *
vms_template_expand (const gchar *text, GHashTable **layers, GError **error)
{
  GString *out = g_string_new (NULL);
  QuoteState q = { 0 };
  if (!expand_into (out, &q, text, layers, 0, error)) {
    g_string_free (out, TRUE);
    return NULL;
  }
  return g_string_free (out, FALSE);
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar **)a, *(const gchar **)b);
}

GPtrArray *
vms_template_list (const gchar *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const gchar *f;

  if (d == NULL)
    return names;
  while ((f = g_dir_read_name (d)) != NULL) {
    if (g_str_has_suffix (f, ".txt")) {
      gchar *n = g_strndup (f, strlen (f) - 4);
      if (vms_template_name_is_valid (n))
        g_ptr_array_add (names, n);
      else
        g_free (n);
    }
  }
  g_ptr_array_sort (names, cmp_str);
  return names;
}

/* Appends the names of the variables @text uses, in order, to @names
 * (unless already there). */
static void
add_used_names (GPtrArray *names, const gchar *text)
{
  for (const gchar *p = text; (p = strstr (p, "${")) != NULL;) {
    const gchar *end = strchr (p + 2, '}');
    g_autofree gchar *name = NULL;
    if (end == NULL)
      return;
    name = g_strndup (p + 2, end - (p + 2));
    p = end + 1;
    if (!var_name_is_valid (name))
      continue;
    if (!g_ptr_array_find_with_equal_func (names, name, g_str_equal, NULL))
      g_ptr_array_add (names, g_steal_pointer (&name));
  }
}

GPtrArray *
vms_template_variables (const VmsTemplate *t)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < t->order->len; i++)
    g_ptr_array_add (names, g_strdup (g_ptr_array_index (t->order, i)));
  add_used_names (names, t->body);
  return names;
}

gchar **
vms_template_split_words (const gchar *line)
{
  GPtrArray *words = g_ptr_array_new ();
  const gchar *p = line;

  while (*p) {
    const gchar *start;
    while (g_ascii_isspace (*p))
      p++;
    if (*p == '\0')
      break;
    start = p;
    while (*p && !g_ascii_isspace (*p)) {
      if (*p == '"') {
        /* a quoted string, backslash escapes included, is part of the word;
         * an unterminated one runs to the end of the line */
        for (p++; *p && *p != '"'; p++) {
          if (*p == '\\' && p[1])
            p++;
        }
        if (*p == '"')
          p++;
      } else {
        p++;
      }
    }
    g_ptr_array_add (words, g_strndup (start, p - start));
  }
  g_ptr_array_add (words, NULL);
  return (gchar **)g_ptr_array_free (words, FALSE);
}
