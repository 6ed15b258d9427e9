#!/usr/bin/python3
# vm-transport.py: guest-to-host throughput over virtio-serial under QEMU/TCG,
# vsocksink (this project) against its peer, a plain byte copy through the
# same port (gst-launch-1.0 ... ! fdsink | cat > /dev/virtio-ports/vmstream.0),
# and against the port's ceiling (dd from /dev/zero, no video source).
# Both run in one boot of the cached test guest, from the same non-live
# videotestsrc, so the ratio shows what vsocksink's framing, handshake and
# drop policy cost on top of raw bytes.
#
#   bench/vm-transport.py [--width 1280 --height 720 --frames 150]
#
# Needs the guest image (vm/build-image) and a build with the plugins:
# VMSTREAM_BUILD_ROOT (default ./build) and GST_PLUGIN_PATH_1_0 pointing at it
# (meson devenv -C build bench/vm-transport.py does both).
import argparse
import os
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

GUEST_SCRIPT = """
set -f
caps="video/x-raw,format=NV12,width={w},height={h},framerate=60/1"
echo "bench: dd start"
dd if=/dev/zero of=/dev/virtio-ports/vmstream.0 bs={fs} count={n} 2>/dev/null
echo "bench: dd done"
sleep 4
echo "bench: raw start"
gst-launch-1.0 -q videotestsrc num-buffers={n} pattern=smpte ! $caps ! fdsink fd=1 sync=false \\
  | cat > /dev/virtio-ports/vmstream.0
echo "bench: raw done"
sleep 4
echo "bench: vsocksink start"
gst-launch-1.0 -q videotestsrc num-buffers={n2} pattern=smpte ! $caps \\
  ! vsocksink sync=false uri=serial:///dev/virtio-ports/vmstream.0
echo "bench: vsocksink done"
sleep 100000
"""


def console(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--frames", type=int, default=150)
    a = ap.parse_args()
    fs = a.width * a.height * 3 // 2
    Gst.init(None)
    work = tempfile.mkdtemp(prefix="vmstream-bench-")
    sock_path = os.path.join(work, "stream.sock")
    script = os.path.join(work, "guest.sh")
    with open(script, "w") as f:
        # The vsocksink run sends a few more frames than are timed, so
        # that the first N after its handshake are all measured.
        f.write(GUEST_SCRIPT.format(w=a.width, h=a.height, fs=fs, n=a.frames, n2=a.frames + 30))
    con = os.path.join(work, "console.log")

    listener = socket.socket(socket.AF_UNIX)
    listener.bind(sock_path)
    listener.listen(1)
    cmd = [os.path.join(SRC, "vm", "vmstream-vm"), "run", "--name", "bench-%d" % os.getpid(),
           "--runtime-dir", os.path.join(work, "rt"), "--console", con,
           "--stream-socket", sock_path, "--guest-script", script,
           "--plugins", os.path.join(BUILD, "plugins", "vsocksink")]
    qemu = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        def raw_phase(name):
            """Counts raw bytes of one guest connection; returns frames/s."""
            listener.settimeout(120)
            conn, _ = listener.accept()
            conn.settimeout(240)
            total = a.frames * fs
            got = 0
            t_first = None
            while got < total:
                d = conn.recv(1 << 20)
                if not d:
                    break
                if t_first is None:
                    t_first = time.monotonic()
                got += len(d)
            t = time.monotonic() - t_first
            conn.close()
            fps = (got / fs) / t
            print("%s: %d frames of %dx%d NV12 in %.2f s: %.1f frames/s, %.0f MB/s"
                  % (name, got // fs, a.width, a.height, t, fps, got / t / 1e6), flush=True)
            return fps

        # Ceiling: dd from /dev/zero, no video source at all.
        dd_fps = raw_phase("ceiling (dd if=/dev/zero, no source)")
        # Peer: the same video source, raw bytes through the port.
        raw_fps = raw_phase("peer (videotestsrc ! fdsink | cat)")
        listener.close()
        os.unlink(sock_path)

        # vmstream: vsocksink -> vsocksrc (QEMU reconnects to the new listener).
        pipe = Gst.parse_launch("vsocksrc name=src uri=unix://%s ! fakesink sync=false" % sock_path)
        times = []
        pipe.get_by_name("src").get_static_pad("src").add_probe(
            Gst.PadProbeType.BUFFER, lambda p, i: (times.append(time.monotonic()), Gst.PadProbeReturn.OK)[1])
        pipe.set_state(Gst.State.PLAYING)
        ctx = GLib.MainContext.default()
        deadline = time.monotonic() + 240
        while len(times) < a.frames and time.monotonic() < deadline:
            if "bench: vsocksink done" in console(con):
                break
            ctx.iteration(False)
            time.sleep(0.05)
        pipe.set_state(Gst.State.NULL)
        n = min(len(times), a.frames)
        if n < 2:
            print("vsocksink: no frames arrived", flush=True)
            return 1
        t_vs = times[n - 1] - times[0]
        vs_fps = (n - 1) / t_vs
        print("vsocksink -> vsocksrc: %d frames in %.2f s: %.1f frames/s, %.0f MB/s"
              % (n, t_vs, vs_fps, (n - 1) * fs / t_vs / 1e6), flush=True)
        print("ratio vsocksink / peer: %.2f   vsocksink / ceiling: %.2f"
              % (vs_fps / raw_fps, vs_fps / dd_fps), flush=True)
        return 0
    finally:
        qemu.kill()
        qemu.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
