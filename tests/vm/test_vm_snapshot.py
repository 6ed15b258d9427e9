#!/usr/bin/python3
# vm suite: sessions started from a snapshot base (vm/vmstream-vm --snapshot),
# with the cached test image and --fast-init (the mechanism is the desktop's:
# the same share copy, unmount, fw_cfg secret and restore):
#  1. session A finds no base: the guest boots once as a base (the share
#     copied and unmounted, state saved), then A restores it and streams
#     frames to a host that requires A's link secret;
#  2. session B, with its own secret, socket and overlay, restores the same
#     base (no boot) and streams while A still does: both decode frames;
#  3. session C restored with one secret while its host requires another:
#     the host drops it with "authentication failed" and gets no frame;
#  4. a changed input (another --set) gives another key: a new base is built,
#     the first stays; A's overlay is removed when its QEMU ends;
#  5. the base's state truncated (session E), then altered with its size
#     kept (F): the session start says so ("is damaged: ..."), builds the
#     base again and (E) streams (QEMU cannot load either state).
# Prints the base build time and the restore-to-first-frame times.
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vm_stream as t  # noqa: E402


def write_secret(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


class Session:
    """A host pipeline requiring @host_secret and a VM restored with @vm_secret."""

    def __init__(self, workdir, base_dir, name, vm_secret, host_secret, sets=None):
        d = os.path.join(workdir, name)
        os.makedirs(os.path.join(d, "rt"), mode=0o700)
        write_secret(os.path.join(d, "host-secret"), host_secret)
        write_secret(os.path.join(d, "rt", "link-secret"), vm_secret)
        self.sock = os.path.join(d, "stream.sock")
        self.host = t.Host(self.sock, secret_file=os.path.join(d, "host-secret"))
        self.vm = t.VM(d, self.sock)
        self.vm.extra = ["--fast-init", "--snapshot", "--base-dir", base_dir]
        if sets:
            self.vm.sets.update(sets)
        self.name = name

    def start(self):
        self.host.start()
        self.vm.start()

    def log_text(self):
        try:
            with open(self.vm.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        self.vm.kill()
        self.host.stop()


def kill_group(proc):
    """SIGKILL to @proc's process group (it leads one), until it is empty."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    t.check(False, "process group %d still has members 10 s after SIGKILL" % proc.pid)


def streaming(s, n):
    """@n decoded frames; a refused secret fails at once instead of timing out."""
    t.check(not any("authentication failed" in w for w in s.host.warnings),
            "session %s: its host refused the guest's secret: %s" % (s.name, s.host.warnings[-1:]))
    return s.host.decoded >= n or not s.vm.alive()


def flip(path, offset, n):
    """Inverts @n bytes of @path at @offset (same size, other contents)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(n)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in data))


def bases(base_dir):
    return sorted(d for d in os.listdir(base_dir) if not d.startswith("."))


