#!/usr/bin/python3
# guest-speed.py: desktop frames from a TCG guest, the old guest pipeline
# against the new one, side by side in one boot of the desktop image
# (Sway 1280x800 on virtio-vga, PipeWire ScreenCast -> pipewiresrc ->
# vsocksink over virtio-serial -> the host's host-native.txt).
#
#   old  guest: pipewiresrc keepalive-time=1000 ! videoconvert ! NV12 ! vsocksink
#        host:  host-native.txt with REPEAT_INTERVAL=0 (no host repeats)
#   new  guest: pipelines/guest-pipewire.txt as it is in this tree (BGRx as
#        captured, always-copy=false, no keepalive frames)
#        host:  host-native.txt as it is (vsocksrc repeats the last frame)
#
# A terminal (foot) scrolls in the guest meanwhile: --share-file'd
# guest-speed-scroll.py prints LINES lines a second; "-idle" phases stop it
# (SIGSTOP), leaving the desktop's top redrawing once a second. Per phase the
# guest runs its pipeline WARM + SECONDS seconds and prints /proc/stat at the
# start and end of the measured SECONDS on the console; the host meanwhile
# counts the frames vsocksrc received (new guest frames, not repeats), the
# CPU time of QEMU (the whole guest) and of the host pipeline (this process),
# and a headless Chromium on the player page (bench/qemu-display.mjs) counts
# new pictures decoded (a capture time not seen before) and capture ->
# decoded latency p50/p99 of them. --stages adds guest-only phases (no
# host): capture alone (pipewiresrc ! fakesink) and capture + NV12 conversion
# (pipewiresrc ! videoconvert ! fakesink), counting frames in the guest.
#
#   bench/guest-speed.py [--seconds 20] [--rounds 2] [--stages] [--lines 50]
#
# Needs the desktop image (vm/vmstream-vm build-image --variant desktop), a
# build (VMSTREAM_BUILD_ROOT, default ./build) and GST_PLUGIN_PATH_1_0 at its
# plugins folder (meson devenv did not set it for the host pipeline here),
# node and tests/browser/node_modules (npm ci there) for the latency
# columns (which came out empty in the first run: not yet debugged).
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("VMSTREAM_BUILD_ROOT", os.path.join(SRC, "build"))
HZ = os.sysconf("SC_CLK_TCK")
FRAME_BYTES = 1280 * 800 * 4  # one BGRx frame of the desktop
RAW_FRAMES = 100

# pipelines/guest-pipewire.txt before this change (c5d0e7c), expanded.
GUEST_OLD = ("pipewiresrc path=@NODE@ do-timestamp=true keepalive-time=1000 "
             "! videoconvert ! video/x-raw,format=NV12 "
             "! vsocksink uri=serial:///dev/virtio-ports/vmstream.0")
GUEST_CAPTURE = ("pipewiresrc path=@NODE@ do-timestamp=true always-copy=false "
                 "! video/x-raw ! fakesink silent=false")
GUEST_CONVERT = ("pipewiresrc path=@NODE@ do-timestamp=true always-copy=false "
                 "! videoconvert ! video/x-raw,format=NV12 ! fakesink silent=false")

SCROLL = r"""
import itertools, os, sys, time
with open(os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "scroll.pid"), "w") as f:
    f.write("%d\n" % os.getpid())
period = 1.0 / {lines}
t = time.monotonic()
for i in itertools.count():
    print("%8d  the quick brown fox jumps over the lazy dog %s" % (i, "=" * (i % 40)), flush=True)
    t += period
    time.sleep(max(0.0, t - time.monotonic()))
"""

