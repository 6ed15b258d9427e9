/* libFuzzer target: the shared nesting guard (common/vmsnest.c) in front of
 * the parsers it protects, json-glib and GStreamer's caps and structure
 * parser, which run on a 128 KiB stack: an input the guard lets through
 * that makes a parser recurse too deep crashes here.
 *
 * The first byte picks the grammar: 'j' JSON, 'c' caps, 's' structure
 * (anything else: all three). The dictionary (nest.dict) holds the
 * grammars' own extensions: quoted typed values, octal escapes,
 * single-quoted strings and comments.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "smallstack.h"
#include "vmsnest.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* the limits the project uses: API bodies, caps from a guest */
#define JSON_DEPTH 32
#define CAPS_DEPTH 16

typedef struct {
  gchar mode;
  gchar *text;
  gsize len;
} Input;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_setenv ("GST_REGISTRY_DISABLE", "yes", TRUE);
  gst_init (NULL, NULL);
  return 0;
}

static void
parse_json (Input *in)
{
  JsonParser *p;

  if (!vms_json_nesting_check (in->text, in->len, JSON_DEPTH, NULL))
    return;
  p = json_parser_new_immutable ();
  json_parser_load_from_data (p, in->text, (gssize)in->len, NULL);
  g_object_unref (p);
}

static void
parse_caps (Input *in)
{
  GstCaps *caps;
  GstStructure *s;

  if (memchr (in->text, '\0', in->len)
      || !vms_caps_nesting_check (in->text, in->len, CAPS_DEPTH, NULL))
    return;
  if (in->mode != 's') {
    caps = gst_caps_from_string (in->text);
    if (caps)
      gst_caps_unref (caps);
  }
  if (in->mode != 'c') {
    s = gst_structure_from_string (in->text, NULL);
    if (s)
      gst_structure_free (s);
  }
}

static void
run (gpointer data)
{
  Input *in = data;

  if (in->mode != 'c' && in->mode != 's')
    parse_json (in);
  if (in->mode != 'j')
    parse_caps (in);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  Input in;

  if (size < 1 || size > 65536)
    return 0;
  in.mode = (gchar)data[0];
  in.len = size - 1;
  in.text = g_strndup ((const gchar *)data + 1, in.len);
  vms_fuzz_on_small_stack (run, &in);
  g_free (in.text);
  return 0;
}
