#!/usr/bin/env bash
# End-to-end latency: a desktop-like live source (videotestsrc is-live=true,
# a ball sweeping over a flat background plus a running clock, BGRx like a
# desktop grab) -> vsocksink uri=unix://... (sender process) -> vsocksrc ->
# videoconvert -> H.264 encoder -> h264parse -> wsh264sink port=0 (receiver
# process) -> headless Chromium showing the player page. Per frame: from
# the capture_time in the frame header (the sender's capture instant) to
# the decoded VideoFrame in the page (bench/e2e-latency.mjs). p50/p99 at
# 720p30 and 1080p30 for x264enc and openh264enc.
#
# Peer: the same source feeding the encoder in one process, no vsock hop
# (bench/e2e-launch --stamp attaches the capture time vsocksrc would), so
# the ratio vsock/direct shows the share of the vsock path.
#
# videotestsrc stamps frames from a frame counter, so if whatever follows it
# is slower than 30 fps it falls ever further behind and that shows up as
# seconds of "latency". A desktop grab stamps a frame when it takes it and
# a slow consumer costs frames, not time; a leaky one-frame queue after the
# source gives both paths that behaviour (frames lost to it show as fps
# below 30 in the split lines).
#
#   bench/e2e-latency.sh [BUILD_DIR] [FRAMES]
#
# BUILD_DIR (default: build) holds the built plugins; FRAMES (default 300,
# 10 s) are measured per run after 60 warm-up frames. Needs chromium, node
# and tests/browser/node_modules (npm ci there). ENCODERS="x264 openh264"
# (also: x264-ultrafast) and SIZES="1280x720 1920x1080" select runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
frames=${2:-300}
warmup=60
encoders=${ENCODERS:-x264 openh264}
sizes=${SIZES:-1280x720 1920x1080}
goal_ms=50
work=$(mktemp -d /tmp/vmstream-e2e.XXXXXX)
pids=()
node_pid=

stop_all() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}
cleanup() {
  if [ -n "$node_pid" ]; then
    # playwright closes its Chromium on SIGTERM
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "needs ${CHROMIUM:-/usr/bin/chromium}"; exit 1; }
[ -d "$here/../tests/browser/node_modules/playwright-core" ] ||
  { echo "needs tests/browser/node_modules (cd tests/browser && npm ci)"; exit 1; }

export GST_PLUGIN_PATH_1_0="$build/plugins"
export GST_REGISTRY_1_0="$work/registry.bin"
export GST_DEBUG="${GST_DEBUG:-*:1}"

meson compile -C "$build" bench/e2e-launch >/dev/null
gst-inspect-1.0 wsh264sink >/dev/null  # builds the registry once

# Starts e2e-launch in the background; with a wsh264sink in the pipeline,
# waits for its port and stores it in $port.
launch() {
  local log=$1 wait_port=$2
  shift 2
  "$build/bench/e2e-launch" "$@" >"$log.out" 2>"$log.err" &
  pids+=($!)
  [ "$wait_port" = yes ] || return 0
  port=
  for _ in $(seq 200); do
    port=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$log.out")
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "pipeline did not start:"; cat "$log.err"; exit 1
}

hz=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of the running pipeline processes
  local p t=0
  for p in "${pids[@]}"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo $t
}

encoder() {
  case $1 in
    # the settings vmstreamenc uses for each (plugins/vmstreamenc)
    x264) echo "x264enc tune=zerolatency speed-preset=superfast bframes=0 b-adapt=false rc-lookahead=0 bitrate=4000 key-int-max=60" ;;
    x264-ultrafast) echo "x264enc tune=zerolatency speed-preset=ultrafast bframes=0 b-adapt=false rc-lookahead=0 bitrate=4000 key-int-max=60" ;;
    openh264) echo "openh264enc rate-control=bitrate usage-type=screen complexity=low bitrate=4000000 gop-size=60" ;;
  esac
}

