#!/usr/bin/env bash
# QEMU-display capture side by side, one boot: a test-image guest under TCG
# (vm/vmstream-vm --fast-init, virtio-vga, no vmstream software in it: a
# guest script loads the virtio-gpu driver, so the screen is its 1280x800
# framebuffer console) exporting its display at once on QEMU's VNC server
# (unix socket) and QEMU's D-Bus display (p2p, QMP socket). Each export is
# watched in headless Chromium for SECONDS, one after the other:
#   vnc    qemudisplaysrc backend=vnc  ! vmstreamenc (x264) ! wsh264sink, our player
#   dbus   qemudisplaysrc backend=dbus ! vmstreamenc (x264) ! wsh264sink, our player
#   novnc  the peer: websockify --unix-target=vnc.sock + noVNC's vnc.html
#          (Debian's novnc 1.3), QEMU's VNC straight into the page
# idle (the console still) and then busy (the guest prints the time to its
# console as fast as it can, so the screen scrolls). Per case
# (bench/qemu-display.mjs): distinct pictures painted per second in the
# page (the same measure for both players), WebSocket kbit/s, for ours the
# frames decoded per second and capture (QEMU's update complete at the
# host) -> decoded latency p50/p99 of new pictures, and host CPU: QEMU +
# the server side (gst-launch pipeline or websockify; not Chromium), % of
# one core and ms per painted picture. Prints ratios against noVNC.
#
#   [IMAGE=DIR] bench/qemu-display.sh [BUILD_DIR] [SECONDS]
#
# Needs the test guest image (vm/vmstream-vm build-image), qemu-system-x86,
# novnc (websockify), chromium, node and tests/browser/node_modules. The
# in-guest path (vsocksink in the guest) is not in this run: the test image
# has no screen grabber for its console and the desktop image is built
# separately (vm/vmstream-vm build-image --variant desktop).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-10}
# ours as pipelines/host-qemu-display.txt sets it up; NEW_ONLY=false
# QUALITY=0 ENCODER_SETTINGS=speed-preset=ultrafast is the 2026-12-02 setup
new_only=${NEW_ONLY:-true}
# qemudisplaysrc framerate: with new pictures only the highest rate (the
# template's FRAMERATE, the session's fps under the supervisor)
framerate=${FRAMERATE:-30}
quality=${QUALITY:-26}
enc_settings=${ENCODER_SETTINGS:-}
work=$(mktemp -d /tmp/vmstream-qdbench.XXXXXX)
pids=()
qemu_pid=

stop_pids() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_pids
  [ -z "$qemu_pid" ] || { kill -TERM "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# IMAGE=DIR: a guest image folder of its own (a copy of a test image: the
# bench uses no vmstream software in the guest, and the cache keeps one
# build per variant, which another tree's build replaces)
img_args=()
if [ -n "${IMAGE:-}" ]; then img_args=(--image "$IMAGE"); else "$src/vm/vmstream-vm" image >/dev/null || exit 1; fi
command -v websockify >/dev/null && [ -r /usr/share/novnc/vnc.html ] || { echo "needs novnc (apt-get install novnc)"; exit 1; }
[ -d "$src/tests/browser/node_modules/playwright-core" ] || { echo "needs tests/browser/node_modules (npm ci there)"; exit 1; }
export GST_PLUGIN_PATH_1_0="$build/plugins" GST_REGISTRY_1_0="$work/registry.bin" GST_DEBUG="${GST_DEBUG:-*:1}"
gst-inspect-1.0 qemudisplaysrc >/dev/null

rt=$work/rt
mkdir -p "$work/np"
cat >"$work/guest.sh" <<'GUEST'
exec 2>&1
for p in /proc/[0-9]*; do
  case "$(tr '\0' ' ' <$p/cmdline 2>/dev/null)" in
  *vmstream-keylog* | evtest*) kill ${p#/proc/} ;;
  esac
done 2>/dev/null
modprobe virtio_gpu
# the console scrolls in its top 44 text rows (DECSTBM); rows 47..50
# (pixel rows 736..799 of 800) are the latency marker: a band of
# reverse-video spaces (white) or plain ones (black), each written with one
# write() (the tty keeps one write whole, so the scrolling never splits it)
printf '\033[1;44r' >/dev/tty1
sp=$(printf '%160s' '')
for band in white black; do
  attr=; [ $band = white ] && attr='\033[7m'
  { printf '\0337'
    for r in 47 48 49 50; do printf "\033[%d;1H$attr%s\033[0m" $r "$sp"; done
    printf '\0338'; } >/tmp/$band
done
# B: start scrolling; L: toggle the band (black <-> white), the echo
# bench/qemu-display.mjs times in the page
for ev in /sys/class/input/event*; do
  case "$(cat $ev/device/name)" in
  *[Kk]eyboard*)
    stdbuf -oL evtest /dev/input/${ev##*/} | {
      band=black
      while read -r l; do
        case "$l" in
        *"KEY_B), value 1"*) touch /tmp/busy ;;
        *"KEY_L), value 1"*)
          if [ $band = black ]; then band=white; else band=black; fi
          cat /tmp/$band >/dev/tty1 ;;
        esac
      done
    } & ;;
  esac
