/* vmstream: pipeline templates (pipelines/NAME.txt) with ${VARIABLES} */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* TRUE if @name is a safe template name: [A-Za-z0-9_.-]+, no "..". */
gboolean vms_template_name_is_valid (const gchar *name);
/* Reads @dir/@name.txt: drops lines starting with '#', joins the rest with
 * spaces. NULL with G_FILE_ERROR_NOENT if there is no such template. */
gchar *vms_template_load (const gchar *dir, const gchar *name, GError **error);
/* Replaces every ${NAME} with @vars[NAME]; "$$" is a literal "$". An
 * unknown variable is an error that names it. */
gchar *vms_template_expand (const gchar *text, GHashTable *vars,
                            GError **error);
/* Sorted template names (without .txt) found in @dir. */
GPtrArray *vms_template_list (const gchar *dir);

G_END_DECLS
