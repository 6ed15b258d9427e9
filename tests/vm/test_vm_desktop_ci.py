#!/usr/bin/python3
# vm suite: the desktop guest in CI (issue 14, item 7). The product path as
# an operator gets it: vmstream-supervisor with HELIX_VM_BACKEND=qemu and the
# defaults (desktop variant: Sway, foot, PipeWire ScreenCast; snapshot on),
# TCG, the players of two sessions in one headless Chromium
# (tests/vm/desktop-ci-browser.js). The desktop (vm/guest/rootfs/etc/vmstream/
# sway.conf) is a shell in a terminal and a bar at the bottom whose clock
# ticks once a second; pixels are compared in 8x8 cells, the bar apart.
# One base, one boot:
#  1. session A finds no base (a private base folder): vmstream-vm boots the
#     desktop once as the base; a screenshot meanwhile is a clear 503 and A
#     goes on running; A then restores the base and Chromium decodes it;
#  2. session B restores the same base (no boot) and streams too;
#  3. (a) with no key, A's and B's clocks tick but their terminals do not
#     change; keys typed in A's page change A's terminal, in its first lines,
#     and not B's (B live all along: its clock ticks); (b) the same the other
#     way round with other keys: each session its own picture and input;
#  4. (c) GET .../screenshot of A: a PNG that Chromium decodes, of the
#     session's size; after more keys typed in A, the next screenshot
#     differs from the first in A's terminal;
#  5. (d) check_resize: POST .../resize changes the size Chromium decodes
#     and the screenshot's (the guest's Sway mode through RESIZE on the
#     guest link; it answers 200 once the new size streams).
# Exit 77 without node, Chromium, QEMU, or under ASan. Builds the desktop
# image when it is missing (./run-tests starts that build early).
import base64
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
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_vm_stream as t  # noqa: E402

SRC = t.SRC
BUILD = os.environ.get("VMSTREAM_BUILD_ROOT", os.path.join(SRC, "build"))
SUP = os.path.join(BUILD, "supervisor", "vmstream-supervisor")
NODE_MODULES = os.path.join(SRC, "tests", "browser", "node_modules", "playwright-core")
RESIZE_TO = (1024, 768)
# the bottom rows that hold Sway's bar (its clock); the rest is the terminal
BAR_ROWS = 40
# the typed text is on the terminal's first lines, below the title bar
TEXT_ROWS = 160
SIZE = (1280, 800)  # virtio-vga's preferred mode: the desktop's size

failures = []


def log(msg):
    print("test_vm_desktop_ci: " + msg, flush=True)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


class Fatal(Exception):
    """A step the rest depends on failed."""


def need(cond, what):
    if not check(cond, what):
        raise Fatal(what)


def wait_for(pred, timeout, interval=0.2):
    """@pred's first true value within @timeout seconds, else its last."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(interval)


class Supervisor:
    def __init__(self, tmp):
        self.run = os.path.join(tmp, "run")
        self.logpath = os.path.join(tmp, "supervisor.log")
        env = dict(os.environ, HELIX_VM_BACKEND="qemu", HELIX_RUNTIME_DIR=self.run,
                   HELIX_VM_DIR=os.path.join(SRC, "vm"),
                   HELIX_TEMPLATES_DIR=os.path.join(SRC, "pipelines"),
                   HELIX_VAR_GUEST_PLUGINS=os.path.join(BUILD, "plugins", "vsocksink"),
                   HELIX_ENCODER="x264", HELIX_VAR_ENCODER_SETTINGS="speed-preset=ultrafast",
                   # a private base folder: this test builds its base
                   VMSTREAM_VM_BASES=os.path.join(tmp, "bases"))
        for k in ("HELIX_TOKEN", "LD_PRELOAD", "HELIX_VM_VARIANT", "HELIX_VM_SNAPSHOT",
                  "HELIX_QEMU_COMMAND"):
            env.pop(k, None)
        with socket.socket() as probe:  # a free RTSP port (8554 may be taken)
            probe.bind(("127.0.0.1", 0))
            rtsp_port = probe.getsockname()[1]
        self.err = open(self.logpath, "w")
        self.p = subprocess.Popen([SUP, "--listen", "127.0.0.1:0", "--rtsp-port", str(rtsp_port),
                                   "--powerdown-timeout", "2"],
                                  env=env, stdout=subprocess.PIPE, stderr=self.err, text=True)
        r, _, _ = select.select([self.p.stdout], [], [], 30)
        line = self.p.stdout.readline() if r else ""
        need(line.startswith("READY "), "supervisor ready (%r)" % line)
        self.port = int(line.split()[1])
        with open(os.path.join(self.run, "admin-token")) as f:
            self.token = f.read().strip()

    def request(self, method, path, body=None):
        """(status, Content-Type, body bytes)"""
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + self.token,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def http(self, method, path, body=None):
        st, _, data = self.request(method, path, body)
        try:
            return st, json.loads(data)
        except ValueError:
            return st, {"body": data[:200]}

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return self.p.wait()
        finally:
            self.err.close()


class Browser:
    def __init__(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        self.p = subprocess.Popen(["node", os.path.join(SRC, "tests", "vm", "desktop-ci-browser.js")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env)

    def ask(self, cmd, name, **kw):
        kw.update(cmd=cmd, name=name)
        self.p.stdin.write(json.dumps(kw) + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline()
        if not out.startswith("{"):
            raise Fatal("Chromium's helper ended: " + self.p.stderr.read()[-800:])
        return json.loads(out)

    def diff(self, name, key, png=None):
        kw = {"png": base64.b64encode(png).decode()} if png else {}
        return self.ask("diff", name, key=key, bar=BAR_ROWS, **kw)

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


EVIDENCE = os.path.join(BUILD, "meson-logs", "vm-desktop-ci")


def evidence(br, name):
    """A failed pixel check: @name's canvas and kept pictures as PNG files."""
    os.makedirs(EVIDENCE, exist_ok=True)
    r = br.ask("save", name, prefix=os.path.join(EVIDENCE, "%s-%d" % (name, len(failures))))
    log("pictures of %s: %s/%s-%d-{%s}.png" % (name, EVIDENCE, name, len(failures),
                                                ",".join(r.get("saved", []))))


