#!/bin/bash
# Fan-out benchmark for wsh264sink: 1, 5 and 20 WebSocket clients reading
# a 1080p H.264 stream at about 8 Mbit/s, each count with and without one
# deliberately stalled client among them. Reports the CPU and memory of
# the pipeline process and the frame rate the readers see, side by side
# with GStreamer's own fan-out element, tcpserversink (multisocketsink),
# serving the same stream to the same number of raw TCP readers.
#
#   bench/fanout.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default: build) must contain the built wsh264sink plugin.
# SECONDS (default 8) is the measured window per run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
secs=${2:-8}
work=$(mktemp -d /tmp/vmstream-fanout.XXXXXX)
gst_pid=
cleanup() {
  if [ -n "$gst_pid" ] && kill -0 "$gst_pid" 2>/dev/null; then
    kill "$gst_pid" 2>/dev/null || true
    wait "$gst_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export GST_PLUGIN_PATH_1_0="$build/plugins"
export GST_REGISTRY_1_0="$work/registry.bin"
export GST_DEBUG="${GST_DEBUG:-*:1}"
hz=$(getconf CLK_TCK)

meson compile -C "$build" tests/supervisor/vms-wsclient >/dev/null

# One clip long enough for a run: connecting, warm-up, window, margin.
frames=$(( (secs + 8) * 30 ))
echo "encoding a ${frames}-frame 1080p clip at 8 Mbit/s..."
gst-launch-1.0 -q videotestsrc num-buffers=$frames pattern=snow ! \
  video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! \
  x264enc bitrate=8000 tune=zerolatency speed-preset=superfast key-int-max=60 \
    vbv-buf-capacity=1000 ! \
  h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! \
  filesink location="$work/clip.h264"
clip_mbps=$(python3 -c "import os;print(round(os.path.getsize('$work/clip.h264')*8/($frames/30)/1e6,2))")
echo "clip: $clip_mbps Mbit/s"

free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

rss_kib() {
  awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}

# run SINK N STALLED -> sets cpu_pct, rss, fps_mean, fps_min, mbps
run() {
  local sink=$1 n=$2 stalled=$3 port url log t0 t1 c0 c1 out
  log="$work/gst.log"
  local src="filesrc location=$work/clip.h264 ! video/x-h264,framerate=30/1 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! clocksync"
  if [ "$sink" = ws ]; then
    # DEBUG level of wsh264sink logs each slow-client recovery (not frames).
    GST_DEBUG="*:1,wsh264sink:5" GST_DEBUG_NO_COLOR=1 \
      gst-launch-1.0 -m $src ! wsh264sink port=0 max-clients=100 >"$log" 2>&1 &
    gst_pid=$!
    for _ in $(seq 100); do
      port=$(sed -n 's/.*wsh264sink-listening, port=(uint)\([0-9]*\).*/\1/p' "$log" | head -1)
      [ -n "$port" ] && break
      sleep 0.05
    done
    url="ws://127.0.0.1:$port/stream/bench"
  else
    port=$(free_port)
    # Same semantics as wsh264sink's defaults: start at a keyframe, skip to
    # the next keyframe after falling 1 s (30 buffers) behind.
    gst-launch-1.0 $src ! tcpserversink host=127.0.0.1 port="$port" \
      sync-method=next-keyframe recover-policy=keyframe unit-format=buffers \
      units-soft-max=30 sync=false >"$log" 2>&1 &
    gst_pid=$!
    for _ in $(seq 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.05
    done
    url="tcp://127.0.0.1:$port"
  fi
  [ -n "$port" ] || { echo "no port"; cat "$log"; exit 1; }
  c0=$(cpu_ticks $gst_pid)
  t0=$(date +%s.%N)
  out=$("$build/tests/supervisor/vms-wsclient" --clients "$n" --stalled "$stalled" \
    --seconds "$secs" --warmup 1 "$url")
  c1=$(cpu_ticks $gst_pid)
  t1=$(date +%s.%N)
  rss=$(( $(rss_kib $gst_pid) / 1024 ))
  kill $gst_pid 2>/dev/null || true
  wait $gst_pid 2>/dev/null || true
  gst_pid=
  recoveries=$(grep -c "skipping to the next keyframe" "$log" || true)
  cpu_pct=$(python3 -c "print(round(($c1-$c0)/$hz/($t1-$t0)*100,1))")
  fps_mean=$(sed -n 's/.*mean_fps=\([0-9.]*\).*/\1/p' <<<"$out")
  fps_min=$(sed -n 's/.*min_fps=\([0-9.]*\).*/\1/p' <<<"$out")
  mbps=$(sed -n 's/.*mean_mbps=\([0-9.]*\).*/\1/p' <<<"$out")
}

printf '%-8s %-8s | %-31s | %-23s | %s\n' clients stalled \
  "wsh264sink cpu%  rss  fps(min)" "tcpserversink cpu%  rss" "cpu ratio ws/tcp"
for n in 1 5 20; do
  for stalled in 0 1; do
    [ "$n" = 1 ] && [ "$stalled" = 1 ] && continue
    run ws $n $stalled
    ws_cpu=$cpu_pct ws_rss=$rss ws_fps=$fps_mean ws_min=$fps_min ws_mbps=$mbps
    ws_recov=$recoveries
    run tcp $n $stalled
    tcp_cpu=$cpu_pct tcp_rss=$rss tcp_mbps=$mbps
    ratio=$(python3 -c "print(round($ws_cpu/max($tcp_cpu,0.1),2))")
    printf '%-8s %-8s | %5s%%  %4s MiB  %5s (%5s) | %5s%%  %4s MiB        | %s\n' \
      $n $stalled "$ws_cpu" "$ws_rss" "$ws_fps" "$ws_min" "$tcp_cpu" "$tcp_rss" "$ratio"
    echo "         readers: ws $ws_mbps Mbit/s each, tcp $tcp_mbps Mbit/s each;" \
      "wsh264sink skipped a lagging client to a keyframe $ws_recov times"
  done
done
