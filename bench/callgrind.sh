#!/usr/bin/env bash
# Instructions per frame in the per-frame paths of vsocksink (render) and
# vsocksrc (create), counted by valgrind's callgrind: stable across noisy
# runs, so a regression shows as a changed number. User-space only (the
# kernel's socket copy is not counted: see transport.sh for throughput).
#
#   bench/callgrind.sh [-n FRAMES] [-b BUILDDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=200
build="$root/build"
while getopts "n:b:" o; do
  case $o in
    n) n=$OPTARG ;;
    b) build=$(readlink -f "$OPTARG") ;;
    *) exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
[ -x "$build/bench/vms-bench" ] || { meson setup "$build" >/dev/null && meson compile -C "$build" >/dev/null; }
export GST_PLUGIN_PATH="$build/plugins" GST_REGISTRY="$build/bench-registry.bin"
gst-inspect-1.0 vsocksrc >/dev/null
tmp=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$tmp"' EXIT
caps="video/x-raw,format=NV12,width=1920,height=1080,framerate=60/1"

inclusive() {  # callgrind file, function name -> inclusive Ir
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v f="$2" '($0 ~ f"[ (]" || $0 ~ f"$") && !done {gsub(",","",$1); print $1; done=1}'
}

# receiver under callgrind, sender plain
valgrind --tool=callgrind --callgrind-out-file="$tmp/rx.out" \
  "$build/bench/vms-bench" rx "$n" "vsocksrc uri=unix://$tmp/c.sock ! fakesink name=sink sync=false" \
  >"$tmp/rx.log" 2>&1 &
t=$!
for _ in $(seq 200); do grep -q ready "$tmp/rx.log" 2>/dev/null && break; sleep 0.1; done
gst-launch-1.0 -q videotestsrc num-buffers=1 ! "$caps" ! imagefreeze num-buffers=$((n + 20)) ! \
  vsocksink uri=unix://$tmp/c.sock max-send-wait=-1 >/dev/null
wait $t || true

# sender under callgrind, receiver plain
"$build/bench/vms-bench" rx "$n" "vsocksrc uri=unix://$tmp/d.sock ! fakesink name=sink sync=false" \
  >"$tmp/rx2.log" 2>&1 &
t=$!
for _ in $(seq 100); do grep -q ready "$tmp/rx2.log" 2>/dev/null && break; sleep 0.05; done
valgrind --tool=callgrind --callgrind-out-file="$tmp/tx.out" \
  gst-launch-1.0 -q videotestsrc num-buffers=1 ! "$caps" ! imagefreeze num-buffers=$n ! \
  vsocksink uri=unix://$tmp/d.sock max-send-wait=-1 >/dev/null 2>&1
wait $t || true

src_ir=$(inclusive "$tmp/rx.out" gst_vsock_src_create)
sink_ir=$(inclusive "$tmp/tx.out" gst_vsock_sink_render)
echo "1920x1080 NV12, $n frames, $(valgrind --version)"
awk -v s="$src_ir" -v k="$sink_ir" -v n="$n" 'BEGIN{
  printf "vsocksrc  create(): %8.0f instructions per frame\n", s/n
  printf "vsocksink render(): %8.0f instructions per frame\n", k/n }'
