/* vmstream: pipeline template loading and ${VARIABLE} expansion. */
#include "template.h"

#include <string.h>

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

gchar *
vms_template_load (const gchar *dir, const gchar *name, GError **error)
{
  g_autofree gchar *file = g_strconcat (name, ".txt", NULL);
  g_autofree gchar *path = g_build_filename (dir, file, NULL);
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  GString *out;

  if (!vms_template_name_is_valid (name)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 "\"%s\" is not a valid template name", name);
    return NULL;
  }
  if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  out = g_string_new (NULL);
  for (gchar **l = lines; *l; l++) {
    gchar *t = g_strstrip (*l);
    if (*t == '\0' || *t == '#')
      continue;
    if (out->len)
      g_string_append_c (out, ' ');
    /* A trailing backslash (shell-style continuation) is only layout. */
    if (g_str_has_suffix (t, "\\"))
      t[strlen (t) - 1] = '\0';
    g_string_append (out, t);
  }
  return g_string_free (out, FALSE);
}

gchar *
vms_template_expand (const gchar *text, GHashTable *vars, GError **error)
{
  GString *out = g_string_new (NULL);
  const gchar *p = text;

  while (*p) {
    if (p[0] == '$' && p[1] == '$') {
      g_string_append_c (out, '$');
      p += 2;
    } else if (p[0] == '$' && p[1] == '{') {
      const gchar *end = strchr (p + 2, '}');
      g_autofree gchar *name = NULL;
      const gchar *value;
      if (end == NULL) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                     "unterminated ${ in the template");
        g_string_free (out, TRUE);
        return NULL;
      }
      name = g_strndup (p + 2, end - (p + 2));
      value = g_hash_table_lookup (vars, name);
      if (value == NULL) {
        g_set_error (
            error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
            "the template uses ${%s}, which the supervisor does not define",
            name);
        g_string_free (out, TRUE);
        return NULL;
      }
      g_string_append (out, value);
      p = end + 1;
    } else {
      g_string_append_c (out, *p++);
    }
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
