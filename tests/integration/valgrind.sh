#!/usr/bin/env bash
# Both ends of the vsock path under valgrind memcheck: 30 frames from a
# vsocksink process to a vsocksrc process (which ends on the sender's EOS).
# Fails on any memcheck error or definite leak (GLib's one-time constructor
# allocation suppressed in tests/valgrind.supp).
set -euo pipefail
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
supp="$VMSTREAM_SOURCE_ROOT/tests/valgrind.supp"
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --error-exitcode=1 --suppressions="$supp")
# build the registry outside valgrind first (scanning is slow under it)
gst-inspect-1.0 vsocksrc >/dev/null

"${vg[@]}" --log-file="$tmp/rx.log" gst-launch-1.0 -q \
  vsocksrc uri="unix://$tmp/g.sock" forward-eos=true ! fakesink &
rx=$!
for _ in $(seq 300); do [ -S "$tmp/g.sock" ] && break; sleep 0.1; done
[ -S "$tmp/g.sock" ] || { echo "receiver did not start"; cat "$tmp/rx.log"; exit 1; }
status=0
"${vg[@]}" --log-file="$tmp/tx.log" gst-launch-1.0 -q videotestsrc num-buffers=30 ! \
  video/x-raw,format=NV12,width=320,height=240 ! vsocksink uri="unix://$tmp/g.sock" || status=1
wait $rx || status=1
for side in tx rx; do
  echo "== $side: $(grep -E 'ERROR SUMMARY|definitely lost' "$tmp/$side.log" | tr '\n' ' ')"
done
[ $status = 0 ] || cat "$tmp/tx.log" "$tmp/rx.log"
exit $status
