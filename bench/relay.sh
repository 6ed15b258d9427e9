#!/bin/bash
# The front door's relay against a direct connection to the sink, side by
# side in one run: one supervisor, one 1080p30 session playing an H.264 clip
# (~8 Mbit/s, the fanout benchmark's), and
#  1. latency: one viewer through the supervisor (ws://LISTEN/stream/ID) and
#     one straight to the session's Unix socket (RUN_DIR/ws.sock) at the
#     same time; per frame the time from the sink's send_time (frame header)
#     to arrival; prints p50/p99 of each and the relay's added p50/p99;
#  2. CPU: 20 viewers straight to the socket, then 20 through the relay,
#     then 20 through a second supervisor of the same run that serves its
#     port over TLS (HELIX_TLS_CERT, wss://); prints the supervisor's and
#     the session's CPU (% of one core) for each, the relay's cost and what
#     TLS adds to it.
#
#   bench/relay.sh [BUILD_DIR] [SECONDS]
#
# BUILD_DIR (default: build); SECONDS (default 10) is each measured window.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
secs=${2:-10}
work=$(mktemp -d /tmp/vmstream-relay.XXXXXX)
sup_pid= tsup_pid=
cleanup() {
  for p in $sup_pid $tsup_pid; do
    if kill -0 "$p" 2>/dev/null; then
      kill "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

export GST_PLUGIN_PATH_1_0="$build/plugins"
export GST_REGISTRY_1_0="$work/registry.bin"
export GST_DEBUG="${GST_DEBUG:-*:1}"
hz=$(getconf CLK_TCK)
meson compile -C "$build" tests/supervisor/vms-wsclient supervisor/vmstream-supervisor \
  supervisor/vmstream-session >/dev/null

# one clip per measurement (each starts a fresh session): warm-up, window,
# margin
frames=$(( (secs + 8) * 30 ))
echo "encoding a ${frames}-frame 1080p clip at 8 Mbit/s..."
gst-launch-1.0 -q videotestsrc num-buffers=$frames pattern=snow ! \
  video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! \
  x264enc bitrate=8000 tune=zerolatency speed-preset=superfast key-int-max=60 \
    vbv-buf-capacity=1000 ! \
  h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! \
  filesink location="$work/clip.h264"
echo "clip: $(python3 -c "import os;print(round(os.path.getsize('$work/clip.h264')*8/($frames/30)/1e6,2))") Mbit/s"

mkdir -p "$work/templates"
cat >"$work/templates/clip.txt" <<EOF
# bench/relay.sh: a 1080p30 H.264 clip at its own pace
filesrc location=$work/clip.h264 ! video/x-h264,framerate=30/1 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! clocksync ! wsh264sink socket-path="\${WS_SOCKET}" path=/stream/ session-id=\${SESSION_ID} token="\${WS_TOKEN}" max-clients=100
EOF

HELIX_TEMPLATES_DIR="$work/templates" HELIX_RUNTIME_DIR="$work/run" \
  HELIX_TOKEN=bench HELIX_SESSION_BIN="$build/supervisor/vmstream-session" \
  "$build/supervisor/vmstream-supervisor" --listen 127.0.0.1:0 \
  >"$work/sup.out" 2>"$work/sup.log" &
sup_pid=$!
for _ in $(seq 100); do
  port=$(awk '/^READY/ {print $2}' "$work/sup.out")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "the supervisor did not start"; cat "$work/sup.log"; exit 1; }

# the same supervisor serving its port over TLS, with a certificate of ours
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
HELIX_TEMPLATES_DIR="$work/templates" HELIX_RUNTIME_DIR="$work/trun" \
  HELIX_TOKEN=bench HELIX_SESSION_BIN="$build/supervisor/vmstream-session" \
  HELIX_TLS_CERT="$work/cert.pem" HELIX_TLS_KEY="$work/key.pem" \
  "$build/supervisor/vmstream-supervisor" --listen 127.0.0.1:0 \
  >"$work/tsup.out" 2>"$work/tsup.log" &
tsup_pid=$!
for _ in $(seq 100); do
  tport=$(awk '/^READY/ {print $2}' "$work/tsup.out")
  [ -n "$tport" ] && break
  sleep 0.05
done
[ -n "$tport" ] || { echo "the TLS supervisor did not start"; cat "$work/tsup.log"; exit 1; }
# the supervisor the API calls and CPU readings below are about
base="http://127.0.0.1:$port" cur_sup=$sup_pid

api() {
  curl -sf --cacert "$work/cert.pem" -H "Authorization: Bearer bench" \
    -H "Content-Type: application/json" "$@"
}

# start ID -> sets pid, token
start() {
  local j
  j=$(api -d "{\"template\":\"clip\",\"id\":\"$1\",\"width\":1920,\"height\":1080,\"fps\":30}" \
    "$base/api/v1/sessions")
  pid=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["pid"])' <<<"$j")
  token=$(python3 -c 'import json,sys;print(json.load(sys.stdin)["viewer_token"])' <<<"$j")
}

stop() {
  api -X DELETE "$base/api/v1/sessions/$1" >/dev/null
}

cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# 1. latency, both paths at once
start lat
relay_url="ws://127.0.0.1:$port/stream/lat?token=$token"
direct_url="ws://localhost/stream/lat?token=$token"
"$build/tests/supervisor/vms-wsclient" --seconds "$secs" --dump "$work/relay.seq" "$relay_url" >"$work/relay.txt" &
rc_pid=$!
"$build/tests/supervisor/vms-wsclient" --seconds "$secs" --dump "$work/direct.seq" --unix "$work/run/lat/ws.sock" "$direct_url" \
  >"$work/direct.txt"
wait $rc_pid
stop lat
r=$(cat "$work/relay.txt") d=$(cat "$work/direct.txt")
echo
echo "latency, sink send_time -> viewer, one viewer on each path at once (${secs} s, 1080p30):"
printf '  %-28s p50 %6s us  p99 %6s us  max %6s us  %s frames/s\n' \
  "direct (session's socket)" "$(field p50_us "$d")" "$(field p99_us "$d")" \
  "$(field max_us "$d")" "$(field fps_mean "$d")"
printf '  %-28s p50 %6s us  p99 %6s us  max %6s us  %s frames/s\n' \
  "relay (supervisor's port)" "$(field p50_us "$r")" "$(field p99_us "$r")" \
  "$(field max_us "$r")" "$(field fps_mean "$r")"
python3 - "$(field p50_us "$d")" "$(field p99_us "$d")" "$(field p50_us "$r")" "$(field p99_us "$r")" \
  "$work/direct.seq" "$work/relay.seq" <<'EOF'
import sys
d50, d99, r50, r99 = map(float, sys.argv[1:5])
print("  relay adds (distributions): p50 %+.3f ms, p99 %+.3f ms; ratio p99 relay/direct %.2f"
      % ((r50 - d50) / 1000, (r99 - d99) / 1000, r99 / max(d99, 1)))
def load(p):
    return dict(map(int, l.split()) for l in open(p) if l.strip())
d, r = load(sys.argv[5]), load(sys.argv[6])
diff = sorted(r[k] - d[k] for k in d.keys() & r.keys())
if diff:
    n = len(diff)
    print("  relay adds (the same frame on both paths, %d frames): p50 %+.3f ms, p99 %+.3f ms, "
          "max %+.3f ms (goal: p99 <= 0.5 ms)"
          % (n, diff[n // 2] / 1000, diff[min(n - 1, n * 99 // 100)] / 1000, diff[-1] / 1000))
EOF

# 2. CPU with 20 viewers: direct, then through the relay
# measure ID URL [--unix PATH] -> sets sup_cpu, ses_cpu, fps
measure() {
  local id=$1 url=$2 s0 s1 p0 p1 t0 t1 out
  shift 2
  start "$id"
  url=${url//TOKEN/$token}
  "$build/tests/supervisor/vms-wsclient" --clients 20 --seconds "$secs" --warmup 2 "$@" "$url" >"$work/cpu.txt" &
  local c=$!
  sleep 2.5 # the clients' warm-up: connected, keyframe seen
  s0=$(cpu_ticks $cur_sup) p0=$(cpu_ticks $pid) t0=$(date +%s.%N)
  sleep $((secs - 1))
  s1=$(cpu_ticks $cur_sup) p1=$(cpu_ticks $pid) t1=$(date +%s.%N)
  wait $c
  out=$(cat "$work/cpu.txt")
  stop "$id"
  sup_cpu=$(python3 -c "print(round(($s1-$s0)/$hz/($t1-$t0)*100,1))")
  ses_cpu=$(python3 -c "print(round(($p1-$p0)/$hz/($t1-$t0)*100,1))")
  fps=$(field fps_mean "$out")
}
echo
echo "CPU, 20 viewers of one 1080p30 session (${secs} s windows, % of one core):"
measure cpud "ws://localhost/stream/cpud?token=TOKEN" --unix "$work/run/cpud/ws.sock"
d_sup=$sup_cpu d_ses=$ses_cpu d_fps=$fps
measure cpur "ws://127.0.0.1:$port/stream/cpur?token=TOKEN"
printf '  %-28s supervisor %5s%%  session %5s%%  %s frames/s per viewer\n' \
  "direct (session's socket)" "$d_sup" "$d_ses" "$d_fps"
printf '  %-28s supervisor %5s%%  session %5s%%  %s frames/s per viewer\n' \
  "relay (supervisor's port)" "$sup_cpu" "$ses_cpu" "$fps"
python3 -c "print('  relay costs the supervisor %.1f%% of one core (goal < 5%%); session CPU ratio relay/direct %.2f' % ($sup_cpu - $d_sup, $ses_cpu / max($d_ses, 0.1)))"
r_sup=$sup_cpu r_ses=$ses_cpu
base="https://127.0.0.1:$tport" cur_sup=$tsup_pid
measure cput "wss://127.0.0.1:$tport/stream/cput?token=TOKEN" --cafile "$work/cert.pem"
printf '  %-28s supervisor %5s%%  session %5s%%  %s frames/s per viewer\n' \
  "relay over TLS (wss://)" "$sup_cpu" "$ses_cpu" "$fps"
python3 -c "print('  TLS adds %.1f%% of one core to the relaying supervisor; supervisor CPU ratio wss/ws %.2f' % ($sup_cpu - $r_sup, $sup_cpu / max($r_sup, 0.1)))"
