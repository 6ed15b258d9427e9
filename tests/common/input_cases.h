/* The input contract's verdicts (common/vmsinput.h), one table for every
 * entry: a browser's WebSocket message, an API body, a session's stdin
 * line. TRUE: accepted; FALSE: refused.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

typedef struct {
  const gchar *json;
  gboolean ok;
} VmsInputCase;

static const VmsInputCase vms_input_cases[] = {
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}", TRUE },
  { "{\"type\":\"key\",\"action\":\"up\",\"code\":\"Enter\"}", TRUE },
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"ShiftLeft\","
    "\"extra\":[1,2]}",
    TRUE },
  { "{\"type\":\"pointer\",\"action\":\"move\",\"x\":10,\"y\":20}", TRUE },
  { "{\"type\":\"pointer\",\"action\":\"move\",\"x\":10.5,\"y\":20,"
    "\"button\":31}",
    TRUE }, /* move ignores the button */
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,\"button\":0}",
    TRUE },
  { "{\"type\":\"pointer\",\"action\":\"up\",\"x\":1,\"y\":2,\"button\":4}",
    TRUE },
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":-5,\"y\":1e6,"
    "\"button\":2}",
    TRUE }, /* clamped */
  { "{\"type\":\"wheel\",\"x\":5,\"y\":6,\"dx\":0,\"dy\":-120.5}", TRUE },
  { "{\"type\":\"wheel\",\"x\":5,\"y\":6,\"dx\":1e12,\"dy\":0}", TRUE },

  /* buttons: DOM MouseEvent.button 0..4 only */
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,\"button\":5}",
    FALSE },
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,\"button\":31}",
    FALSE },
  { "{\"type\":\"pointer\",\"action\":\"up\",\"x\":1,\"y\":2,\"button\":-1}",
    FALSE },
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,"
    "\"button\":1.5}",
    FALSE },
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2,"
    "\"button\":1e9}",
    FALSE },
  { "{\"type\":\"pointer\",\"action\":\"down\",\"x\":1,\"y\":2}", FALSE },
  /* keys: codes of the keymap only */
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"Banana\"}", FALSE },
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"Return\"}", FALSE },
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"\"}", FALSE },
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"\\u00e9\\ud83\"}",
    FALSE },
  { "{\"type\":\"key\",\"action\":\"press\",\"code\":\"KeyA\"}", FALSE },
  { "{\"type\":\"key\",\"code\":\"KeyA\"}", FALSE },
  /* numbers: finite, present */
  { "{\"type\":\"pointer\",\"action\":\"move\",\"x\":\"1\",\"y\":2}", FALSE },
  { "{\"type\":\"pointer\",\"action\":\"move\",\"x\":1e999,\"y\":2}", FALSE },
  { "{\"type\":\"wheel\",\"x\":1,\"y\":2,\"dx\":0}", FALSE },
  { "{\"type\":\"wheel\",\"x\":1,\"y\":2,\"dy\":\"up\",\"dx\":0}", FALSE },
  { "{\"type\":\"wheel\",\"x\":1,\"y\":2,\"dx\":-1e999,\"dy\":0}", FALSE },
  /* shape */
  { "{\"type\":\"gamepad\"}", FALSE },
  { "{\"type\":[\"key\"]}", FALSE },
  { "42", FALSE },
  { "null", FALSE },
  { "{", FALSE },
  /* strict JSON: none of json-glib's extensions */
  { "{'type':'key','action':'down','code':'KeyA'}", FALSE },
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"} // c", FALSE },
  { "/* c */{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\"}", FALSE },
  /* nesting: at most 4 levels */
  { "{\"type\":\"key\",\"action\":\"down\",\"code\":\"KeyA\","
    "\"x\":[[[[1]]]]}",
    FALSE },
};