def pixels(br, name, cond, what):
    if not check(cond, what):
        evidence(br, name)


def in_text_rows(d):
    return d.get("term", 0) > 0 and d["box"][3] <= TEXT_ROWS


def still_while_live(br, name, key):
    """Without keys: @name's clock ticks (the stream is live) while its
    terminal stays as kept in @key. The diff once the bar changed."""
    d = wait_for(lambda: (lambda d: d if d.get("bar", 0) > 0 or "error" in d else None)(
        br.diff(name, key)), 10)
    return d


def typed(br, sup, s, text, other):
    """Types @text in session @s's page: its terminal changes in its first
    lines; the other session's (@other) terminal does not while its clock
    ticks."""
    me, them = s["id"], other["id"]
    br.ask("ref", me, key="before")
    br.ask("ref", them, key="before")
    d = still_while_live(br, me, "before")
    pixels(br, me, d and d.get("bar", 0) > 0 and d.get("term") == 0,
           "%s: with no key the clock ticks and the terminal stays still (%s)" % (me, d))
    st = br.ask("type", me, text=text)
    need("error" not in st, "%s: the page sent %r (%s)" % (me, text, st.get("error", "ok")))
    d = wait_for(lambda: (lambda d: d if in_text_rows(d) or "error" in d else None)(
        br.diff(me, "before")), 30)
    pixels(br, me, d and in_text_rows(d),
           "%s: the keys typed in Chromium changed the terminal's first lines in its "
           "stream (%s)" % (me, d))
    o = still_while_live(br, them, "before")
    pixels(br, them, o and o.get("bar", 0) > 0 and o.get("term") == 0,
           "%s: its clock ticks but its terminal did not change with %s's keys (%s)"
           % (them, me, o))


def screenshot(sup, s):
    return sup.request("GET", "/api/v1/sessions/%s/screenshot" % s["id"])


def check_screenshot(br, sup, a):
    """(c) a PNG of the session's size that changes with the desktop."""
    st, ctype, png1 = screenshot(sup, a)
    need(st == 200 and ctype == "image/png",
         "screenshot of %s: 200 image/png (%s %s %s)" % (a["id"], st, ctype, png1[:120]))
    r = br.ask("ref", a["id"], key="png1", png=base64.b64encode(png1).decode())
    check("error" not in r and (r.get("width"), r.get("height")) == (a["width"], a["height"]),
          "the screenshot is a PNG Chromium decodes, of the session's size %dx%d (%s)"
          % (a["width"], a["height"], r))
    br.ask("ref", a["id"], key="shot")
    br.ask("type", a["id"], text="screenshot")
    wait_for(lambda: in_text_rows(br.diff(a["id"], "shot")), 30)
    st, ctype, png2 = screenshot(sup, a)
    d = br.diff(a["id"], "png1", png2) if st == 200 else {"status": st}
    pixels(br, a["id"], in_text_rows(d), "after keys in %s the next screenshot differs from "
           "the first in the terminal's first lines (%s)" % (a["id"], d))


def check_resize(br, sup, s, width, height):
    """(d) POST .../resize changes the size Chromium decodes (and the
    screenshot's), on the viewer's open connection."""
    st, r = sup.http("POST", "/api/v1/sessions/%s/resize" % s["id"],
                     {"width": width, "height": height})
    check(st == 200, "resize %s to %dx%d: 200 (%s %s)" % (s["id"], width, height, st, r))
    p = wait_for(lambda: (lambda p: p if (p.get("decodedWidth"), p.get("decodedHeight"))
                          == (width, height) else None)(br.ask("state", s["id"])), 60)
    check(p is not None, "Chromium decodes %dx%d after the resize (%s)"
          % (width, height, br.ask("state", s["id"])))
    r = wait_for(lambda: (lambda r: r if (r.get("width"), r.get("height")) == (width, height)
                          else None)(br.ask("ref", s["id"], key="resized", png=base64.b64encode(
                              screenshot(sup, s)[2]).decode())), 30)
    check(r is not None, "the screenshot is %dx%d too" % (width, height))


