/* libFuzzer target: a request body of the supervisor's HTTP API, through
 * the function api.c parses it with (vms_api_body_parse: the strict JSON
 * tokenizer and depth guard of common/vmsnest, then json-glib), then the
 * input contract (common/vmsinput.h, POST /api/v1/sessions/{id}/input) and the
 * serialisation that passes events on to the session process.
 *
 * Each input runs on a thread with a 128 KiB stack: json-glib recurses once
 * per nesting level, and a body the guard lets through must parse within a
 * small thread's stack, not only within the main thread's 8 MiB (where a
 * few thousand levels would pass unnoticed). Bodies are taken up to the
 * API's limit, VMS_API_MAX_BODY (libFuzzer's -max_len bounds them further). */
#include <string.h>

#include "apibody.h"
#include "smallstack.h"
#include "vmsinput.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

typedef struct {
  const gchar *data;
  gsize len;
} Body;

static void
parse_on_small_stack (gpointer user_data)
{
  Body *body = user_data;
  GError *err = NULL;
  JsonNode *root = vms_api_body_parse (body->data, body->len, &err);
  GArray *events;

  if (root == NULL) {
    g_assert (err != NULL && err->message != NULL);
    g_error_free (err);
    return;
  }
  g_assert (err == NULL);
  json_node_unref (root);
  /* POST .../input: the input contract on the raw body, then the line
   * sessions.c writes to the session's stdin */
  events = vms_input_line_parse (body->data, (gssize)body->len, &err);
  if (events == NULL) {
    g_assert (err != NULL);
    g_clear_error (&err);
  } else {
    gchar *line = vms_input_line_build ((const VmsInputEvent *)events->data,
                                        events->len);
    g_assert (events->len >= 1 && events->len <= VMS_INPUT_MAX_EVENTS);
    g_assert (line != NULL && strchr (line, '\n') == NULL);
    g_free (line);
    g_array_unref (events);
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  Body body;
  gchar *copy;

  if (size > VMS_API_MAX_BODY)
    return 0;
  /* An exact-size heap copy (not NUL-terminated, as libsoup hands the
   * body), so ASan sees any read past its end. */
  copy = g_malloc (size ? size : 1);
  memcpy (copy, data, size);
  body.data = copy;
  body.len = size;
  vms_fuzz_on_small_stack (parse_on_small_stack, &body);
  g_free (copy);
  return 0;
}
