/* Helpers shared by the C test suites.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

/* TRUE if GStreamer has an element factory @name. */
static inline gboolean
vms_test_have_element (const gchar *name)
{
  GstElementFactory *f = gst_element_factory_find (name);

  if (f)
    gst_object_unref (f);
  return f != NULL;
}

/* Fails the current GstCheck case when element @name is missing: every
 * element the suites use is installed by tools/install-deps.sh (./run-tests),
 * so a missing one is a broken set-up, never a silent pass. */
#define VMS_REQUIRE_ELEMENT(name)                                              \
  fail_unless (vms_test_have_element (name),                                   \
               "element %s is not installed here: run tools/install-deps.sh "  \
               "(its package is in tools/apt-packages.txt)",                   \
               name)

/* Fails the case when program @name is not on PATH, for the same reason. */
#define VMS_REQUIRE_PROGRAM(name)                                              \
  G_STMT_START                                                                 \
  {                                                                            \
    gchar *vms_p_ = g_find_program_in_path (name);                             \
    fail_unless (vms_p_ != NULL,                                               \
                 "%s is not installed here: run tools/install-deps.sh", name); \
    g_free (vms_p_);                                                           \
  }                                                                            \
  G_STMT_END
