/* libFuzzer target: a request body of the supervisor's HTTP API, through
 * the function api.c parses it with (vms_api_body_parse: the strict JSON
 * tokenizer and depth guard of common/vmsnest, then json-glib), then the
 * input contract's validation (POST /api/v1/sessions/{id}/input) and the
 * serialisation that passes events on to the session process.
 *
 * Each input runs on a thread with a 128 KiB stack: json-glib recurses once
 * per nesting level, and a body the guard lets through must parse within a
 * small thread's stack, not only within the main thread's 8 MiB (where a
 * few thousand levels would pass unnoticed). Bodies are taken up to the
 * API's limit, VMS_API_MAX_BODY (libFuzzer's -max_len bounds them further). */
#include <pthread.h>
#include <string.h>

#include "apibody.h"
#include "inputjson.h"

#define STACK_SIZE (128 * 1024)

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

static void *
parse_on_small_stack (void *user_data)
{
  Body *body = user_data;
  GError *err = NULL;
  JsonNode *root = vms_api_body_parse (body->data, body->len, &err);
  gint n;

  if (root == NULL) {
    g_assert (err != NULL && err->message != NULL);
    g_error_free (err);
    return NULL;
  }
  g_assert (err == NULL);
  n = vms_input_validate (root, &err);
  if (n < 0) {
    g_assert (err != NULL);
    g_clear_error (&err);
  } else {
    /* what sessions.c writes to the session's stdin: one line */
    gchar *line = json_to_string (root, FALSE);
    g_assert (n >= 1 && n <= 1024);
    g_assert (line != NULL && strchr (line, '\n') == NULL);
    g_free (line);
  }
  json_node_unref (root);
  return NULL;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  pthread_attr_t attr;
  pthread_t thread;
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
  g_assert (pthread_attr_init (&attr) == 0);
  g_assert (pthread_attr_setstacksize (&attr, STACK_SIZE) == 0);
  g_assert (pthread_create (&thread, &attr, parse_on_small_stack, &body) == 0);
  g_assert (pthread_join (thread, NULL) == 0);
  pthread_attr_destroy (&attr);
  g_free (copy);
  return 0;
}
