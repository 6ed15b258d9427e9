#!/usr/bin/python3
# vm suite: boots the Debian test guest under QEMU/TCG (vm/vmstream-vm, profile
# tcg) and checks the whole guest-to-host path:
#  1. the guest's vsocksink sends 640x360 NV12 frames over virtio-serial to a
#     host pipeline  vsocksrc uri=unix://... ! videoconvert ! x264enc !
#     h264parse ! tee ! (avdec_h264 ! fakesink) (wsh264sink);
#     >= 30 frames of 640x360 must be decoded, and a WebSocket client of
#     wsh264sink must get the init message and >= 30 access units;
#  1b. the guest's first pipeline is SIGKILLed mid-stream; the next one gets
#     through on the same virtio-serial connection (new HELLO);
#  2. a key and a pointer position sent with QMP input-send-event reach the
#     guest (its vmstream-keylog prints them on the serial console);
#  3. QEMU is killed mid-stream: the host pipeline keeps running (no error,
#     no EOS) and frames flow again, to the same WebSocket client, once the
#     guest has booted again.
# Builds the cached guest image first when it is missing (about 1-3 min).
# Prints boot-to-first-frame times (docs/vm.md records them).
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import wsclient  # noqa: E402

WIDTH, HEIGHT = 640, 360
SRC = os.environ.get("VMSTREAM_SOURCE_ROOT",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("VMSTREAM_BUILD_ROOT", os.path.join(SRC, "build"))
VMSTREAM_VM = os.path.join(SRC, "vm", "vmstream-vm")
BOOT_TIMEOUT = float(os.environ.get("VMSTREAM_VM_BOOT_TIMEOUT", "240"))


def log(msg):
    print("test_vm_stream: " + msg, flush=True)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def ensure_image(variant="test"):
    r = subprocess.run([VMSTREAM_VM, "image", "--variant", variant], capture_output=True, text=True)
    if r.returncode == 0:
        log("guest image (cached): " + r.stdout.strip())
        return
    check(r.returncode == 3, "vmstream-vm image failed: " + r.stderr)
    log("guest image missing, building it: " + r.stderr.strip())
    t = time.monotonic()
    b = subprocess.run([os.path.join(SRC, "vm", "build-image"), "--variant", variant])
    check(b.returncode == 0, "the guest image build failed (see its output above)")
    log("guest image built in %.0f s" % (time.monotonic() - t))


class Host:
    """The host pipeline, a WebSocket client of its wsh264sink, and counters."""

    def __init__(self, sock_path, secret_file=None):
        secret = " secret-file=%s" % secret_file if secret_file else ""
        desc = (
            "vsocksrc name=src uri=unix://%s%s ! queue ! videoconvert ! "
            "video/x-raw,format=I420 ! "
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
            "h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! "
            "tee name=t "
            "t. ! queue ! avdec_h264 ! fakesink name=decoded signal-handoffs=true sync=false "
            "t. ! queue ! wsh264sink name=ws port=0 session-id=vm" % (sock_path, secret))
        self.pipeline = Gst.parse_launch(desc)
        self.raw = 0
        self.raw_discont = 0
        self.decoded = 0
        self.bad_size = []
        self.errors = []
        self.warnings = []
        self.eos = False
        self.ws_init = None
        self.ws_frames = 0
        self.ws_closed = False
        self.ws = None
        self.first_raw_time = None
        src_pad = self.pipeline.get_by_name("src").get_static_pad("src")
        src_pad.add_probe(Gst.PadProbeType.BUFFER, self._on_raw)
        self.pipeline.get_by_name("decoded").connect("handoff", self._on_decoded)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self._on_message)

    def _on_raw(self, pad, info):
        buf = info.get_buffer()
        self.raw += 1
        if self.first_raw_time is None:
            self.first_raw_time = time.monotonic()
        if buf.has_flags(Gst.BufferFlags.DISCONT):
            self.raw_discont += 1
        return Gst.PadProbeReturn.OK

    def _on_decoded(self, sink, buf, pad):
        s = pad.get_current_caps().get_structure(0)
        w, h = s.get_value("width"), s.get_value("height")
        if (w, h) != (WIDTH, HEIGHT):
            self.bad_size.append((w, h))
        else:
            self.decoded += 1

    def _on_message(self, bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            self.errors.append("%s: %s (%s)" % (msg.src.get_name(), err.message, dbg))
            log("pipeline ERROR " + self.errors[-1])
        elif msg.type == Gst.MessageType.EOS:
            self.eos = True
            log("pipeline EOS")
        elif msg.type == Gst.MessageType.WARNING:
            err, dbg = msg.parse_warning()
            self.warnings.append("%s (%s)" % (err.message, dbg))
            log("pipeline warning from %s: %s" % (msg.src.get_name(), err.message))

    def start(self):
        r = self.pipeline.set_state(Gst.State.PLAYING)
        check(r != Gst.StateChangeReturn.FAILURE, "the host pipeline did not start")
        port = self.pipeline.get_by_name("ws").get_property("current-port")
        check(port > 0, "wsh264sink did not report its port")
        self.connect_ws(port)

    def connect_ws(self, port):
        log("WebSocket client connecting to ws://127.0.0.1:%d/stream/vm" % port)
        try:
            self.ws = wsclient.Watch(GLib, port, "/stream/vm",
                                     on_text=self._on_ws_text,
                                     on_binary=self._on_ws_binary,
                                     on_closed=self._on_ws_closed)
        except (OSError, ConnectionError) as e:
            self.errors.append("WebSocket connect to port %d failed: %s" % (port, e))

    def _on_ws_text(self, text):
        m = json.loads(text)
        if m.get("type") == "init":
            self.ws_init = m

    def _on_ws_binary(self, data):
        self.ws_frames += 1

    def _on_ws_closed(self):
        self.ws_closed = True

    def stop(self):
        if self.ws is not None:
            self.ws.close()
        self.pipeline.set_state(Gst.State.NULL)
        self.pipeline.get_bus().remove_signal_watch()


def wait_until(pred, timeout, what, host=None):
    """Runs the main context until pred() holds; fails after timeout."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    tick = GLib.timeout_add(100, lambda: True)
    try:
        while not pred():
            if host is not None and (host.errors or host.eos):
                raise Failure("while waiting for %s the host pipeline stopped: %s"
                              % (what, host.errors or "EOS"))
            if time.monotonic() > deadline:
                raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))
            ctx.iteration(True)
    finally:
        GLib.source_remove(tick)


class VM:
    def __init__(self, workdir, sock_path):
        self.guest_script = None
        self.extra = []
        self.variant = "test"
        self.pipeline = os.path.join(SRC, "vm", "guest", "testsrc.txt")
        self.sets = {"WIDTH": WIDTH, "HEIGHT": HEIGHT, "FRAMERATE": 30}
        self.workdir = workdir
        self.sock_path = sock_path
        self.proc = None
        self.console = os.path.join(workdir, "console.log")
        self.qmp_path = os.path.join(workdir, "qmp.sock")
        self.log_path = os.path.join(workdir, "qemu.log")

    def start(self):
        plugins = os.path.join(BUILD, "plugins", "vsocksink")
        cmd = [VMSTREAM_VM, "run", "--profile", "tcg",
               "--name", "vmtest-%d" % os.getpid(),
               "--runtime-dir", os.path.join(self.workdir, "rt"),
               "--console", self.console, "--qmp", self.qmp_path,
               "--stream-socket", self.sock_path,
               "--variant", self.variant, "--pipeline", self.pipeline,
               "--plugins", plugins]
        for k, v in sorted(self.sets.items()):
            cmd += ["--set", "%s=%s" % (k, v)]
        if self.guest_script:
            cmd += ["--guest-script", self.guest_script]
        cmd += self.extra
        log("starting VM: " + " ".join(cmd))
        self.started = time.monotonic()
        with open(self.log_path, "ab") as out:
            # vmstream-vm execs QEMU: self.proc is QEMU itself (own_group: in
            # a process group of its own, for a kill of all it started).
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=getattr(self, "own_group", False))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def console_text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def qmp(self, commands):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(30)
        s.connect(self.qmp_path)
        f = s.makefile("rw")
        greeting = json.loads(f.readline())
        check("QMP" in greeting, "no QMP greeting: %r" % greeting)
        replies = []
        for c in [{"execute": "qmp_capabilities"}] + commands:
            f.write(json.dumps(c) + "\n")
            f.flush()
            while True:
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    break
            check("error" not in r, "QMP %s failed: %r" % (c["execute"], r))
            replies.append(r)
        s.close()
        return replies

    def dump(self):
        for name, path in (("QEMU output", self.log_path), ("guest console", self.console)):
            try:
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()[-40:]
            except FileNotFoundError:
                lines = ["(none)"]
            log("---- last lines of %s (%s):" % (name, path))
            for line in lines:
                print("    " + line, flush=True)


def desktop_vm(workdir, sock_path):
    """A VM of the desktop guest: guest-pipewire.txt on the portal's node."""
    vm = VM(workdir, sock_path)
    vm.variant = "desktop"
    vm.pipeline = os.path.join(SRC, "pipelines", "guest-pipewire.txt")
    vm.sets = {"PIPEWIRE_SOURCE_ARGS": "path=@PIPEWIRE_NODE@"}
    return vm


def end_run(vm, host, workdir, ok):
    """Stops QEMU and the host, shows QEMU's and the guest's last lines when
    the run failed, removes @workdir; returns the exit status."""
    vm.kill()
    host.stop()
    if not ok:
        vm.dump()
    os.system("rm -rf '%s'" % workdir)
    log("PASS" if ok else "FAILED")
    return 0 if ok else 1


def key_event(qcode, down):
    return {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": qcode}}}


def main():
    Gst.init(None)
    for f in ("vsocksrc", "vsocksink", "wsh264sink", "x264enc", "avdec_h264"):
        check(Gst.ElementFactory.find(f) is not None,
              "GStreamer element %s is missing (build the project; install "
              "gstreamer1.0-plugins-ugly / gstreamer1.0-libav)" % f)
    ensure_image()

    workdir = tempfile.mkdtemp(prefix="vmstream-vmtest-")
    sock_path = os.path.join(workdir, "stream.sock")
    host = Host(sock_path)
    vm = VM(workdir, sock_path)
    ok = False
    try:
        host.start()
        wait_until(lambda: host.ws is not None or host.errors, 10, "the WebSocket client to connect")
        check(not host.errors, "; ".join(host.errors))

        # 1. first boot: frames through the project's elements
        vm.guest_script = os.path.join(SRC, "tests", "vm", "guest-kill-once.sh")
        vm.start()
        wait_until(lambda: host.decoded >= 30 or not vm.alive(), BOOT_TIMEOUT,
                   "30 decoded frames from the guest", host)
        check(vm.alive(), "QEMU exited (status %s) before 30 frames arrived" % vm.proc.returncode)
        boot1 = host.first_raw_time - vm.started
        log("boot 1: first frame %.1f s after QEMU start; %d raw, %d decoded %dx%d frames"
            % (boot1, host.raw, host.decoded, WIDTH, HEIGHT))
        check(not host.bad_size, "decoded frames of the wrong size: %r" % host.bad_size[:5])
        wait_until(lambda: host.ws_frames >= 30, 60, "30 access units on the WebSocket", host)
        check(host.ws_init is not None, "the WebSocket client got no init message")
        check((host.ws_init.get("width"), host.ws_init.get("height")) == (WIDTH, HEIGHT),
              "WebSocket init message has the wrong size: %r" % host.ws_init)
        log("WebSocket client: init %s, %d access units" % (json.dumps(host.ws_init), host.ws_frames))

        # 1b. the guest's pipeline is killed (SIGKILL, no EOS, the virtio-serial
        # connection stays up on the host side); its successor must get
        # through with a new HELLO on the same connection.
        wait_until(lambda: "guest pipeline killed" in vm.console_text(), 60,
                   "the guest to kill its first pipeline", host)
        t_kill = time.monotonic()
        decoded_at_kill = host.decoded
        wait_until(lambda: host.decoded >= decoded_at_kill + 30, 60,
                   "30 decoded frames from the guest's second pipeline", host)
        log("guest pipeline restart inside the VM: 30 frames again %.1f s after the kill"
            % (time.monotonic() - t_kill))

        # 2. input: QMP input-send-event reaches the guest, once the guest
        # says it logs the virtio keyboard and the tablet.
        wait_until(lambda: "(QEMU Virtio Keyboard)" in vm.console_text()
                   and "Tablet)" in vm.console_text(), 60,
                   "the guest to watch its virtio keyboard and USB tablet", host)
        vm.qmp([{"execute": "input-send-event",
                 "arguments": {"events": [key_event("a", True)]}},
                {"execute": "input-send-event",
                 "arguments": {"events": [key_event("a", False)]}},
                {"execute": "input-send-event",
                 "arguments": {"events": [{"type": "abs", "data": {"axis": "x", "value": 16384}},
                                          {"type": "abs", "data": {"axis": "y", "value": 8192}}]}}])
        wait_until(lambda: "(KEY_A), value 1" in vm.console_text()
                   and "(KEY_A), value 0" in vm.console_text(), 30,
                   "the guest to log KEY_A press and release on its console", host)
        wait_until(lambda: "(ABS_X), value 16384" in vm.console_text(), 30,
                   "the guest to log the tablet position", host)
        log("input: KEY_A down/up and ABS_X 16384 logged by the guest")

        # 3. kill QEMU mid-stream: the host survives and resumes
        raw_before, decoded_before, ws_before = host.raw, host.decoded, host.ws_frames
        discont_before = host.raw_discont
        vm.kill()
        log("QEMU killed after %d raw frames" % raw_before)
        # The host must neither fail nor end; give it time to notice.
        t = time.monotonic()
        wait_until(lambda: time.monotonic() - t > 3, 10, "3 s without the guest", host)
        state = host.pipeline.get_state(0)[1]
        check(state == Gst.State.PLAYING, "host pipeline left PLAYING: %s" % state)
        check(not host.eos and not host.errors, "host pipeline ended: %r" % host.errors)

        host.first_raw_time = None
        vm.guest_script = None
        vm.start()
        wait_until(lambda: host.decoded >= decoded_before + 30 or not vm.alive(), BOOT_TIMEOUT,
                   "30 more decoded frames after the guest rebooted", host)
        check(vm.alive(), "QEMU exited (status %s) after the restart" % vm.proc.returncode)
        boot2 = host.first_raw_time - vm.started
        log("boot 2: first frame %.1f s after QEMU start; %d more decoded frames"
            % (boot2, host.decoded - decoded_before))
        check(host.raw_discont > discont_before,
              "the first buffer after the reconnect was not marked DISCONT")
        wait_until(lambda: host.ws_frames >= ws_before + 30, 60,
                   "30 more access units on the same WebSocket client", host)
        check(not host.ws_closed, "the WebSocket client was disconnected by the restart")
        check(not host.bad_size, "decoded frames of the wrong size: %r" % host.bad_size[:5])
        log("resumed: WebSocket client got %d more access units" % (host.ws_frames - ws_before))
        ok = True
    except Failure as e:
        log("FAIL: " + str(e))
    finally:
        vm.kill()
        host.stop()
        if not ok:
            vm.dump()
        subprocess.run(["rm", "-rf", workdir])
    log("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        log("FAIL: " + str(e))
        sys.exit(1)