done
sleep 3
echo "guest-script: ready"
while [ ! -e /tmp/busy ]; do sleep 0.2; done
echo "guest-script: busy"
while :; do date '+%T.%N  the quick brown fox jumps over the lazy dog'; done >/dev/tty1
GUEST
t0=$(date +%s)
VMSTREAM_GUEST_PLUGINS=$work/np "$src/vm/vmstream-vm" run --name qdbench --runtime-dir "$rt" \
  --qmp "$rt/qmp.sock" --vnc-socket "$rt/vnc.sock" --display-qmp "$rt/dqmp.sock" \
  --guest-script "$work/guest.sh" --fast-init ${img_args[@]+"${img_args[@]}"} >"$work/qemu.log" 2>&1 &
qemu_pid=$!
for _ in $(seq 300); do
  grep -q "guest-script: ready" "$rt/console.log" 2>/dev/null && break
  kill -0 "$qemu_pid" 2>/dev/null || { echo "QEMU ended:"; cat "$work/qemu.log"; exit 1; }
  sleep 0.5
done
grep -q "guest-script: ready" "$rt/console.log" || { echo "the guest did not come up"; tail "$rt/console.log"; exit 1; }
echo "guest up in $(( $(date +%s) - t0 )) s (TCG, $(nproc) host cores)"

hz=$(getconf CLK_TCK)
# utime+stime of the processes and their children (websockify serves each
# connection in a forked child)
ticks() {
  local p t=0
  for p in $(for q in "$@"; do echo "$q"; pgrep -P "$q" || true; done); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# measure NAME MODE: one export for $secs, JSON line appended to results
measure() {
  local name=$1 mode=$2 port url kind c0 c1 t0 t1
  port=$(free_port)
  case $name in
  vnc | dbus)
    local sock=$rt/vnc.sock
    [ "$name" = dbus ] && sock=$rt/dqmp.sock
    # the settings of pipelines/host-qemu-display.txt's defaults
    gst-launch-1.0 -q qemudisplaysrc backend="$name" socket="$sock" framerate="$framerate"/1 \
      new-pictures-only="$new_only" keepalive=1000 \
      ! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream \
      ! vmstreamenc encoder=x264 bitrate=4000 quality="$quality" key-int-max=60 \
        ${enc_settings:+encoder-settings="$enc_settings"} \
      ! wsh264sink address=127.0.0.1 port="$port" >"$work/$name.log" 2>&1 &
    pids+=($!)
    url="http://127.0.0.1:$port/"
    kind=ours
    ;;
  novnc)
    websockify --web /usr/share/novnc "127.0.0.1:$port" --unix-target="$rt/vnc.sock" \
      >"$work/novnc.log" 2>&1 &
    pids+=($!)
    url="http://127.0.0.1:$port/vnc.html?autoconnect=true&path=websockify&resize=off&reconnect=false"
    kind=novnc
    ;;
  esac
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  # CPU over the browser's measuring window only: sampled from its output
  node "$here/qemu-display.mjs" "$url" "$kind" "$secs" "$rt/qmp.sock" >"$work/r.json" 2>"$work/node.err" &
  local node_pid=$!
  sleep 2.5  # the page's connect + warm-up (qemu-display.mjs waits 2 s after the first paint)
  c0=$(ticks "$qemu_pid" "${pids[@]}"); s0=$(ticks "${pids[@]}"); t0=$(date +%s.%N)
  sleep "$secs"
  c1=$(ticks "$qemu_pid" "${pids[@]}"); s1=$(ticks "${pids[@]}"); t1=$(date +%s.%N)
  wait "$node_pid" || { echo "browser run failed ($name $mode):"; tail -30 "$work/node.err"; tail -5 "$work/$name.log"; exit 1; }
  stop_pids
  python3 - "$work/r.json" "$name" "$mode" "$c0" "$c1" "$t0" "$t1" "$hz" "$s0" "$s1" >>"$work/results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, mode = sys.argv[2], sys.argv[3]
