/* vmstream: pipeline templates (pipelines/NAME.txt) with ${VARIABLES}.
 *
 * Same format as tools/vmstream-expand: lines starting with '#' are
 * comments, "#:NAME=value" lines give defaults (which may use ${OTHER}),
 * the other lines are joined with spaces into one gst-launch description. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gchar *body;
  GHashTable *defaults; /* NAME -> value */
} VmsTemplate;

/* TRUE if @name is a safe template name: [A-Za-z0-9_.-]+, no "..". */
gboolean vms_template_name_is_valid (const gchar *name);
/* Reads @dir/@name.txt. G_FILE_ERROR_NOENT if there is no such template. */
VmsTemplate *vms_template_load (const gchar *dir, const gchar *name,
                                GError **error);
void vms_template_free (VmsTemplate *t);
/* Replaces every ${NAME} (recursively, values may use variables too) with
 * the value of the first of @layers (NULL-terminated) that has NAME. An
 * undefined variable or a loop is an error that names it. */
gchar *vms_template_expand (const gchar *text, GHashTable **layers,
                            GError **error);
/* Sorted template names (without .txt) found in @dir. */
GPtrArray *vms_template_list (const gchar *dir);

G_END_DECLS
