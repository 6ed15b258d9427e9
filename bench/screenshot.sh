#!/bin/bash
# Screenshot benchmark: how long an agent waits for a picture of the
# desktop, 1920x1080, ours and the peers side by side in one run.
#
#   bench/screenshot.sh [BUILD_DIR] [ROUNDS]
#
# 1. In-process, the same raw frame (bench/shot-bench): the session's path
#    (supervisor/snapshot.c) against gst_video_convert_sample(), PNG and
#    JPEG, interleaved.
# 2. End to end on a private 1920x1080 Xvfb showing an xterm: GET
#    /api/v1/sessions/{id}/screenshot of a running session (curl, through
#    the supervisor and the session process) against the one-shot peer an
#    agent would otherwise run, gst-launch-1.0 ximagesrc num-buffers=1 !
#    videoconvert ! pngenc ! filesink (a process per picture), interleaved.
# Prints milliseconds per picture (median) and the ratios.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
rounds=${2:-10}
work=$(mktemp -d /tmp/vmstream-shot.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export GST_PLUGIN_PATH_1_0="$build/plugins"
export GST_REGISTRY_1_0="$work/registry.bin"
export GST_DEBUG="${GST_DEBUG:-*:1}"
meson compile -C "$build" shot-bench supervisor/vmstream-supervisor \
  supervisor/vmstream-session >/dev/null

echo "== in-process, one 1920x1080 desktop-like frame"
"$build/bench/shot-bench" 1920 1080 "$rounds" I420
"$build/bench/shot-bench" 1920 1080 "$rounds" BGRx

echo "== end to end, a 1920x1080 Xvfb desktop"
num=$(for n in $(seq 120 160); do [ -e /tmp/.X11-unix/X$n ] || [ -e /tmp/.X$n-lock ] || { echo $n; break; }; done)
Xvfb ":$num" -screen 0 1920x1080x24 -nolisten tcp -noreset >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S /tmp/.X11-unix/X$num ] && break; sleep 0.05; done
DISPLAY=":$num" xterm -geometry 200x60+0+0 -e top >/dev/null 2>&1 &
pids+=($!)

mkdir -p "$work/templates" "$work/run"
cat >"$work/templates/x11.txt" <<'T'
ximagesrc display-name=${DISPLAY} use-damage=false ! video/x-raw,framerate=${FPS}/1
  ! videoconvert ! video/x-raw,format=I420
  ! vmstreamenc encoder=x264 encoder-settings="speed-preset=ultrafast" ! fakesink
T
HELIX_TEMPLATES_DIR="$work/templates" HELIX_RUNTIME_DIR="$work/run" \
  HELIX_DISPLAY=":$num" HELIX_TOKEN=bench \
  "$build/supervisor/vmstream-supervisor" --listen 127.0.0.1:0 >"$work/ready" 2>"$work/sup.log" &
pids+=($!)
for _ in $(seq 200); do grep -q READY "$work/ready" && break; sleep 0.05; done
port=$(awk '/READY/ {print $2}' "$work/ready")
api="http://127.0.0.1:$port/api/v1/sessions"
curl -sf -H "Authorization: Bearer bench" -H "Content-Type: application/json" \
  -d '{"template":"x11","width":1920,"height":1080,"fps":10,"id":"b"}' "$api" >/dev/null

ours=() peer=()
for i in $(seq 0 "$rounds"); do
  t=$(curl -sf -o "$work/ours.png" -w '%{time_total}' -H "Authorization: Bearer bench" \
    "$api/b/screenshot")
  t0=$(date +%s%N)
  DISPLAY=":$num" gst-launch-1.0 -q ximagesrc display-name=":$num" num-buffers=1 \
    use-damage=false ! videoconvert ! pngenc ! filesink location="$work/peer.png"
  t1=$(date +%s%N)
  if [ "$i" -gt 0 ]; then # round 0 warms up
    ours+=("$(awk -v t="$t" 'BEGIN {printf "%.1f", t * 1000}')")
    peer+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')")
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${ours[@]}")
mp=$(median "${peer[@]}")
echo "png 1920x1080, $rounds rounds, median ms per picture:"
echo "  GET .../screenshot (ours)              $mo ms ($(stat -c %s "$work/ours.png") bytes)"
echo "  gst-launch ximagesrc ! pngenc one-shot $mp ms ($(stat -c %s "$work/peer.png") bytes)"
awk -v a="$mo" -v b="$mp" 'BEGIN {printf "  ratio peer/ours %.2fx\n", b / a}'
t=$(curl -sf -o "$work/small.jpg" -w '%{time_total}' -H "Authorization: Bearer bench" \
  "$api/b/screenshot?format=jpeg&width=640")
awk -v t="$t" 'BEGIN {printf "  GET ...?format=jpeg&width=640 (ours)   %.1f ms\n", t * 1000}'
