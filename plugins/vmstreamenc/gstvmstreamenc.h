/* vmstreamenc: H.264 encoder bin that picks the best encoder present here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VMSTREAM_ENC (gst_vmstream_enc_get_type ())
G_DECLARE_FINAL_TYPE (GstVmstreamEnc, gst_vmstream_enc, GST, VMSTREAM_ENC,
                      GstBin)

/* Name of the element message posted on the bus when an encoder was chosen.
 * Fields: "encoder" (factory name), "alias" (table name or the factory name),
 * "requested" (the encoder property), "rejected" (string: why the candidates
 * tried before were skipped, "" when none were). */
#define GST_VMSTREAM_ENC_MESSAGE_SELECTED "vmstreamenc-selected"

GST_ELEMENT_REGISTER_DECLARE (vmstreamenc);

G_END_DECLS
