/* vmstream: browser KeyboardEvent.code -> X keysym name and QEMU qcode */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const gchar *code;   /* KeyboardEvent.code, e.g. "KeyA" */
  const gchar *keysym; /* X keysym name for XStringToKeysym(), e.g. "a" */
  const gchar *qcode;  /* QEMU QKeyCode, e.g. "a" */
} VmsKeyMapEntry;

const VmsKeyMapEntry *vms_keymap_lookup (const gchar *code);
gboolean vms_keymap_is_known (const gchar *code);

G_END_DECLS
