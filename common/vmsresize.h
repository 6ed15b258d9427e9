/* vmstream common: the name of a resize on a GStreamer bus or pad.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Header only, no other include: the plugins (vsocksrc, vsocksink,
 * wsh264sink) and the session process (vmssession.h) share it. */
#pragma once

/* An element message of this name with int fields "width" and "height":
 * wsh264sink posts it for a player's resize (the session process acts on
 * it); vsocksink posts it when its host sent RESIZE (docs/protocol.md). */
#define VMS_RESIZE_MESSAGE "vmstream-resize"
/* The custom upstream event (GST_EVENT_CUSTOM_UPSTREAM) of the same name
 * and fields: vsocksrc sends its sender RESIZE for it. */
#define VMS_RESIZE_EVENT VMS_RESIZE_MESSAGE
