#!/usr/bin/env bash
# Transport benchmark: vsocksink -> vsocksrc against the physical limit of
# the same socket type (a plain write/read loop) and against GStreamer's
# peers (gdppay+tcp, shmsink/shmsrc), side by side in one run.
#
#   bench/transport.sh [-n FRAMES] [-r REPEATS] [-b BUILDDIR] [FORMAT ...]
#   FORMAT is WIDTHxHEIGHT:FORMAT, default 1920x1080:NV12
#
# Frames are pushed as fast as possible from `imagefreeze` (one frame, sent
# again and again, so no source cost is measured). Each path runs REPEATS
# times, interleaved with the others, and the median run counts (the raw
# loop's best runs are outliers that a best-of would pick). CPU is per frame, in the receiving
# process (rx) and the sending process (tx, includes its start-up).
# shm: `identity drop-allocation=true` keeps the source frame out of the
# shared memory segment, so shmsink copies every frame into it once (as it
# must for any real capture source); otherwise it would pass one pointer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
n=2000
repeats=5
build="$root/build"
while getopts "n:r:b:" o; do
  case $o in
    n) n=$OPTARG ;;
    r) repeats=$OPTARG ;;
    b) build=$(readlink -f "$OPTARG") ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
formats=("${@:-1920x1080:NV12}")

[ -x "$build/bench/vms-bench" ] || { meson setup "$build" >/dev/null && meson compile -C "$build" >/dev/null; }
bench="$build/bench/vms-bench"
export GST_PLUGIN_PATH="$build/plugins"
export GST_REGISTRY="$build/bench-registry.bin"
gst-inspect-1.0 vsocksrc >/dev/null
tmp=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$((20000 + $$ % 20000))

# run_pair NAME RX_PIPELINE TX_PIPELINE [tx-first]
run_pair() {
  local name=$1 rxp=$2 txp=$3 order=${4:-rx-first} t
  local out="$tmp/$name.rx"
  rm -f "$tmp"/*.sock
  if [ "$order" = tx-first ]; then
    { TIMEFORMAT="%U %S"; time gst-launch-1.0 -q $txp >/dev/null; } 2>"$tmp/$name.tx" &
    sleep 0.3
    "$bench" rx "$n" "$rxp" >"$out"
    wait
  else
    "$bench" rx "$n" "$rxp" >"$out" &
    t=$!
    # the receiver prints "ready" once it listens
    for _ in $(seq 100); do grep -q ready "$out" 2>/dev/null && break; sleep 0.05; done
    { TIMEFORMAT="%U %S"; time gst-launch-1.0 -q $txp >/dev/null; } 2>"$tmp/$name.tx"
    wait $t
  fi
  record "$name" "$(grep frames "$out")" "$(tail -1 "$tmp/$name.tx")"
}

run_raw() {
  local name=$1 kind=$2 size=$3
  record "$name" "$("$bench" raw "$kind" "$n" "$size")" ""
}

declare -A runs best best_line
record() {
  local name=$1 line=$2 tx=$3 fps
  fps=$(sed -n 's/.*fps=\([0-9.]*\).*/\1/p' <<<"$line")
  [ -n "$fps" ] || { echo "$name failed: $line" >&2; return; }
  runs[$name]+="$fps $line tx=$tx"$'\n'
}

# the median run of each path becomes best/best_line
pick_medians() {
  local p sorted n mid
  for p in "${!runs[@]}"; do
    sorted=$(printf '%s' "${runs[$p]}" | sort -n -k1,1)
    n=$(printf '%s\n' "$sorted" | grep -c .)
    mid=$(((n + 1) / 2))
    best_line[$p]=$(printf '%s\n' "$sorted" | sed -n "${mid}p" | cut -d' ' -f2-)
    best[$p]=$(printf '%s\n' "$sorted" | sed -n "${mid}p" | cut -d' ' -f1)
  done
}

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"${best_line[$1]}"; }

echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "frames per run: $n, median of $repeats runs"
for fmt in "${formats[@]}"; do
  wh=${fmt%%:*}; f=${fmt##*:}; w=${wh%%x*}; h=${wh##*x}
  caps="video/x-raw,format=$f,width=$w,height=$h,framerate=60/1"
  case $f in
    NV12 | I420) size=$((w * h * 3 / 2)) ;;
    *) size=$((w * h * 4)) ;;
  esac
  src="videotestsrc pattern=black num-buffers=1 ! $caps ! imagefreeze num-buffers=$n"
  runs=(); best=(); best_line=()
  for r in $(seq "$repeats"); do
    run_raw raw-unix unix "$size"
    run_pair vsock-unix "vsocksrc uri=unix://$tmp/v.sock ! fakesink name=sink sync=false" \
      "$src ! vsocksink uri=unix://$tmp/v.sock max-send-wait=-1"
    run_raw raw-tcp tcp "$size"
    run_pair vsock-tcp "vsocksrc uri=tcp://127.0.0.1:$port ! fakesink name=sink sync=false" \
      "$src ! vsocksink uri=tcp://127.0.0.1:$port max-send-wait=-1"
    run_pair gdp-tcp "tcpserversrc host=127.0.0.1 port=$((port + 1)) ! gdpdepay ! fakesink name=sink sync=false" \
      "$src ! gdppay ! tcpclientsink host=127.0.0.1 port=$((port + 1)) sync=false"
    run_pair shm "shmsrc socket-path=$tmp/shm.sock ! fakesink name=sink sync=false" \
      "$src ! identity drop-allocation=true ! shmsink socket-path=$tmp/shm.sock shm-size=$((size * 8)) wait-for-connection=true sync=false" tx-first
  done
  pick_medians
  memcpy_fps=$("$bench" memcpy 2000 "$size" | sed -n 's/.*fps=\([0-9.]*\).*/\1/p')

  echo
  echo "== $w x $h $f, $size bytes per frame"
  printf "%-12s %10s %10s %12s %12s\n" path frames/s MB/s "rx ms/frame" "tx ms/frame"
  for p in raw-unix vsock-unix raw-tcp vsock-tcp gdp-tcp shm; do
    [ -n "${best[$p]:-}" ] || { printf "%-12s %10s\n" "$p" failed; continue; }
    rxcpu=$(awk "BEGIN{printf \"%.3f\", ($(field $p cpu_user)+$(field $p cpu_sys))*1000/$n}")
    tx=$(sed -n 's/.*tx=\(.*\)/\1/p' <<<"${best_line[$p]}")
    txcpu=$([ -n "$tx" ] && awk "BEGIN{split(\"$tx\",a,\" \"); printf \"%.3f\", (a[1]+a[2])*1000/$n}" || echo -)
    printf "%-12s %10.1f %10.1f %12s %12s\n" "$p" "${best[$p]}" "$(field $p mbps)" "$rxcpu" "$txcpu"
  done
  printf "%-12s %10.1f   (one memcpy of a frame: the upper bound of any copy)\n" memcpy "$memcpy_fps"
  echo
  ratio() { awk "BEGIN{printf \"%.2f\", ${best[$1]:-0}/${best[$2]:-1}}"; }
  echo "vsock-unix / raw-unix  = $(ratio vsock-unix raw-unix)   (goal >= 0.9)"
  echo "vsock-tcp  / raw-tcp   = $(ratio vsock-tcp raw-tcp)   (goal >= 0.9)"
  echo "vsock-tcp  / gdp-tcp   = $(ratio vsock-tcp gdp-tcp)   (goal >= 5)"
  echo "vsock-unix / 60 fps    = $(awk "BEGIN{printf \"%.1f\", ${best[vsock-unix]:-0}/60}")   (goal >= 10)"
  echo "vsock-unix / shm       = $(ratio vsock-unix shm)   (shared memory: a reference no VM boundary offers)"
done

# Paced 1080p60, the real load: CPU per side while keeping up.
echo
echo "== paced 1920x1080 NV12 at 60 fps, 600 frames, unix://"
rm -f "$tmp"/*.sock
"$bench" rx 600 "vsocksrc uri=unix://$tmp/p.sock ! fakesink name=sink sync=false" >"$tmp/paced.rx" &
t=$!
for _ in $(seq 100); do grep -q ready "$tmp/paced.rx" 2>/dev/null && break; sleep 0.05; done
{ TIMEFORMAT="%U %S %R"; time gst-launch-1.0 -q videotestsrc is-live=true pattern=ball num-buffers=600 ! \
  video/x-raw,format=NV12,width=1920,height=1080,framerate=60/1 ! vsocksink uri=unix://$tmp/p.sock >/dev/null; } 2>"$tmp/paced.tx"
wait $t
line=$(grep frames "$tmp/paced.rx")
read -r tu ts tr <"$tmp/paced.tx"
echo "receiver: $line"
awk -v l="$line" -v tu="$tu" -v ts="$ts" -v tr="$tr" 'BEGIN{
  n=split(l,a," "); for(i=1;i<=n;i++){split(a[i],kv,"="); v[kv[1]]=kv[2]}
  printf "receiver CPU %.1f%% of one core; sender CPU %.1f%% (incl. videotestsrc drawing the ball)\n",
    (v["cpu_user"]+v["cpu_sys"])*100/v["seconds"], (tu+ts)*100/tr }'