# Runs as the desktop's user inside vmstream-guest (WAYLAND_DISPLAY, SWAYSOCK,
# VMSTREAM_PIPEWIRE_NODE set by vmstream-desktop). Each phase: "go NAME",
# WARM s, "t0 NAME <cpu line>", SECONDS s, "t1 NAME <cpu line> frames N",
# "end NAME". Guest-only phases count fakesink's buffers (gst-launch -v
# prints one last-message line per buffer) into a tmpfs file.
GUEST_SCRIPT = r"""
set -f
node=$VMSTREAM_PIPEWIRE_NODE
run=${{XDG_RUNTIME_DIR:-/tmp}}
new=$(grep -v '^[[:space:]]*#' /run/vmstream/guest.txt | tr '\n' ' ' | sed "s/@PIPEWIRE_NODE@/$node/g")
echo "bench: new pipeline: $new"
swaymsg exec "foot --title scroll python3 /run/vmstream/guest-speed-scroll.py" >/dev/null
# the portal's first consumer: the stream is up before any phase counts
timeout 60 gst-launch-1.0 -q pipewiresrc path=$node num-buffers=3 ! fakesink
for _ in $(seq 1 50); do [ -s "$run/scroll.pid" ] && break; sleep 0.2; done
count () {{ cat "$run/count" 2>/dev/null || echo 0; }}
phase () {{
  name=$1; shift
  case $name in
    *-idle) kill -STOP $(cat "$run/scroll.pid") ;;
    *) kill -CONT $(cat "$run/scroll.pid") ;;
  esac
  echo 0 > "$run/count"
  for i in 1 2 3 4 5 6 7 8 9 10; do echo "bench: clock $name $(date +%s%N)"; sleep 0.05; done
  echo "bench: go $name"
  case $name in
    capture*|convert*)
      ( stdbuf -oL gst-launch-1.0 -v "$@" 2>&1 | awk -v f="$run/count" \
          '/last-message = chain/ {{ n++; print n > f; close(f); next }}
           /ERROR|WARNING|rror/ {{ print "bench-err: " $0 }}' ) & ;;
    *) gst-launch-1.0 -q "$@" 2>&1 | sed 's/^/bench-err: /' & ;;
  esac
  sleep {warm}
  c0=$(count)
  echo "bench: t0 $name $(head -n1 /proc/stat)"
  sleep {secs}
  c1=$(count)
  echo "bench: t1 $name $(head -n1 /proc/stat) frames $((c1 - c0))"
  pkill -INT -x gst-launch-1.0
  wait
  echo "bench: end $name"
  sleep 2
}}
for p in {phases}; do
  case $p in
    old*) set -- $(echo "{old}" | sed "s/@NODE@/$node/g") ;;
    new*) set -- $new ;;
    capture*) set -- $(echo "{capture}" | sed "s/@NODE@/$node/g") ;;
    convert*) set -- $(echo "{convert}" | sed "s/@NODE@/$node/g") ;;
  esac
  phase $p "$@"
done
# the port's ceiling: raw bytes, no video source, no framing
echo "bench: go raw"
dd if=/dev/zero of=/dev/virtio-ports/vmstream.0 bs={frame} count={raw_frames} 2>/dev/null
echo "bench: end raw"
echo "bench: all done"
sleep 100000
"""


class Console:
    """The guest's serial console, read as it grows (not again each time)."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.text = ""
        self.mark = 0  # where the current phase's lines start

    def read(self):
        # vmstream-vm renames a full console to PATH.1 and starts PATH anew:
        # finish the old file, then follow the new one
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = None
        if self.f is not None and ino is not None and os.fstat(self.f.fileno()).st_ino != ino:
            self.text += self.f.read()
            self.f.close()
            self.f = None
        if self.f is None:
            if ino is None:
                return self.text
            self.f = open(self.path, errors="replace")
        self.text += self.f.read()
        return self.text


def proc_cpu(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def guest_busy(cpu_line):
    """(busy, total) jiffies of a guest /proc/stat 'cpu' line."""
    v = [int(x) for x in cpu_line.split()[1:9]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def expand_host(sock_path, repeat):
    out = subprocess.run(
        [os.path.join(SRC, "tools", "vmstream-expand"), "--raw", "--no-env",
         os.path.join(SRC, "pipelines", "host-native.txt"), "SESSION_ID=bench",
         "VSOCK_URI=unix://%s" % sock_path, "WS_PORT=0", "RTSP_PORT=0",
         "REPEAT_INTERVAL=%d" % repeat],
        check=True, capture_output=True, text=True).stdout
    return out.strip()


class Host:
    """One phase's host pipeline (host-native.txt) and its counters."""

    def __init__(self, sock_path, repeat):
        self.pipe = Gst.parse_launch(expand_host(sock_path, repeat))
        it = self.pipe.iterate_recurse()
        self.src = self.ws = None
        for e in iterate(it):
            name = e.get_factory().get_name() if e.get_factory() else ""
            if name == "vsocksrc":
                self.src = e
            elif name == "wsh264sink":
                self.ws = e
        self.pipe.set_state(Gst.State.PLAYING)

    def port(self):
        return self.ws.get_property("current-port")  # "port" reads back the 0 that was set

    def stat(self, field):
        return self.src.get_property("stats").get_value(field)

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)


