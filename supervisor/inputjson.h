/* vmstream: the input contract's JSON events (browser, HTTP API, session) */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Checks that @node is one input event object or an array of them, per the
 * input contract (docs/operations.md). Returns the number of events, or -1
 * with @error set to a sentence saying what is wrong. */
gint vms_input_validate (JsonNode *node, GError **error);

G_END_DECLS
