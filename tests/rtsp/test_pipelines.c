/* Parses one template pipelines/NAME.txt after tools/vmstream-expand
 * substituted its variables, with gst_parse_launch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-pipelines FILE         exit 0 parsed, 1 broken, 77 skipped because
 *                               an element is not built/installed yet
 *   test-pipelines --listed DIR FILE...   exit 1 if DIR has a *.txt that is
 *                               not among FILE... (so no template goes
 *                               untested)
 */
#include <gst/gst.h>
#include <string.h>

#define SKIP 77

static int
check_listed (int argc, char **argv)
{
  GDir *dir = g_dir_open (argv[2], 0, NULL);
  const gchar *name;
  int ret = 0;

  if (!dir) {
    g_printerr ("cannot open %s\n", argv[2]);
    return 1;
  }
  while ((name = g_dir_read_name (dir))) {
    gboolean found = FALSE;
    if (!g_str_has_suffix (name, ".txt"))
      continue;
    for (int i = 3; i < argc; i++)
      found |= strcmp (name, argv[i]) == 0;
    if (!found) {
      g_printerr ("pipelines/%s is not parsed by any test: add it to "
                  "tests/rtsp/meson.build\n",
                  name);
      ret = 1;
    }
  }
  g_dir_close (dir);
  return ret;
}

int
main (int argc, char **argv)
{
  const gchar *root = g_getenv ("VMSTREAM_SOURCE_ROOT");
  gchar *tool, *out = NULL, *errout = NULL;
  gint status = 0;
  GError *err = NULL;
  GstParseContext *ctx;
  GstElement *pipeline;
  gchar **missing;

  gst_init (&argc, &argv);
  if (argc >= 3 && strcmp (argv[1], "--listed") == 0)
    return check_listed (argc, argv);
  if (argc != 2 || !root) {
    g_printerr ("usage: test-pipelines FILE (with VMSTREAM_SOURCE_ROOT set)\n");
    return 1;
  }

  /* Guest templates need HOST_URI; never a vsock CID here. */
  tool = g_build_filename (root, "tools", "vmstream-expand", NULL);
  {
    const gchar *args[]
        = { tool,
            "--raw",
            "--no-env",
            argv[1],
            "HOST_URI=unix:///nonexistent/vmstream-parse-test.sock",
            "PIPEWIRE_SOURCE_ARGS=",
            NULL };
    /* the expander runs as its own program (VMSTREAM_EXPAND: this build's
     * tools/vmstream-expand); a preloaded sanitizer runtime stays out */
    gchar **envp = g_environ_unsetenv (g_get_environ (), "LD_PRELOAD");
    gboolean ok = g_spawn_sync (NULL, (gchar **)args, envp, G_SPAWN_SEARCH_PATH,
                                NULL, NULL, &out, &errout, &status, &err);

    g_strfreev (envp);
    if (!ok) {
      g_printerr ("cannot run %s: %s\n", tool, err->message);
      return 1;
    }
  }
  g_free (tool);
  if (!g_spawn_check_wait_status (status, NULL)) {
    g_printerr ("vmstream-expand failed on %s: %s\n", argv[1], errout);
    return 1;
  }
  g_strstrip (out);
  g_print ("%s\n", out);

  ctx = gst_parse_context_new ();
  pipeline = gst_parse_launch_full (out, ctx, GST_PARSE_FLAG_NONE, &err);
  missing = gst_parse_context_get_missing_elements (ctx);
  if (missing && missing[0]) {
    gchar *list = g_strjoinv (", ", missing);
    g_print ("SKIP: %s needs elements not present in this build/host: %s\n",
             argv[1], list);
    g_free (list);
    status = SKIP;
  } else if (err || !pipeline) {
    g_printerr ("FAIL: %s does not parse: %s\n", argv[1],
                err ? err->message : "no pipeline");
    status = 1;
  } else {
    g_print ("ok: %s parses\n", argv[1]);
    status = 0;
  }
  g_strfreev (missing);
  g_clear_error (&err);
  if (pipeline)
    gst_object_unref (pipeline);
  gst_parse_context_free (ctx);
  g_free (out);
  g_free (errout);
  return status;
}
