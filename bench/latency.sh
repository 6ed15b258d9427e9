#!/usr/bin/env bash
# Added latency of the vsock path: per frame, the receiver's CLOCK_REALTIME
# when vsocksrc pushed the frame minus the capture time vsocksink put on the
# wire (the frame's capture instant on the sender). Paced live sources, so
# this is what a desktop stream sees; p50/p99/max per transport, each beside
# the same figure for a plain write/read of the frame over the same socket
# type (the floor: both copies of a 3 MB frame take a millisecond or so).
#
#   bench/latency.sh [-n FRAMES] [-b BUILDDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=600
build="$root/build"
while getopts "n:b:" o; do
  case $o in
    n) n=$OPTARG ;;
    b) build=$(readlink -f "$OPTARG") ;;
    *) exit 2 ;;
  esac
done
[ -x "$build/bench/vms-bench" ] || { meson setup "$build" >/dev/null && meson compile -C "$build" >/dev/null; }
export GST_PLUGIN_PATH="$build/plugins" GST_REGISTRY="$build/bench-registry.bin"
bench="$build/bench/vms-bench"
tmp=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$((20000 + $$ % 20000))

# measure LABEL LISTEN CONNECT CAPS MODE: MODE "render" stamps each frame as
# it enters vsocksink (render -> push, the path alone); "capture" lets
# vsocksink derive the capture instant from the live source's timestamps
# (capture -> push, what a desktop frame sees, sender scheduling included).
measure() {
  local label=$1 listen=$2 connect=$3 caps=$4 mode=$5 out="$tmp/rx"
  # one drawn frame, re-sent live at the frame rate: no drawing time counted
  local src="videotestsrc pattern=ball num-buffers=1 ! $caps ! imagefreeze is-live=true num-buffers=$((n + 5))"
  : >"$out"
  "$bench" latency "$n" "vsocksrc uri=$listen ! fakesink name=sink sync=false" >"$out" &
  local t=$!
  for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
  if [ "$mode" = render ]; then
    "$bench" tx "$src ! vsocksink name=vsink uri=$connect" >/dev/null
  else
    gst-launch-1.0 -q $src ! vsocksink uri="$connect" >/dev/null
  fi
  wait $t
  printf "%-34s %s\n" "$label" "$(grep frames "$out")"
}

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ); $n frames each"
echo "goal: p99 <= 2000 us at 1080p60"
for c in "1920x1080@60" "1280x720@60" "1920x1080@30"; do
  wh=${c%@*}; fps=${c#*@}; w=${wh%x*}; h=${wh#*x}
  caps="video/x-raw,format=NV12,width=$w,height=$h,framerate=$fps/1"
  size=$((w * h * 3 / 2))
  u="unix://$tmp/l.sock"; tc="tcp://127.0.0.1:$port"
  printf "%-34s %s\n" "plain unix ${w}x${h}@${fps}" "$("$bench" rawlatency unix "$n" "$size" "$fps")"
  measure "render->push unix ${w}x${h}@${fps}" "$u" "$u" "$caps" render
  measure "capture->push unix ${w}x${h}@${fps}" "$u" "$u" "$caps" capture
  printf "%-34s %s\n" "plain tcp ${w}x${h}@${fps}" "$("$bench" rawlatency tcp "$n" "$size" "$fps")"
  measure "render->push tcp ${w}x${h}@${fps}" "$tc" "$tc" "$caps" render
  measure "capture->push tcp ${w}x${h}@${fps}" "$tc" "$tc" "$caps" capture
done
