#!/usr/bin/python3
# vm-desktop suite, opt-in with VMSTREAM_VM_DESKTOP=1 (else it skips; slow:
# builds the desktop image once):
# boots the desktop guest under TCG (Sway, headless wlroots backend with the
# pixman renderer, PipeWire, xdg-desktop-portal-wlr). vmstream-desktop asks the
# ScreenCast portal for the screen and runs pipelines/guest-pipewire.txt with
# pipewiresrc path=<node>; the host decodes >= 30 frames of 1280x800 and a
# WebSocket client of wsh264sink gets >= 30 access units.
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vm_stream as t  # noqa: E402

# Sway takes virtio-vga's preferred mode.
t.WIDTH, t.HEIGHT = 1280, 800


def main():
    if os.environ.get("VMSTREAM_VM_DESKTOP") != "1":
        t.log("skipped: set VMSTREAM_VM_DESKTOP=1 to build the desktop image and run this test")
        return 77
    t.Gst.init(None)
    t.ensure_image("desktop")
    workdir = tempfile.mkdtemp(prefix="vmstream-vmdesktop-")
    sock_path = os.path.join(workdir, "stream.sock")
    host = t.Host(sock_path)
    vm = t.desktop_vm(workdir, sock_path)
    ok = False
    try:
        host.start()
        vm.start()
        t.wait_until(lambda: host.decoded >= 30 or not vm.alive(), 2 * t.BOOT_TIMEOUT,
                     "30 decoded frames of the guest's desktop", host)
        t.check(vm.alive(), "QEMU exited (status %s)" % vm.proc.returncode)
        t.check(not host.bad_size, "decoded frames of the wrong size: %r" % host.bad_size[:5])
        t.log("desktop: first frame %.1f s after QEMU start; %d decoded %dx%d frames"
              % (host.first_raw_time - vm.started, host.decoded, t.WIDTH, t.HEIGHT))
        t.wait_until(lambda: host.ws_frames >= 30, 60, "30 access units on the WebSocket", host)
        ok = True
    except t.Failure as e:
        t.log("FAIL: %s (raw frames %d, decoded %d, wrong size %r)"
              % (e, host.raw, host.decoded, host.bad_size[:3]))
    finally:
        status = t.end_run(vm, host, workdir, ok)
    return status


if __name__ == "__main__":
    sys.exit(main())