def main():
    t.Gst.init(None)
    for f in ("vsocksrc", "vsocksink", "x264enc", "avdec_h264"):
        t.check(t.Gst.ElementFactory.find(f) is not None, "GStreamer element %s is missing" % f)
    t.ensure_image()
    workdir = tempfile.mkdtemp(prefix="vmstream-vmsnap-")
    base_dir = os.path.join(workdir, "bases")
    sessions = []
    ok = False
    try:
        # 1. the first session builds the base, then restores it
        a = Session(workdir, base_dir, "a", "a" * 64, "a" * 64)
        sessions.append(a)
        a.start()
        t.wait_until(lambda: streaming(a, 30), 2 * t.BOOT_TIMEOUT,
                     "30 decoded frames from session A", a.host)
        t.check(a.vm.alive(), "A's QEMU exited (status %s)" % a.vm.proc.returncode)
        t.check("building the snapshot base" in a.log_text(), "A built no base")
        build = a.host.first_raw_time - a.vm.started
        t.log("A: base built and restored, first frame %.1f s after start" % build)
        t.check(bases(base_dir) and len(bases(base_dir)) == 1, "not one base: %r" % bases(base_dir))
        t.check(os.path.exists(os.path.join(workdir, "a", "rt", "disk.qcow2")), "A has no overlay")
        console = a.vm.console_text()
        t.check("copied the 9p share" in console, "the base guest did not copy its share")

        # 2. a second session restores the same base with its own secret
        b = Session(workdir, base_dir, "b", "b" * 64, "b" * 64)
        sessions.append(b)
        b.start()
        a_before = a.host.decoded
        t.wait_until(lambda: streaming(b, 30), t.BOOT_TIMEOUT,
                     "30 decoded frames from session B", b.host)
        t.check(b.vm.alive(), "B's QEMU exited (status %s)" % b.vm.proc.returncode)
        t.check("restoring the snapshot base" in b.log_text(), "B did not restore the base")
        t.check("building the snapshot base" not in b.log_text(), "B built a base again")
        restore_b = b.host.first_raw_time - b.vm.started
        t.log("B: restored, first frame %.1f s after start" % restore_b)
        t.wait_until(lambda: a.host.decoded >= a_before + 10, 60,
                     "10 more frames from A while B streams", a.host)
        t.log("A and B streaming at once: %d and %d decoded frames" % (a.host.decoded, b.host.decoded))

        # 3. a session whose guest proves another secret than its host's
        c = Session(workdir, base_dir, "c", "c" * 64, "a" * 64)
        sessions.append(c)
        c.start()
        t.wait_until(lambda: any("authentication failed" in w for w in c.host.warnings)
                     or not c.vm.alive(), t.BOOT_TIMEOUT,
                     "C's host to refuse the wrong secret", c.host)
        t.check(c.host.raw == 0, "C's host took %d frames with a wrong secret" % c.host.raw)
        t.log("C: refused (authentication failed), no frame")
        c.stop()
        # vmstream-vm's clean-up waits for the name lock QEMU held
        t.wait_until(lambda: not os.path.exists(os.path.join(workdir, "c", "rt", "disk.qcow2")),
                     10, "C's overlay to be removed once its QEMU ended")

        # 4. another input, another key: a new base
        d = Session(workdir, base_dir, "d", "d" * 64, "d" * 64, sets={"FRAMERATE": 15})
        sessions.append(d)
        d.start()
        t.wait_until(lambda: "building the snapshot base" in d.log_text()
                     or "restoring" in d.log_text() or not d.vm.alive(), 60,
                     "D to look for its base")
        t.check("building the snapshot base" in d.log_text(),
                "a changed guest pipeline did not build a new base")
        d.stop()
        t.check(len(bases(base_dir)) == 1, "the first base is gone or another was kept: %r"
                % bases(base_dir))

        # 5. a damaged base (QEMU could not load it: without the check every
        # start of the session failed): detected, said, built again, streams
        a.stop()
        b.stop()
        state = os.path.join(base_dir, bases(base_dir)[0], "state")
        size = os.path.getsize(state)
        # E goes all the way (detected, built again, streams). F, the other
        # check (the CRC), only until it says so and starts building the
        # base: then its whole process group (vmstream-vm, snapshot-base,
        # the base's QEMU) is killed; another base boot would prove nothing
        # E did not, and costs CI half a minute.
        damages = (
            ("e", "truncated", lambda: os.truncate(state, size // 2),
             "state is %d bytes, %d when it was saved" % (size // 2, size), True),
            # same size, the first bytes (QEMU's "QEVM" magic) changed
            ("f", "altered", lambda: flip(state, 0, 8), "it was altered", False),
        )
        for name, what, damage, why, full in damages:
            damage()
            s = Session(workdir, base_dir, name, name * 64, name * 64)
            sessions.append(s)
            s.vm.own_group = not full
            s.start()

            def said():
                log = s.log_text()
                return ("is damaged: " in log and why in log
                        and "building the snapshot base" in log)
            if full:
                t.wait_until(lambda: streaming(s, 30), 2 * t.BOOT_TIMEOUT,
                             "30 decoded frames from session %s (base %s)" % (name, what),
                             s.host)
                t.check(s.vm.alive(), "%s's QEMU exited (status %s): the %s base was used"
                        % (name, s.vm.proc.returncode, what))
            else:
                t.wait_until(lambda: said() or not s.vm.alive(), 60,
                             "session %s to look at its base" % name)
            t.check(said(), "session %s: the log does not say that the base's state was %s "
                    "(%r): %s" % (name, what, why, s.log_text()[-800:]))
            if not full:
                kill_group(s.vm.proc)
            t.log("%s: %s state detected (%s), base %s" % (
                name.upper(), what, why, "built again, streaming" if full else "being built again"))
            s.stop()
            t.check(len(bases(base_dir)) == 1, "not one base: %r" % bases(base_dir))
        ok = True
    except t.Failure as e:
        t.log("FAIL: %s" % e)
    finally:
        for s in sessions:
            s.stop()
        if not ok:
            for s in sessions:
                t.log("==== session %s" % s.name)
                s.vm.dump()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