def iterate(it):
    while True:
        r, v = it.next()
        if r != Gst.IteratorResult.OK:
            return
        yield v


def wait_line(con, pattern, timeout, ctx):
    """Waits for a console line matching @pattern; returns the match."""
    # console lines carry a prefix ("[  34.3] vmstream-desktop[405]: ")
    rx = re.compile(pattern.replace("^", r"(?:^|: )", 1).replace("$", r"\r?$"), re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if con.qemu.poll() is not None:
            raise TimeoutError("QEMU exited (status %d)" % con.qemu.returncode)
        m = rx.search(con.read())
        if m:
            return m
        ctx.iteration(False)
        time.sleep(0.05)
    raise TimeoutError("no console line matching %r within %d s" % (pattern, timeout))


def clock_offset(con, name, ctx):
    """Host CLOCK_REALTIME minus the guest's, in ms: the guest prints its
    time ten times; the smallest (host time when the line appeared - guest
    time) is the offset plus the console's smallest delay (a few ms). The
    capture times are the guest's clock, the page's the host's."""
    rx = re.compile(r"bench: clock %s (\d+)\r?$" % re.escape(name), re.M)
    go = re.compile(r"bench: go %s\r?$" % re.escape(name), re.M)
    seen, best = set(), None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if con.qemu.poll() is not None:
            raise TimeoutError("QEMU exited (status %d)" % con.qemu.returncode)
        text = con.read()
        now_ms = time.time() * 1000
        for m in rx.finditer(text, con.mark):
            if m.group(1) not in seen:
                seen.add(m.group(1))
                d = now_ms - int(m.group(1)) / 1e6
                best = d if best is None else min(best, d)
        if go.search(text, con.mark):
            con.mark = len(text)
            return best
        ctx.iteration(False)
        time.sleep(0.001)
    raise TimeoutError("no 'go %s' within 600 s" % name)


def run_phase(name, a, con, sock_path, qemu_pid, ctx):
    """One phase; returns a dict of its numbers."""
    host = None
    if name.startswith(("old", "new")):
        host = Host(sock_path, 0 if name.startswith("old") else a.repeat)
    offset = clock_offset(con, name, ctx)
    node = None
    port = 0
    m0 = wait_line(con, r"^bench: t0 %s (cpu .*)$" % re.escape(name), 120, ctx)
    t0 = time.monotonic()
    q0, h0 = proc_cpu(qemu_pid), proc_cpu("self")
    f0 = host.stat("frames-received") if host else 0
    r0 = host.stat("repeats") if host else 0
    if host:
        port = host.port()
        node = subprocess.Popen(
            ["node", os.path.join(SRC, "bench", "qemu-display.mjs"),
             "http://127.0.0.1:%d/" % port, "ours", str(max(5, a.seconds - 5))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m1 = wait_line(con, r"^bench: t1 %s (cpu .*) frames (\d+)$" % re.escape(name),
                   a.seconds + 60, ctx)
    t1 = time.monotonic()
    q1, h1 = proc_cpu(qemu_pid), proc_cpu("self")
    f1 = host.stat("frames-received") if host else 0
    r1 = host.stat("repeats") if host else 0
    page = {}
    if node:
        out, err = node.communicate(timeout=120)
        try:
            page = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            page = {}
            # say why the page gave nothing (a missing tests/browser
            # node_modules, a page error) instead of an empty column
            print("bench: %s: the Chromium page gave no numbers (exit %s): %s"
                  % (name, node.returncode, (err or out).strip()[-400:]), flush=True)
    wait_line(con, r"^bench: end %s$" % re.escape(name), 60, ctx)
    if host:
        host.stop()
    b0, tot0 = guest_busy(m0.group(1))
    b1, tot1 = guest_busy(m1.group(1).split(" frames")[0])
    frames = (f1 - f0) if host else int(m1.group(2))
    secs = t1 - t0
    ncpu = 2
    for k in ("lat_p50", "lat_p99"):
        if page.get(k) is not None and offset is not None:
            page[k] -= offset
    return {
        "name": name, "seconds": secs, "offset_ms": offset, "frames": frames, "fps": frames / secs,
        "repeats_per_s": (r1 - r0) / secs,
        "guest_cpu": (b1 - b0) / max(1, tot1 - tot0) * ncpu,  # cores busy
        "qemu_cpu": (q1 - q0) / secs, "host_cpu": (h1 - h0) / secs if host else None,
        "page": page,
    }


def raw_phase(sock_path, con, ctx):
    """The port's ceiling: bytes/s of the guest's dd, first byte to last."""
    listener = socket.socket(socket.AF_UNIX)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    listener.bind(sock_path)
    listener.listen(1)
    listener.settimeout(60)
    conn, _ = listener.accept()  # QEMU's chardev reconnects within 1 s
    conn.settimeout(60)
    total, got, t_first = FRAME_BYTES * RAW_FRAMES, 0, None
    while got < total:
        d = conn.recv(1 << 20)
        if not d:
            break
        if t_first is None:
            t_first = time.monotonic()
        got += len(d)
    t = time.monotonic() - t_first
    conn.close()
    listener.close()
    wait_line(con, r"^bench: end raw$", 60, ctx)
    return got / t


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def per_frame(r, key):
    if r[key] is None or r["fps"] <= 0:
        return None
    return r[key] / r["fps"] * 1000  # ms of CPU per new frame


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally: kill QEMU
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20, help="measured seconds per phase")
    ap.add_argument("--warm", type=int, default=8, help="seconds before measuring")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--lines", type=int, default=50, help="lines/s the terminal scrolls")
    ap.add_argument("--repeat", type=int, default=100, help="new host: REPEAT_INTERVAL")
    ap.add_argument("--stages", action="store_true")
    ap.add_argument("--xdpw-log", default="ERROR", help="XDPW_LOGLEVEL in the guest")
    ap.add_argument("--idle", action="store_true", help="also old-idle/new-idle phases")
    a = ap.parse_args()
    Gst.init(None)
    phases = []
    for i in range(a.rounds):
        if a.stages:
            phases += ["capture%d" % i, "convert%d" % i]
        phases += ["old%d" % i, "new%d" % i]
        if a.idle:
            phases += ["old%d-idle" % i, "new%d-idle" % i]
    work = tempfile.mkdtemp(prefix="vmstream-guest-speed-")
    sock_path = os.path.join(work, "stream.sock")
    script = os.path.join(work, "guest.sh")
    scroll = os.path.join(work, "guest-speed-scroll.py")
    with open(script, "w") as f:
        f.write(GUEST_SCRIPT.format(warm=a.warm, secs=a.seconds, phases=" ".join(phases),
                                    old=GUEST_OLD, capture=GUEST_CAPTURE,
                                    convert=GUEST_CONVERT, frame=FRAME_BYTES,
                                    raw_frames=RAW_FRAMES))
    with open(scroll, "w") as f:
        f.write(SCROLL.format(lines=a.lines))
    # xdg-desktop-portal-wlr warns "out of buffers" on the serial console
    # each time the consumer holds all its buffers (hundreds a second while
    # the old pipeline converts): quiet for both pipelines alike
    desktop_env = os.path.join(work, "desktop.env")
    with open(desktop_env, "w") as f:
        f.write("XDPW_LOGLEVEL=%s\n" % a.xdpw_log)
    con_path = os.path.join(work, "console.log")
    con = Console(con_path)
    cmd = [os.path.join(SRC, "vm", "vmstream-vm"), "run", "--variant", "desktop",
           "--name", "guest-speed-%d" % os.getpid(),
           "--runtime-dir", os.path.join(work, "rt"), "--console", con_path,
           "--stream-socket", sock_path, "--guest-script", script,
           "--share-file", scroll, "--share-file", desktop_env,
           "--pipeline", os.path.join(SRC, "pipelines", "guest-pipewire.txt"),
           "--plugins", os.path.join(BUILD, "plugins", "vsocksink")]
    load = open("/proc/loadavg").read().split()[:3]
    print("guest-speed: %s, load %s, %d s per phase after %d s, terminal %d lines/s"
          % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), " ".join(load),
             a.seconds, a.warm, a.lines), flush=True)
    qemu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    con.qemu = qemu
    ctx = GLib.MainContext.default()
    results = []
    try:
        for p in phases:
            r = run_phase(p, a, con, sock_path, qemu.pid, ctx)
            results.append(r)
            pg = r["page"]
            print("%-12s frames/s %5.1f  repeats/s %4.1f  guest CPU %.2f cores (%s ms/frame)  "
                  "QEMU %.2f cores (%s ms/frame)  host %s cores (%s ms/frame)  "
                  "page: new pictures/s %s decoded/s %s capture->decoded p50 %s p99 %s ms "
                  "(guest clock offset %s ms taken out)"
                  % (p, r["fps"], r["repeats_per_s"], r["guest_cpu"],
                     fmt(per_frame(r, "guest_cpu"), "%.0f"), r["qemu_cpu"],
                     fmt(per_frame(r, "qemu_cpu"), "%.0f"), fmt(r["host_cpu"], "%.2f"),
                     fmt(per_frame(r, "host_cpu"), "%.1f"),
                     fmt(pg.get("new_pictures") and pg["new_pictures"] / pg["seconds"]),
                     fmt(pg.get("decoded_per_s")), fmt(pg.get("lat_p50"), "%.0f"),
                     fmt(pg.get("lat_p99"), "%.0f"), fmt(r["offset_ms"], "%.0f")), flush=True)
        raw = raw_phase(sock_path, con, ctx)
        print("raw port ceiling (dd if=/dev/zero, %d-byte writes): %.0f MB/s = %.1f "
              "1280x800 BGRx frames/s; 1080p60 BGRx needs %.0f MB/s (x%.1f)"
              % (FRAME_BYTES, raw / 1e6, raw / FRAME_BYTES, 1920 * 1080 * 4 * 60 / 1e6,
                 1920 * 1080 * 4 * 60 / raw), flush=True)
    except (TimeoutError, socket.timeout) as e:
        print("guest-speed: %s; console tail:\n%s" % (e, con.read()[-4000:]), flush=True)
        return 1
    finally:
        qemu.kill()
        qemu.wait()
        subprocess.run(["rm", "-rf", work])
    summarize(results)
    return 0


