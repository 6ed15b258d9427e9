/* libFuzzer target: bytes as qemudisplaysrc would read them from a VNC
 * server, through the RFB client state machine (rfbproto.c), split into
 * reads the way the element reads them: the first input byte picks the
 * read size, whatever the client leaves unconsumed is offered again with
 * the next read. The framebuffer limit is 512x512 here (the element's is
 * 8192x8192) so that each input allocates at most 1 MiB. */
#include <glib.h>
#include <string.h>

#include "rfbproto.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  RfbClient c;
  GByteArray *in;
  gsize step, pos = 1;

  if (size < 1)
    return 0;
  step = data[0] == 0 ? size : data[0];
  rfb_client_init (&c, 512, 512);
  in = g_byte_array_new ();
  while (pos < size) {
    gsize n = MIN (step, size - pos), consumed;
    GError *err = NULL;
    gboolean ok;

    g_byte_array_append (in, data + pos, n);
    pos += n;
    ok = rfb_client_feed (&c, in->data, in->len, &consumed, &err);
    g_assert (consumed <= in->len);
    g_byte_array_remove_range (in, 0, consumed);
    /* the element sends and forgets what the client queued */
    g_byte_array_set_size (c.out, 0);
    if (c.fb)
      g_assert (c.width >= 1 && c.width <= 512 && c.height >= 1
                && c.height <= 512);
    if (!ok) {
      g_assert (err != NULL && c.state == RFB_STATE_FAILED);
      g_error_free (err);
      break;
    }
    g_assert (err == NULL);
  }
  g_byte_array_unref (in);
  rfb_client_clear (&c);
  return 0;
}
