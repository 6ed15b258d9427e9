/* Shim for tools/check-macos: GStreamer's macOS installs have this header
 * (gst/gst.h includes it on __APPLE__); its declarations are all the
 * syntax check needs. */
#pragma once
#include <gst/gstconfig.h>
#include <glib.h>
G_BEGIN_DECLS
typedef int (*GstMainFunc) (int argc, char **argv, gpointer user_data);
typedef int (*GstMainFuncSimple) (gpointer user_data);
GST_API int gst_macos_main (GstMainFunc main_func, int argc, char **argv,
                            gpointer user_data);
GST_API int gst_macos_main_simple (GstMainFuncSimple main_func,
                                   gpointer user_data);
G_END_DECLS