def mean(rs, f):
    v = [f(r) for r in rs]
    v = [x for x in v if x is not None]
    return sum(v) / len(v) if v else None


def summarize(results):
    def kind(r):
        return re.sub(r"\d+", "", r["name"])

    print("\nmeans over rounds:")
    by = {}
    for r in results:
        by.setdefault(kind(r), []).append(r)
    cols = {
        "fps": lambda r: r["fps"],
        "guest_ms": lambda r: per_frame(r, "guest_cpu"),
        "qemu_ms": lambda r: per_frame(r, "qemu_cpu"),
        "host_ms": lambda r: per_frame(r, "host_cpu"),
        "p50": lambda r: r["page"].get("lat_p50"),
        "p99": lambda r: r["page"].get("lat_p99"),
        "guest_cores": lambda r: r["guest_cpu"],
        "host_cores": lambda r: r["host_cpu"],
    }
    m = {k: {c: mean(rs, f) for c, f in cols.items()} for k, rs in by.items()}
    for k, v in m.items():
        print("  %-10s frames/s %5s  capture->decoded p50 %5s p99 %5s ms  guest CPU %s ms/frame "
              "(%s cores)  QEMU %s ms/frame  host %s ms/frame (%s cores)"
              % (k, fmt(v["fps"]), fmt(v["p50"], "%.0f"), fmt(v["p99"], "%.0f"),
                 fmt(v["guest_ms"], "%.0f"), fmt(v["guest_cores"], "%.2f"),
                 fmt(v["qemu_ms"], "%.0f"), fmt(v["host_ms"], "%.1f"),
                 fmt(v["host_cores"], "%.2f")))
    for a, b in (("new", "old"), ("new-idle", "old-idle")):
        if a in m and b in m:
            def ratio(c):
                x, y = m[a][c], m[b][c]
                return "-" if x is None or not y else "%.2f" % (x / y)
            print("  ratio %s/%s: frames/s %s, p50 %s, p99 %s, guest CPU/frame %s, "
                  "QEMU CPU/frame %s, host CPU/frame %s, guest cores %s, host cores %s"
                  % (a, b, ratio("fps"), ratio("p50"), ratio("p99"), ratio("guest_ms"),
                     ratio("qemu_ms"), ratio("host_ms"), ratio("guest_cores"),
                     ratio("host_cores")))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