def start_session(sup, name):
    st, s = sup.http("POST", "/api/v1/sessions",
                     {"id": name, "width": SIZE[0], "height": SIZE[1]})
    need(st == 201 and s.get("state") in ("starting", "running"),
         "session %s: POST answered 201, %s" % (name, s.get("state", s)))
    return s


def main(tmp):
    if os.environ.get("VMSTREAM_ASAN_PRELOAD"):
        print("SKIP: not under ASan (the guest loads this build's plugins)")
        sys.exit(77)
    if not (shutil.which("node") and os.path.exists("/usr/bin/chromium")
            and os.path.isdir(NODE_MODULES) and shutil.which("qemu-system-x86_64")):
        print("SKIP: needs qemu-system-x86_64, node, /usr/bin/chromium and "
              "tests/browser/node_modules")
        sys.exit(77)
    shutil.rmtree(EVIDENCE, ignore_errors=True)  # a former run's pictures
    t0 = time.monotonic()
    try:
        t.ensure_image("desktop")
    except t.Failure as e:
        need(False, "the desktop image: %s" % e)
    log("desktop image ready after %.0f s" % (time.monotonic() - t0))
    sup = Supervisor(tmp)
    br = Browser()
    sessions = {}
    try:
        # 1. A builds the base; no frame before it: a clear error
        t1 = time.monotonic()
        a = start_session(sup, "a")
        st, ctype, body = screenshot(sup, a)
        check(st == 503 and b"error" in body,
              "a screenshot while the base boots: 503 with a sentence (%s %s)" % (st, body[:200]))
        st, g = sup.http("GET", "/api/v1/sessions/a")
        check(st == 200 and g.get("state") in ("starting", "running") and g.get("pid") == a["pid"]
              and os.path.exists("/proc/%d" % a["pid"]),
              "... and the session goes on (%s, the same process)" % g.get("state"))
        p = br.ask("open", "a", url=a["viewer_url"])
        need("error" not in p and (p["decodedWidth"], p["decodedHeight"]) == SIZE,
             "A: Chromium decodes the desktop at %dx%d, %.0f s after the POST (base built) (%s)"
             % (SIZE + (time.monotonic() - t1, p.get("error", "ok"))))
        # 2. B restores the same base
        t2 = time.monotonic()
        b = start_session(sup, "b")
        p = br.ask("open", "b", url=b["viewer_url"])
        need("error" not in p and (p["decodedWidth"], p["decodedHeight"]) == SIZE,
             "B: Chromium decodes its desktop, %.0f s after the POST (%s)"
             % (time.monotonic() - t2, p.get("error", "ok")))
        text = sup.log()
        built = text.count("vmstream-vm: building the snapshot base")
        restored = text.count("vmstream-vm: restoring the snapshot base")
        check(built == 1 and restored == 1,
              "one base, built for A; B restored it (%d built, %d restored)" % (built, restored))
        # 3. (a), (b)
        typed(br, sup, a, "aaaaaaaaaaaa", b)
        typed(br, sup, b, "bbbbbbbbbbbbbbbbbbbbbbbb", a)
        # 4. (c)
        check_screenshot(br, sup, a)
        # 5. (d)
        check_resize(br, sup, a, *RESIZE_TO)
        for s in (a, b):
            sessions[s["id"]] = sup.http("GET", "/api/v1/sessions/" + s["id"])[1]
            st, _ = sup.http("DELETE", "/api/v1/sessions/" + s["id"])
            check(st == 200 and not os.path.exists("/proc/%d" % s["qemu_pid"]),
                  "DELETE %s stops its QEMU" % s["id"])
        log("all steps in %.0f s (image %.0f s)" % (time.monotonic() - t0, t1 - t0))
    finally:
        br.close()
        rc = sup.stop()
        check(rc == 0, "supervisor exits 0 (%s)" % rc)
        if failures:
            print("--- supervisor log:\n" + sup.log()[-6000:])
            for sid in ("a", "b"):
                print("--- session %s: %s" % (sid, sessions.get(sid)))
            for d in sorted(os.listdir(sup.run)) if os.path.isdir(sup.run) else []:
                c = os.path.join(sup.run, d, "console.log")
                if os.path.exists(c):
                    with open(c, errors="replace") as f:
                        text = f.read()
                    print("--- guest console %s:\n%s" % (d, text[-3000:]))
                    os.makedirs(EVIDENCE, exist_ok=True)
                    with open(os.path.join(EVIDENCE, "console-%s.log" % d), "w") as f:
                        f.write(text)


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="vms-deskci-")
    try:
        main(tmp)
    except Fatal:
        pass
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
