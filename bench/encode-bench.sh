#!/bin/sh
# encode-bench.sh: x264enc vs openh264enc, as configured by vmstreamenc, on
# desktop-like content (flat background, one moving object, a running clock:
# the demo-local.txt source) at 1280x720 and 1920x1080, 30 fps.
#
#   bench/encode-bench.sh [BUILD_DIR]        (default: build)
#   FRAMES=300 ROUNDS=15 bench/encode-bench.sh build-enc
#
# Per encoder and size it prints
#   max_fps     frames/s of source+encode with no clock (the encoder's ceiling
#               on this machine, both cores available to it)
#   enc_ms      CPU milliseconds per frame spent in the encoder (total CPU
#               minus the same pipeline without the encoder)
#   live_cpu    CPU use (% of one core) of the live 30 fps pipeline, and the
#               frame rate it actually reached (30 = keeps up)
#   latency     glass-to-RTSP-client: the source switches black->white, time
#               until an rtspsrc client in the same process decodes a white
#               frame (median, min, max over ROUNDS switches)
# and then the x264/openh264 ratios. Numbers on a shared 2-core machine are
# noisy: compare within one run.
set -eu

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
FRAMES=${FRAMES:-300}
ROUNDS=${ROUNDS:-15}
[ -d "$BUILD/plugins" ] || { echo "no build at $BUILD (meson setup/compile first)" >&2; exit 2; }

TMP=$(mktemp -d /tmp/vmstream-encode-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
export GST_PLUGIN_PATH_1_0="$BUILD/plugins"
export GST_REGISTRY_1_0="$TMP/registry.bin"
export GST_DEBUG=${GST_DEBUG:-*:1}

meson compile -C "$BUILD" bench/encode-latency >/dev/null

source_desc() { # live(true|false) width height
  echo "videotestsrc is-live=$1 num-buffers=$FRAMES pattern=ball motion=sweep" \
    "background-color=0xff2b4a6f foreground-color=0xffe8e8e8" \
    "! video/x-raw,format=I420,width=$2,height=$3,framerate=30/1" \
    "! timeoverlay font-desc=Sans halignment=right valignment=top"
}

# prints "wall user sys" of one gst-launch-1.0 run
measure() {
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %U %S" -o "$TMP/time" gst-launch-1.0 -q $1 >/dev/null 2>"$TMP/err" \
    || { echo "pipeline failed: $1" >&2; cat "$TMP/err" >&2; exit 1; }
  cat "$TMP/time"
}

echo "# vmstreamenc encode benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-9s %-9s %8s %8s %9s %8s  %s\n" encoder size max_fps enc_ms live_cpu live_fps "latency median/min/max ms"

for size in 1280x720 1920x1080; do
  w=${size%x*}; h=${size#*x}
  set -- $(measure "$(source_desc false "$w" "$h") ! fakesink sync=false")
  src_cpu=$(echo "$2 $3" | awk '{print $1+$2}')
  for enc in x264 openh264; do
    set -- $(measure "$(source_desc false "$w" "$h") ! vmstreamenc encoder=$enc fallback=false ! fakesink sync=false")
    max_fps=$(echo "$1" | awk -v n="$FRAMES" '{printf "%.1f", n/$1}')
    enc_ms=$(echo "$2 $3 $src_cpu" | awk -v n="$FRAMES" '{v=($1+$2-$3)*1000/n; if (v<0) v=0; printf "%.1f", v}')
    set -- $(measure "$(source_desc true "$w" "$h") ! vmstreamenc encoder=$enc fallback=false ! fakesink sync=false")
    live_cpu=$(echo "$1 $2 $3" | awk '{printf "%.0f%%", ($2+$3)*100/$1}')
    live_fps=$(echo "$1" | awk -v n="$FRAMES" '{printf "%.1f", n/$1}')
    lat=$("$BUILD/bench/encode-latency" "$enc" "$w" "$h" "$ROUNDS" 2>"$TMP/err") \
      || { cat "$TMP/err" >&2; exit 1; }
    lat=$(echo "$lat" | sed 's/.*median_ms=\([^ ]*\) min_ms=\([^ ]*\) max_ms=\([^ ]*\)/\1\/\2\/\3/')
    printf "%-9s %-9s %8s %8s %9s %8s  %s\n" "$enc" "$size" "$max_fps" "$enc_ms" "$live_cpu" "$live_fps" "$lat"
    echo "$enc $size $max_fps $enc_ms ${live_cpu%\%} ${lat%%/*}" >>"$TMP/results"
  done
done

echo "# ratios x264/openh264 (max_fps: >1 = x264 faster; enc_ms, live_cpu, latency: <1 = x264 cheaper/quicker)"
awk '
  { key=$2; if ($1=="x264") { f[key]=$3; e[key]=$4; c[key]=$5; l[key]=$6 }
    else { of[key]=$3; oe[key]=$4; oc[key]=$5; ol[key]=$6 } }
  END { for (k in f) printf "%-9s max_fps %.2f  enc_ms %.2f  live_cpu %.2f  latency %.2f\n",
          k, f[k]/of[k], (oe[k]>0 ? e[k]/oe[k] : 0), c[k]/oc[k], l[k]/ol[k] }' "$TMP/results"
