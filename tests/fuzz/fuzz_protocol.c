/* libFuzzer target: a byte stream as a vsocksrc would read it from a
 * sender (HELLO, caps, then messages), through the same parsers. */
#include <gst/gst.h>
#include <string.h>

#include "vmsprotocol.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

/* Once, before any input: allocations made here are not per-input leaks.
 * Caps parsing needs the core types only, not the plugin registry. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_setenv ("GST_REGISTRY_DISABLE", "yes", TRUE);
  gst_init (NULL, NULL);
  return 0;
}

static void
parse_caps (const guint8 *data, gsize len)
{
  GError *err = NULL;
  GstCaps *caps = vms_caps_parse (data, len, &err);
  if (caps)
    gst_caps_unref (caps);
  g_clear_error (&err);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  VmsHello hello;
  VmsWelcome welcome;
  VmsBackHeader back;
  GError *err = NULL;
  gsize pos = 0;

  /* the other two fixed-size parsers on the raw input */
  vms_welcome_parse (data, size, &welcome, NULL);
  vms_back_header_parse (data, size, &back, NULL);

  if (!vms_hello_parse (data, size, &hello, &err)) {
    g_clear_error (&err);
    return 0;
  }
  pos = VMS_HELLO_SIZE;
  if (size - pos < hello.caps_len)
    return 0;
  parse_caps (data + pos, hello.caps_len);
  pos += hello.caps_len;

  while (size - pos >= VMS_HELLO_SIZE) {
    VmsMsgHeader hdr;

    if (vms_is_hello_magic (data + pos, size - pos)) {
      if (!vms_hello_parse (data + pos, size - pos, &hello, &err))
        break;
      pos += VMS_HELLO_SIZE;
      if (size - pos < hello.caps_len)
        break;
      parse_caps (data + pos, hello.caps_len);
      pos += hello.caps_len;
      continue;
    }
    if (!vms_msg_header_parse (data + pos, size - pos, VMS_DEFAULT_MAX_FRAME,
                               &hdr, &err))
      break;
    pos += VMS_MSG_HEADER_SIZE;
    if (size - pos < hdr.size)
      break;
    if (hdr.type == VMS_MSG_CAPS)
      parse_caps (data + pos, hdr.size);
    pos += hdr.size;
  }
  g_clear_error (&err);
  return 0;
}
