#!/usr/bin/python3
# vm suite: a session in capture mode "qemu" of a guest that runs none of
# vmstream's software, under the supervisor, seen in Chromium.
#
# The guest is the test image booted with vmstream-init (--fast-init), but
# with no vmstream plugin copied in and the guest pipeline replaced by the
# shell script below (--guest-script; vmstream-keylog, the image's input
# logger, runs until the script stops it). Nothing in the guest
# captures or sends its screen; the host reads it from QEMU's VNC server
# (vmstream-vm --vnc-socket RUN_DIR/vnc.sock, added by the supervisor's
# default-style QEMU command through ${CAPTURE_ARGS}) with qemudisplaysrc
# (pipelines/host-qemu-display.txt). The guest script shows a banner on the
# VGA text console (80x25 = 720x400 pixels; the guest has no virtio-gpu
# driver loaded yet, so virtio-vga acts as a standard VGA) and waits for the
# A key on the guest's evdev keyboards (evtest; the console's VT gets no
# keys in this minimal guest); when it comes, it writes to the screen and
# loads the virtio-gpu driver, whose framebuffer console switches the
# display to the device's own mode (1280x800).
# Checks:
#  1. frames of the text console (720x400) are decoded in Chromium through
#     the player of the session's viewer link;
#  2. KeyA pressed in the page reaches the guest through QMP
#     input-send-event: the guest's keyboard reports KEY_A to the script;
#  3. the display's resolution change renegotiates the stream: Chromium
#     then decodes frames of the new size.
# One boot, ~40-60 s under TCG. Exit 77 without the image, node, Chromium.
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.environ.get("VMSTREAM_SOURCE_ROOT",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("VMSTREAM_BUILD_ROOT", os.path.join(SRC, "build"))
SUP = os.path.join(BUILD, "supervisor", "vmstream-supervisor")
VMV = os.path.join(SRC, "vm", "vmstream-vm")
NODE_MODULES = os.path.join(SRC, "tests", "browser", "node_modules", "playwright-core")

GUEST_SH = r'''# not vmstream software: a banner on the VGA console, one key, a driver
exec 2>&1
# The image's input logger (vmstream-keylog) runs evtest, which grabs the
# keyboards: stop it and watch them here (the console's VT does not get
# the keys in this minimal guest).
for p in /proc/[0-9]*; do
  case "$(tr '\0' ' ' <$p/cmdline 2>/dev/null)" in
  *vmstream-keylog* | evtest*) kill ${p#/proc/} ;;
  esac
done 2>/dev/null
rm -f /tmp/key
for ev in /sys/class/input/event*; do
  case "$(cat $ev/device/name)" in
  *[Kk]eyboard*)
    # (a pipeline ends with its last command's exit only once evtest
    # exits too: the touch goes inside)
    evtest /dev/input/${ev##*/} | { grep -q -m1 'KEY_A), value 1' && touch /tmp/key; } & ;;
  esac
done
printf '\033[2J\033[H  vmstream qemu-capture test: press A\n' >/dev/tty1
echo "guest-script: waiting for a key"
while [ ! -e /tmp/key ]; do sleep 0.1; done
echo "guest-script: key 'a'"
printf '  you typed: a\n' >/dev/tty1
modprobe virtio_gpu && echo "guest-script: virtio_gpu loaded"
sleep 100000
'''


def log(msg):
    print("test_qemu_capture: " + msg, flush=True)


failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def main(tmp):
    if os.environ.get("VMSTREAM_ASAN_PRELOAD"):
        skip("not under ASan (QEMU and Chromium are not ours)")
    if subprocess.run([VMV, "image"], capture_output=True).returncode != 0:
        skip("no test guest image (vm/vmstream-vm build-image; test vm-stream builds it)")
    if not (shutil.which("node") and os.path.exists("/usr/bin/chromium")
            and os.path.isdir(NODE_MODULES) and shutil.which("qemu-system-x86_64")):
        skip("needs qemu-system-x86_64, node, /usr/bin/chromium and tests/browser/node_modules")
    guest_sh = os.path.join(tmp, "guest.sh")
    with open(guest_sh, "w") as f:
        f.write(GUEST_SH)
    noplugins = os.path.join(tmp, "no-plugins")  # nothing of ours in the guest
    os.mkdir(noplugins)
    run = os.path.join(tmp, "run")
    cmd = ("env -u LD_PRELOAD VMSTREAM_GUEST_PLUGINS=%s ${VM_DIR}/vmstream-vm run "
           "--variant test --name ${SESSION_ID} --runtime-dir ${RUN_DIR} --qmp ${QMP_SOCKET} "
           "--guest-script %s --fast-init ${CAPTURE_ARGS}" % (noplugins, guest_sh))
    env = dict(os.environ, HELIX_RUNTIME_DIR=run, HELIX_VM_DIR=os.path.join(SRC, "vm"),
               HELIX_TEMPLATES_DIR=os.path.join(SRC, "pipelines"), HELIX_ENCODER="x264",
               HELIX_VAR_ENCODER_SETTINGS="speed-preset=ultrafast")
    env.pop("HELIX_TOKEN", None)
    env.pop("LD_PRELOAD", None)
    errpath = os.path.join(tmp, "supervisor.log")
    err = open(errpath, "w")
    with socket.socket() as probe:  # a free RTSP port (8554 may be taken)
        probe.bind(("127.0.0.1", 0))
        rtsp_port = probe.getsockname()[1]
    sup = subprocess.Popen([SUP, "--listen", "127.0.0.1:0", "--vm-backend", "qemu",
                            "--rtsp-port", str(rtsp_port),
                            "--capture", "qemu", "--qemu-command", cmd,
                            "--powerdown-timeout", "2"],
                           env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    node = None
    try:
        r, _, _ = select.select([sup.stdout], [], [], 30)
        line = sup.stdout.readline() if r else ""
        check(line.startswith("READY "), "supervisor ready (%r)" % line)
        port = int(line.split()[1])
        with open(os.path.join(run, "admin-token")) as f:
            token = f.read().strip()
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1/sessions" % port,
                                     data=json.dumps({"fps": 15}).encode(), method="POST",
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=60) as resp:
            s = json.loads(resp.read())
        check(s["capture"] == "qemu" and s["template"] == "host-qemu-display"
              and s["state"] == "running",
              "session in capture mode qemu, host-qemu-display, running (%s)" % s["state"])
        console = os.path.join(run, s["id"], "console.log")

        def console_has(*words):  # the console file exists once QEMU runs
            text = open(console, errors="replace").read() if os.path.exists(console) else ""
            return all(w in text for w in words)

        nenv = dict(os.environ)
        nenv.pop("LD_PRELOAD", None)
        node = subprocess.Popen(["node", os.path.join(SRC, "tests", "vm", "qemu-capture-browser.js"),
                                 s["viewer_url"]], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=nenv)

        def ask(what):
            node.stdin.write(what + "\n")
            node.stdin.flush()
            out = node.stdout.readline()
            return json.loads(out) if out.startswith("{") else {"error": node.stderr.read()[-800:]}

        st = ask("size 720 400")
        check("player" in st, "Chromium decodes the guest's VGA text console, 720x400, "
              "%.0f s after the POST (%s)" % (time.monotonic() - t0, st.get("sizes", st)))
        ok = False
        end = time.monotonic() + 120
        while time.monotonic() < end and not ok:
            ok = console_has("guest-script: waiting for a key")
            time.sleep(0.2)
        check(ok, "the guest script waits for a key (%.0f s after the POST)" % (time.monotonic() - t0))
        share = os.path.join(run, s["id"], "share")
        check(os.listdir(os.path.join(share, "plugins")) == [],
              "the guest got no vmstream plugin (%s)" % os.listdir(share))
        st = ask("key")
        check("player" in st, "the page sent KeyA (%s)" % st.get("error", "ok"))
        ok = False
        end = time.monotonic() + 30
        while time.monotonic() < end and not ok:
            ok = console_has("guest-script: key 'a'")
            time.sleep(0.2)
        check(ok, "the key typed in the page reached the guest through QMP "
              "(the guest script saw KEY_A)")
        st = ask("other 720 400")
        sizes = st.get("sizes", {})
        new = [k for k in sizes if k not in ("720x400", "640x480")]
        check(console_has("guest-script: virtio_gpu loaded") and new,
              "the guest's resolution change renegotiated the stream: Chromium decodes %s "
              "after 720x400 (%s)" % (new, sizes))
        node.stdin.close()
        node.wait(timeout=30)
        t1 = time.monotonic()
        req = urllib.request.Request("http://127.0.0.1:%d/api/v1/sessions/%s" % (port, s["id"]),
                                     method="DELETE", headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=60):
            pass
        check(not os.path.exists("/proc/%d" % s["qemu_pid"]),
              "DELETE stops QEMU (%.1f s)" % (time.monotonic() - t1))
    finally:
        if node and node.poll() is None:
            node.kill()
            node.wait()
        sup.send_signal(signal.SIGTERM)
        try:
            sup.wait(60)
        except subprocess.TimeoutExpired:
            sup.kill()
            sup.wait()
        err.close()
        if failures:
            with open(errpath) as f:
                print("--- supervisor log:\n" + f.read()[-4000:])
            for s_dir in os.listdir(run) if os.path.isdir(run) else []:
                c = os.path.join(run, s_dir, "console.log")
                if os.path.exists(c):
                    with open(c, errors="replace") as f:
                        print("--- guest console %s:\n%s" % (s_dir, f.read()[-3000:]))


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="vms-qcapture-")
    try:
        main(tmp)
    except Exception as exc:  # a crash is a failure with its reason
        import traceback
        traceback.print_exc()
        failures.append(repr(exc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    sys.exit(0)
