/* vmstream-supervisor: the API's request bodies (JSON), as one function the
 * API and its fuzz target (tests/fuzz/fuzz_apibody.c) share. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Largest request body: refused from the headers (Content-Length) or as a
 * chunked body passes it, before it is read (api.c). */
#define VMS_API_MAX_BODY (1024 * 1024)

/* json-glib's parser recurses once per nesting level; our schemas nest two
 * levels: allow a few more. */
#define VMS_API_MAX_JSON_DEPTH 32

/* Parses @len bytes of @data (not NUL-terminated) as one JSON value: the
 * strict tokenizer and depth guard of common/vmsnest first (json-glib also
 * reads single-quoted strings and comments, in which a guard that knew
 * only '"' saw no brackets), then json-glib. NULL with @error set to a
 * sentence for the client when the body is not one JSON value. */
JsonNode *vms_api_body_parse (const gchar *data, gsize len, GError **error);

G_END_DECLS
