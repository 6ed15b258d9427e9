/* vmstream: pipeline templates (pipelines/NAME.txt) with ${VARIABLES}.
 *
 * The one implementation of the format, used by the supervisor and by the
 * vmstream-expand command: lines starting with '#' are comments,
 * "#:NAME=value" lines give defaults (the rest of the line, which may use
 * ${OTHER}), the other lines are joined with spaces into one gst-launch
 * description. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gchar *body;
  GHashTable *defaults; /* NAME -> value */
  GPtrArray *order;     /* default names in file order */
} VmsTemplate;

/* TRUE if @name is a safe template name: [A-Za-z0-9_.-]+, no "..". */
gboolean vms_template_name_is_valid (const gchar *name);
/* Parses a template's text; @where names it in errors. */
VmsTemplate *vms_template_parse (const gchar *contents, const gchar *where,
                                 GError **error);
/* Reads the template file @path. */
VmsTemplate *vms_template_load_file (const gchar *path, GError **error);
/* Reads @dir/@name.txt. G_FILE_ERROR_NOENT if there is no such template. */
VmsTemplate *vms_template_load (const gchar *dir, const gchar *name,
                                GError **error);
void vms_template_free (VmsTemplate *t);
/* Replaces every ${NAME} (recursively, values may use variables too) with
 * the value of the first of @layers (NULL-terminated) that has NAME. An
 * undefined variable or a loop is an error that names it, and so is a
 * value inside the text's double quotes that holds a '"' or a '\\' (it
 * would end them: the rest would become pipeline or command syntax). */
gchar *vms_template_expand (const gchar *text, GHashTable **layers,
                            GError **error);
/* The variables of @t: its defaults in file order, then the other names its
 * body uses. Free with g_ptr_array_unref(). */
GPtrArray *vms_template_variables (const VmsTemplate *t);
/* Splits an expanded description into gst-launch-1.0 words: runs of
 * non-space characters, where a "quoted string" (backslash escapes
 * included) may hold spaces. gst-launch-1.0 wants the description word by
 * word (it escapes spaces inside each word). */
gchar **vms_template_split_words (const gchar *line);
/* Sorted template names (without .txt) found in @dir. */
GPtrArray *vms_template_list (const gchar *dir);

G_END_DECLS
