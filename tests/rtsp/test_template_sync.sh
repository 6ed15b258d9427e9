#!/bin/sh
# host-qemu-display.txt shares host-native.txt's pipeline after the source
# (queue, vmstreamenc, tee, both sinks) and the defaults of the variables
# that part uses: fail when one changes without the other.
set -eu
SRC=${VMSTREAM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
a="$SRC/pipelines/host-native.txt"
b="$SRC/pipelines/host-qemu-display.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the lines after the first pipeline line (the source element)
after_source () { sed -n '/^[a-z]/,$p' "$1" | tail -n +2; }
defaults () {
  grep -E '^#:(SESSION_ID|ENCODER|BITRATE|KEY_INT_MAX|ENCODER_SETTINGS|WS_ADDRESS|WS_PORT|WS_SOCKET|WS_TOKEN|RTSP_ADDRESS|RTSP_PORT)=' "$1" || true
}
after_source "$a" >"$tmp/a"
after_source "$b" >"$tmp/b"
defaults "$a" >>"$tmp/a"
defaults "$b" >>"$tmp/b"
if ! diff -u "$tmp/a" "$tmp/b"; then
  echo "not ok - host-qemu-display.txt and host-native.txt differ after the source element (or in the sink variables' defaults): keep them in sync"
  exit 1
fi
echo "ok - host-qemu-display.txt is in sync with host-native.txt"