c0, c1, t0, t1, hz, s0, s1 = (float(x) for x in sys.argv[4:11])
r.update(name=name, mode=mode, cpu_pct=(c1 - c0) / hz / (t1 - t0) * 100,
         server_cpu_pct=(s1 - s0) / hz / (t1 - t0) * 100)
print(json.dumps(r))
PY
  tail -n 1 "$work/results"
}

qmp_key() {
  printf '%s\n' '{"execute":"qmp_capabilities"}' \
    "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"key\",\"data\":{\"down\":true,\"key\":{\"type\":\"qcode\",\"data\":\"$1\"}}},{\"type\":\"key\",\"data\":{\"down\":false,\"key\":{\"type\":\"qcode\",\"data\":\"$1\"}}}]}}" |
    socat -t 1 - "UNIX-CONNECT:$rt/qmp.sock" >/dev/null
}

# interleaved, twice: the 2 cores are shared by the TCG guest, the server
# side and Chromium, and the guest's drawing rate drifts
for n in vnc dbus novnc vnc dbus novnc; do measure "$n" idle; done
qmp_key b
for _ in $(seq 60); do grep -q "guest-script: busy" "$rt/console.log" && break; sleep 0.5; done
sleep 2
for n in vnc dbus novnc vnc dbus novnc; do measure "$n" busy; done

