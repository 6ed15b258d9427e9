#!/bin/sh
# gst-plugin-scanner for AddressSanitizer builds. GStreamer scans plugins in
# a child process; our ASan-built plugins load there only with the ASan
# runtime preloaded (else they are blacklisted). Leak checking is off in the
# scanner: it loads every system plugin, which is not what the tests check.
# Usage (set by meson): GST_PLUGIN_SCANNER_1_0=<this script>, argv passed on.
LD_PRELOAD="$VMSTREAM_ASAN_PRELOAD" \
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  exec "$VMSTREAM_REAL_PLUGIN_SCANNER" "$@"
