/* Helpers shared by the integration tests (GstCheck). */
#pragma once

#include <gst/check/gstcheck.h>
#include <stdlib.h>

/* A scratch folder per test for socket paths. */
static gchar *tmpdir;

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("vmsint-XXXXXX", NULL);
}

static void
teardown (void)
{
  gchar *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
  fail_unless (system (cmd) == 0);
  g_free (cmd);
  g_clear_pointer (&tmpdir, g_free);
}

/* One counter of an element's "stats" structure. */
static guint64
stat_u64 (GstElement *e, const gchar *field)
{
  GstStructure *s;
  guint64 v = 0;

  g_object_get (e, "stats", &s, NULL);
  fail_unless (gst_structure_get_uint64 (s, field, &v));
  gst_structure_free (s);
  return v;
}
