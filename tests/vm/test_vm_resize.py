#!/usr/bin/python3
# vm-desktop suite (opt-in with VMSTREAM_VM_DESKTOP=1, like vm-desktop):
# resizes the desktop guest's screen from the host under TCG.
#  1. the desktop guest boots (Sway, the ScreenCast portal, pipewiresrc ->
#     vsocksink resize-program=vmstream-resize) and the host decodes its
#     1280x800 frames;
#  2. the host sends vsocksrc a vmstream-resize event for 1024x768 (what a
#     session's POST .../resize does): the guest's vmstream-resize sets
#     Sway's output mode, xdg-desktop-portal-wlr renegotiates, the guest
#     sends CAPS, and the host decodes frames of 1024x768; then 1600x900;
#  3. with --snapshot (VMSTREAM_VM_RESIZE_SNAPSHOT=1, or the argument
#     "snapshot"): the same from a guest restored from a snapshot base.
# Prints the time from each request to the first decoded frame of the new
# size.
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vm_stream as t  # noqa: E402

Gst = t.Gst
SIZES = [(1024, 768), (1600, 900)]


class Sizes:
    """The size of every decoded frame, with its arrival time."""

    def __init__(self, host):
        self.last = None
        self.first_at = {}
        host.pipeline.get_by_name("decoded").connect("handoff", self._on_decoded)

    def _on_decoded(self, sink, buf, pad):
        s = pad.get_current_caps().get_structure(0)
        size = (s.get_value("width"), s.get_value("height"))
        self.last = size
        self.first_at.setdefault(size, time.monotonic())


def resize_event(w, h):
    return Gst.Event.new_custom(
        Gst.EventType.CUSTOM_UPSTREAM,
        Gst.Structure.new_from_string("vmstream-resize, width=(int)%d, height=(int)%d" % (w, h)))


def main():
    if os.environ.get("VMSTREAM_VM_DESKTOP") != "1":
        t.log("skipped: set VMSTREAM_VM_DESKTOP=1 to build the desktop image and run this test")
        return 77
    snapshot = "snapshot" in sys.argv[1:] or os.environ.get("VMSTREAM_VM_RESIZE_SNAPSHOT") == "1"
    t.Gst.init(None)
    t.ensure_image("desktop")
    workdir = tempfile.mkdtemp(prefix="vmstream-vmresize-")
    sock_path = os.path.join(workdir, "stream.sock")
    host = t.Host(sock_path)
    sizes = Sizes(host)
    src = host.pipeline.get_by_name("src")
    vm = t.desktop_vm(workdir, sock_path)
    if snapshot:
        vm.extra = ["--snapshot", "--base-dir", os.path.join(workdir, "bases")]
    ok = False
    try:
        host.start()
        vm.start()
        t.wait_until(lambda: sizes.last is not None or not vm.alive(), 2 * t.BOOT_TIMEOUT,
                     "a decoded frame of the guest's desktop", host)
        t.check(vm.alive(), "QEMU exited (status %s)" % vm.proc.returncode)
        t.log("desktop %dx%d, first frame %.1f s after QEMU start%s"
              % (sizes.last + (time.monotonic() - vm.started,
                               " (restored from a snapshot base)" if snapshot else "")))
        # the sender offered RESIZE in its HELLO
        t.wait_until(lambda: src.get_property("stats").get_value("sender-resizable"), 30,
                     "a sender that offers RESIZE", host)
        for w, h in SIZES:
            asked = time.monotonic()
            t.check(src.send_event(resize_event(w, h)), "vsocksrc refused the resize event")
            t.wait_until(lambda: sizes.last == (w, h), 60,
                         "decoded frames of %dx%d (last: %r)" % (w, h, sizes.last), host)
            t.log("resize to %dx%d: first decoded frame %.2f s after the request"
                  % (w, h, sizes.first_at[(w, h)] - asked))
            # the stream goes on at the new size
            t.wait_until(lambda: sizes.last == (w, h)
                         and time.monotonic() - sizes.first_at[(w, h)] > 2, 30,
                         "the stream to go on at %dx%d" % (w, h), host)
        # outside what the guest can take: refused before the guest
        t.check(not src.send_event(resize_event(0, 768)), "a 0-wide resize was sent")
        ok = True
        # where the time went, in the guest's own words
        for line in vm.console_text().splitlines():
            if "vmstream-resize:" in line or "for a resize" in line:
                t.log("guest: " + line.strip()[-150:])
    except t.Failure as e:
        t.log("FAIL: %s (raw frames %d, last size %r)" % (e, host.raw, sizes.last))
    finally:
        status = t.end_run(vm, host, workdir, ok)
    return status


if __name__ == "__main__":
    sys.exit(main())