cp "$work/results" "${RESULTS_COPY:-/tmp/qemu-display-results.jsonl}" 2>/dev/null || true
python3 - "$work/results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def pct(s, p):
    s = sorted(s)
    return s[min(len(s) - 1, max(0, -(-p * len(s) // 100) - 1))] if s else None
for r in rows:
    # pictures reaching the page: ours = new pictures decoded (a capture time
    # not seen before), noVNC = distinct pictures painted
    r["new_per_s"] = (r["new_pictures"] / r["seconds"] if r["kind"] == "ours"
                      else r["pictures_per_s"])
    r["cpu_ms_per_picture"] = (r["cpu_pct"] * 10 / r["new_per_s"] if r["new_per_s"] else None)
f = lambda v, fmt="%.1f": "-" if v is None else fmt % v
print("\n%-5s %-5s %-9s %6s %7s %6s %6s %6s %5s %6s %6s %7s %6s %7s %7s" % ("mode", "path", "size",
      "new/s", "paint/s", "dec/s", "key50", "key99", "lost", "cap50", "cap99", "cpu%",
      "srv%", "ms/pic", "kbit/s"))
for r in rows:
    print("%-5s %-5s %-9s %6s %7s %6s %6s %6s %5d %6s %6s %7s %6s %7s %7s" % (
        r["mode"], r["name"], r["size"], f(r["new_per_s"]), f(r["pictures_per_s"]),
        f(r["decoded_per_s"]), f(r["key_p50"], "%.0f"), f(r["key_p99"], "%.0f"), r["key_lost"],
        f(r["lat_p50"], "%.0f"), f(r["lat_p99"], "%.0f"), f(r["cpu_pct"], "%.0f"),
        f(r["server_cpu_pct"], "%.0f"), f(r["cpu_ms_per_picture"], "%.0f"), f(r["kbit_per_s"], "%.0f")))
print("(new/s: new pictures reaching the page; paint/s: distinct canvas contents; key50/99:"
      " QMP key -> the guest's echo band changed in the page's canvas, ms, every path; lost:"
      " probes not seen in 4 s; cap50/99: capture at the host -> decoded, ours only; cpu%: QEMU"
      " incl. the TCG guest + server side; srv%: pipeline or websockify alone; ms/pic: cpu per"
      " new picture)")
# per case: means over the runs; key latency percentiles over all probes
agg = {}
for r in rows:
    agg.setdefault((r["mode"], r["name"]), []).append(r)
by = {}
for k, v in agg.items():
    d = {key: (sum(x[key] for x in v) / len(v) if all(x.get(key) is not None for x in v) else None)
         for key in ("new_per_s", "cpu_pct", "server_cpu_pct", "cpu_ms_per_picture", "kbit_per_s")}
    keys = [t for x in v for t in x["key_lat"]]
    d.update(key_p50=pct(keys, 50), key_p99=pct(keys, 99), key_n=len(keys),
             key_lost=sum(x["key_lost"] for x in v))
    by[k] = d
print("\nper case, all runs pooled: key latency p50 / p99 ms (probes, lost)")
for (mode, name), d in sorted(by.items()):
    print("  %-4s %-5s %s / %s  (%d, %d lost)  new/s %s  kbit/s %s  cpu%% %s" % (
        mode, name, f(d["key_p50"], "%.0f"), f(d["key_p99"], "%.0f"), d["key_n"], d["key_lost"],
        f(d["new_per_s"]), f(d["kbit_per_s"], "%.0f"), f(d["cpu_pct"], "%.0f")))
print("\nper case, all runs pooled: where a key probe's time went, p50 ms (probes)")
print("  ours: key -> capture at the host -> its message in the page -> decoded -> flip seen;"
      " noVNC: key -> the last message before the flip -> flip seen")
for (mode, name), v in sorted(agg.items()):
    parts = {}
    for x in v:
        for k, t in (x.get("parts") or {}).items():
            parts.setdefault(k, []).extend(t)
    order = (("key_capture", "capture_msg", "msg_decoded", "decoded_flip") if name != "novnc"
             else ("key_msg", "msg_flip"))
    print("  %-4s %-5s %s" % (mode, name, "  ".join(
        "%s %s (%d)" % (k, f(pct(parts.get(k, []), 50), "%.0f"), len(parts.get(k, []))) for k in order)))
print("\nratios against noVNC (means of the runs of each case; key latency: pooled"
      " percentiles; same guest, same run; < 1 is better for latency, bandwidth, cpu):")
for mode in ("idle", "busy"):
    peer = by.get((mode, "novnc"))
    for n in ("vnc", "dbus"):
        r = by.get((mode, n))
        if not (r and peer):
            continue
        def ratio(k):
            a, b = r.get(k), peer.get(k)
            return "-" if a is None or not b else "%.2f" % (a / b)
        print("  %-4s %-4s/novnc: new pictures/s x%s, key latency p50 x%s p99 x%s, bandwidth x%s,"
              " host cpu x%s, server cpu x%s, cpu per picture x%s" % (
                  mode, n, ratio("new_per_s"), ratio("key_p50"), ratio("key_p99"),
                  ratio("kbit_per_s"), ratio("cpu_pct"), ratio("server_cpu_pct"),
                  ratio("cpu_ms_per_picture")))
PY
