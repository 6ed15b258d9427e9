/* libFuzzer target: a byte stream as a vsocksrc would read it from a
 * sender (HELLO, caps, with version 2 an AUTH, then messages), through the
 * same parsers, and through the resync scanner a newcomer's bytes go
 * through first (the middle of an old stream, "VMS1" inside payloads), and
 * the same bytes as a back-channel as a vsocksink reads it (RESIZE). */
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

/* Version 2: the AUTH that answers the CHALLENGE. Returns the bytes it
 * took, or 0 when the stream ends or breaks there. */
static gsize
parse_auth (const VmsHello *hello, const guint8 *data, gsize len)
{
  static const guint8 nonce[VMS_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  VmsAuth auth;
  GError *err = NULL;

  if (hello->version < 2)
    return 0;
  if (!vms_auth_parse (data, len, &auth, &err)) {
    g_clear_error (&err);
    return 0;
  }
  vms_auth_verify (&auth, (const guint8 *)"fuzz-secret", 11, nonce);
  return VMS_AUTH_SIZE;
}

/* HELLO, caps and (version 2) AUTH at *pos, as the source reads them: the
 * caps are parsed only once AUTH came. FALSE when the stream ends or breaks
 * there. */
static gboolean
parse_handshake (const guint8 *data, gsize size, gsize *pos)
{
  VmsHello hello;
  GError *err = NULL;
  gsize caps_pos;

  if (!vms_hello_parse (data + *pos, size - *pos, &hello, &err)) {
    g_clear_error (&err);
    return FALSE;
  }
  caps_pos = *pos + VMS_HELLO_SIZE;
  if (size - caps_pos < hello.caps_len)
    return FALSE;
  *pos = caps_pos + hello.caps_len;
  if (hello.version >= 2) {
    gsize n = parse_auth (&hello, data + *pos, size - *pos);
    if (n == 0)
      return FALSE;
    *pos += n;
  }
  parse_caps (data + caps_pos, hello.caps_len);
  return TRUE;
}

/* The input as a back-channel, the way vsocksink reads it: headers and
 * payloads, a RESIZE's payload through its own parser. */
static void
parse_back_stream (const guint8 *data, gsize size)
{
  gsize pos = 0;

  while (size - pos >= VMS_BACK_HEADER_SIZE) {
    VmsBackHeader back;
    guint32 w, h;

    if (!vms_back_header_parse (data + pos, size - pos, &back, NULL))
      return;
    pos += VMS_BACK_HEADER_SIZE;
    if (size - pos < back.len)
      return;
    if (back.type == VMS_BACK_RESIZE) {
      g_assert (back.len == VMS_BACK_RESIZE_SIZE);
      if (vms_back_resize_parse (data + pos, back.len, &w, &h, NULL))
        g_assert (w >= 1 && w <= VMS_MAX_RESIZE_DIM && h >= 1
                  && h <= VMS_MAX_RESIZE_DIM);
    }
    pos += back.len;
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  VmsWelcome welcome;
  VmsChallenge challenge;
  GError *err = NULL;
  gsize pos = 0;

  /* the resync scanner: a receiver that starts in the middle of a stream
   * skips to the first plausible HELLO, never past the input, and a
   * candidate's caps bytes are checked without the caps parser */
  {
    gsize at = vms_hello_find (data, size);
    g_assert (at <= size);
    if (size - at >= VMS_HELLO_SIZE) {
      VmsHello hello;
      g_assert (vms_hello_plausible (data + at, size - at));
      g_assert (vms_hello_parse (data + at, size - at, &hello, NULL));
      if (size - at - VMS_HELLO_SIZE >= hello.caps_len)
        vms_hello_caps_plausible (data + at + VMS_HELLO_SIZE, hello.caps_len);
    } else if (at < size) {
      g_assert (data[at] == 'V');
    }
  }

  /* the other fixed-size parsers on the raw input */
  vms_welcome_parse (data, size, &welcome, NULL);
  vms_challenge_parse (data, size, &challenge, NULL);
  parse_back_stream (data, size);

  if (!parse_handshake (data, size, &pos))
    return 0;

  while (size - pos >= VMS_HELLO_SIZE) {
    VmsMsgHeader hdr;

    if (vms_is_hello_magic (data + pos, size - pos)) {
      if (!parse_handshake (data, size, &pos))
        break;
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
