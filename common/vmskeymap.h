/* vmstream common: browser KeyboardEvent.code -> X keysym name and QEMU
 * qcode. The input contract (vmsinput.h) accepts exactly the codes of this
 * table. SPDX-License-Identifier: LGPL-2.1-or-later */
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