# run ENC WxH PATH -> JSON line in $work/result
run() {
  local enc=$1 w=${2%x*} h=${2#*x} path=$3
  local src="videotestsrc is-live=true pattern=ball motion=sweep background-color=0xff2b4a6f foreground-color=0xffe8e8e8 ! video/x-raw,format=BGRx,width=$w,height=$h,framerate=30/1 ! timeoverlay font-desc=\"Sans 24\" halignment=right valignment=top ! queue leaky=downstream max-size-buffers=1 max-size-bytes=0 max-size-time=0"
  local tail="videoconvert ! video/x-raw,format=I420 ! $(encoder "$enc") ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! wsh264sink port=0"
  rm -f "$work/v.sock"
  if [ "$path" = vsock ]; then
    launch "$work/rx" yes "vsocksrc uri=unix://$work/v.sock ! $tail"
    launch "$work/tx" no "$src ! vsocksink uri=unix://$work/v.sock"
  else
    launch "$work/rx" yes --stamp stamp "$src ! identity name=stamp ! $tail"
  fi
  local c0 t0 c1 t1
  c0=$(cpu_ticks); t0=$(date +%s.%N)
  # in the background so a signal to this script is handled at once
  node "$here/e2e-latency.mjs" "$port" "$frames" "$warmup" >"$work/result" 2>"$work/node.err" &
  node_pid=$!
  if ! wait $node_pid; then
    node_pid=
    echo "browser run failed ($enc $2 $path):"; tail -n 20 "$work/node.err"; tail -n 5 "$work"/*.err
    exit 1
  fi
  node_pid=
  c1=$(cpu_ticks); t1=$(date +%s.%N)
  # CPU of the pipeline process(es), % of one core, during the browser run
  cpu=$(python3 -c "print(round(($c1-$c0)/$hz/($t1-$t0)*100))")
  python3 -c "import json,sys;r=json.load(open(sys.argv[1]));r['cpu']=int(sys.argv[2]);json.dump(r,open(sys.argv[1],'w'))" "$work/result" "$cpu"
  stop_all
}

field() { # field JSON-FILE EXPR
  python3 -c "import json,sys;r=json.load(open(sys.argv[1]));print(eval(sys.argv[2]))" "$1" "$2"
}

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$frames frames per run after $warmup warm-up; capture_time -> decoded VideoFrame in headless Chromium $(${CHROMIUM:-/usr/bin/chromium} --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)"
echo
printf "%-10s %-14s | %-24s | %-24s | %-11s | %s\n" "size" "encoder" "vsock path p50 / p99 ms" "direct p50 / p99 ms" "p50 ratio" "goal p50 < $goal_ms ms"
declare -A res
for size in $sizes; do
  for enc in $encoders; do
    for path in vsock direct; do
      run "$enc" "$size" "$path"
      cp "$work/result" "$work/$enc-$size-$path.json"
    done
    v="$work/$enc-$size-vsock.json"
    d="$work/$enc-$size-direct.json"
    vp50=$(field "$v" "round(r['capture_to_decoded']['p50'],1)")
    vp99=$(field "$v" "round(r['capture_to_decoded']['p99'],1)")
    dp50=$(field "$d" "round(r['capture_to_decoded']['p50'],1)")
    dp99=$(field "$d" "round(r['capture_to_decoded']['p99'],1)")
    ratio=$(python3 -c "print(f'{$vp50/$dp50:.2f}')")
    ok=$(python3 -c "print('yes' if $vp50 < $goal_ms else 'NO')")
    printf "%-10s %-14s | %10s / %-11s | %10s / %-11s | %-11s | %s\n" "$size" "$enc" "$vp50" "$vp99" "$dp50" "$dp99" "$ratio" "$ok"
    res[$enc-$size]="$v $d"
  done
done
echo
echo "split (p50 ms): capture->sink = capture to wsh264sink (vsock hop, convert, encode); sink->page = WebSocket delivery; page->decoded = decode"
for key in "${!res[@]}"; do
  set -- ${res[$key]}
  for f in "$1" "$2"; do
    field "$f" "'%-24s capture->sink %5.1f  sink->page %5.1f  page->decoded %5.1f  (%s %dx%d, %d frames at %.1f fps, pipeline cpu %d%%)' % ('$(basename "$f" .json)', r['capture_to_decoded']['p50']-r['sink_to_decoded']['p50'], r['sink_to_received']['p50'], r['sink_to_decoded']['p50']-r['sink_to_received']['p50'], r['codec'], r['width'], r['height'], r['frames'], r['fps'], r['cpu'])"
  done
done | sort
