#!/usr/bin/env python3
"""Tests of vmstream-supervisor and vmstream-session (meson suite 'supervisor').

  test_supervisor.py BUILD_ROOT SOURCE_ROOT CASE

CASE: api, auth, restart, shutdown, kill9, e2e, xerror, nodisplay, qemu. Each case starts its
own supervisor on a free loopback port and checks real behaviour: HTTP
answers, child processes (/proc), frames over the WebSocket, input recorded
by an X client on a private Xvfb, QMP commands seen by a real QEMU (its input trace events)."""
import json
import re
import os
import select
import shutil
import signal
import ssl
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import wsclient as wsclient_py  # noqa: E402

BUILD, SOURCE, CASE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), sys.argv[3]
SUP = os.path.join(BUILD, "supervisor", "vmstream-supervisor")
WSCLIENT = os.path.join(BUILD, "tests", "supervisor", "vms-wsclient")
XREC = os.path.join(BUILD, "tests", "supervisor", "vms-xrecorder")
SESSION = os.path.join(BUILD, "supervisor", "vmstream-session")
BADBUTTON = os.path.join(BUILD, "tests", "supervisor", "vms-xtest-badbutton.so")
ASAN = os.environ.get("VMSTREAM_ASAN_PRELOAD")
if ASAN:
    # Whole stacks, so that tests/lsan.supp can match GLib's own allocations.
    os.environ["LSAN_OPTIONS"] = os.environ.get("LSAN_OPTIONS", "") + ":fast_unwind_on_malloc=0"

TMP = tempfile.mkdtemp(prefix="vms-suptest-")
failures = []
cleanups = []
supervisors = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        failures.append(what)
    return cond


def wait_for(pred, timeout, step=0.02):
    """Polls @pred (state owned by other processes: /proc, files)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


# --- templates made of stock elements -------------------------------------

TEMPLATES = {
    "test": "#:PATTERN=smpte\n"
            "videotestsrc is-live=true pattern=${PATTERN} ! "
            "video/x-raw,width=${WIDTH},height=${HEIGHT},framerate=${FPS}/1 ! "
            "identity name=stats ! fakesink\n",
    "bad": "videotestsrc ! no-such-element-here ! fakesink\n",
    "undef": "videotestsrc ! ${NOT_DEFINED_ANYWHERE} ! fakesink\n",
    "fails": "videotestsrc num-buffers=5 ! video/x-raw,width=320,height=240 ! "
             "jpegdec ! fakesink\n",
    # an encoder whose input moves (the ball), for screenshots and resize
    "enc": "videotestsrc is-live=true pattern=ball ! "
           "video/x-raw,width=${WIDTH},height=${HEIGHT},framerate=${FPS}/1 ! "
           "vmstreamenc encoder=x264 ! fakesink\n",
    # an encoder that never gets a frame (the sink plays without one)
    "noframe": "videotestsrc is-live=true ! valve drop=true ! "
               "vmstreamenc encoder=x264 ! fakesink async=false\n",
}


def make_templates():
    d = os.path.join(TMP, "templates")
    os.makedirs(d, exist_ok=True)
    for name, text in TEMPLATES.items():
        with open(os.path.join(d, name + ".txt"), "w") as f:
            f.write("# test template\n" + text)
    return d


# --- processes ------------------------------------------------------------

def descendants(pid):
    """All live descendants of @pid (by /proc ppid links)."""
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(p))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    """True if @pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def exists(pid):
    return os.path.exists("/proc/%d" % pid)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


# answers as they are: a 302 is a 302 (its Location may name a host that
# does not resolve, such as a rebinding test's)
NO_REDIRECT = urllib.request.build_opener(_NoRedirect)


class Supervisor:
    def __init__(self, args=(), env=None, templates=None):
        e = dict(os.environ)
        e.pop("HELIX_TOKEN", None)
        e.update(env or {})
        e["HELIX_TEMPLATES_DIR"] = templates or make_templates()
        e["HELIX_RUNTIME_DIR"] = os.path.join(TMP, "run")
        e.setdefault("HELIX_BACKOFF_INITIAL_MS", "200")
        if ASAN:
            e["LD_PRELOAD"] = ASAN
        self.errpath = os.path.join(TMP, "supervisor-%d.log" % time.monotonic_ns())
        self.err = open(self.errpath, "w")
        # a free RTSP port, not 8554 (other tests, a demo): args may override
        self.p = subprocess.Popen([SUP, "--listen", "127.0.0.1:0", "--rtsp-port", "0"]
                                  + list(args),
                                  env=e, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True)
        cleanups.append(self.kill)
        r, _, _ = select.select([self.p.stdout], [], [], 30)
        line = self.p.stdout.readline() if r else ""
        if not line.startswith("READY "):
            raise RuntimeError("supervisor did not start: %r\n%s" % (line, self.log()))
        self.port = int(line.split()[1])
        # HTTPS (HELIX_TLS_CERT, or off loopback): trust exactly the
        # certificate the log names, as `curl --cacert` would (whatever
        # names it carries: the requests go to 127.0.0.1)
        self.scheme, self.opener = "http", NO_REDIRECT
        m = re.search(r"HTTPS with .*?certificate (\S+?),? ", self.log())
        if m:
            self.cert_file = m.group(1)
            self.scheme = "https"
            ctx = ssl.create_default_context(cafile=self.cert_file)
            ctx.check_hostname = False
            self.opener = urllib.request.build_opener(
                _NoRedirect, urllib.request.HTTPSHandler(context=ctx))
        # the administrator token: the configured one, else the one the
        # supervisor generated and stored in its runtime folder
        self.token = e.get("HELIX_TOKEN") or self.token_file()
        supervisors.append(self)

    def token_file(self):
        try:
            with open(os.path.join(TMP, "run", "admin-token")) as f:
                return f.read().strip()
        except OSError:
            return None

    def log(self):
        self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def http(self, method, path, body=None, token=None, raw=None, headers=None):
        """One request; @headers (e.g. Origin, Host, Content-Type) are sent
        as given and replace the defaults."""
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request("%s://127.0.0.1:%d%s" % (self.scheme, self.port, path),
                                     data=data, method=method)
        tok = token if token is not None else self.token
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with self.opener.open(req, timeout=30) as r:
                status, text, ctype = r.status, r.read().decode(), r.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            status, text, ctype = err.code, err.read().decode(), err.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            return status, json.loads(text)
        return status, text

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None

    def kill(self):
        if self.p.poll() is None:
            for c in descendants(self.p.pid):
                try:
                    os.kill(c, signal.SIGKILL)
                except OSError:
                    pass
            self.p.kill()
            self.p.wait()
        self.err.close()


def no_asan_reports(sup):
    text = sup.log()
    return check("ERROR: AddressSanitizer" not in text and
                 "ERROR: LeakSanitizer" not in text and
                 "exit status 66" not in text,
                 "no sanitizer report from the supervisor or its sessions")


# The demo template's SOURCE for a start_xvfb() display: its screen, scaled
# to the session's size (a stream smaller than the screen scales pointer
# coordinates).
XVFB_SOURCE = ("ximagesrc display-name=${DISPLAY} use-damage=false ! "
               "video/x-raw,framerate=${FRAMERATE}/1 ! videoconvert ! videoscale ! "
               "video/x-raw,format=I420,width=${WIDTH},height=${HEIGHT}")


def start_xvfb(size="640x480"):
    """Starts a private Xvfb on the first free display number from 91; its
    screen is @size, the largest RandR can make it later."""
    for num in range(91, 200):
        if os.path.exists("/tmp/.X11-unix/X%d" % num) or os.path.exists("/tmp/.X%d-lock" % num):
            continue
        logpath = os.path.join(TMP, "xvfb.log")
        x = subprocess.Popen(["Xvfb", ":%d" % num, "-screen", "0", size + "x24",
                              "-nolisten", "tcp", "-noreset"],
                             stdout=subprocess.DEVNULL, stderr=open(logpath, "w"))

        def stop(x=x):
            if x.poll() is None:
                x.terminate()
                x.wait()
        cleanups.append(stop)
        # Xvfb has no readiness signal here: wait for its socket.
        wait_for(lambda: x.poll() is not None or
                 os.path.exists("/tmp/.X11-unix/X%d" % num), 20)
        if x.poll() is None:
            return ":%d" % num
    raise RuntimeError("cannot start Xvfb")


class XRecorder:
    """Runs vms-xrecorder; a thread collects its lines (no polling)."""

    def __init__(self, display):
        self.env = dict(os.environ, DISPLAY=display)
        self.env.pop("LD_PRELOAD", None)
        self.lines = []
        self.cond = threading.Condition()
        cleanups.append(self.stop)
        self.start()
        if not self.read_until(lambda l: l.startswith("READY"), 20):
            # the X socket may exist a moment before the server accepts
            self.stop()
            self.start()
            if not self.read_until(lambda l: l.startswith("READY"), 20):
                raise RuntimeError("vms-xrecorder did not start")

    def start(self):
        self.p = subprocess.Popen([XREC], env=self.env, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.reader, args=(self.p,), daemon=True).start()

    def reader(self, p):
        for line in p.stdout:
            with self.cond:
                self.lines.append(line.strip())
                self.cond.notify_all()

    def read_until(self, pred, timeout):
        with self.cond:
            found = self.cond.wait_for(
                lambda: next((l for l in self.lines if pred(l)), None), timeout)
        return found

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait()


def viewer_stream(s):
    """The session's stream URL with its viewer token."""
    return s["stream_url"] + "?token=" + s["viewer_token"]


def wsclient(url, frames=1, send=(), timeout=20, t0_us=None):
    args = [WSCLIENT, "-n", str(frames), "-t", str(timeout)]
    if t0_us is not None:
        args += ["--t0-us", str(t0_us)]
    for m in send:
        args += ["--send", json.dumps(m)]
    args.append(url)
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 10)
    out = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return r.returncode, out


# --- cases -----------------------------------------------------------------

def case_api():
    sup = Supervisor()
    st, body = sup.http("GET", "/healthz")
    check(st == 200 and body["status"] == "ok", "GET /healthz is 200 ok")
    st, body = sup.http("GET", "/api/v1/templates")
    check(st == 200 and "test" in body["templates"], "GET /api/v1/templates lists the templates")
    st, body = sup.http("GET", "/api/v1/sessions")
    check(st == 200 and body["sessions"] == [], "no session at start")

    st, s = sup.http("POST", "/api/v1/sessions",
                     {"template": "test", "width": 320, "height": 240, "fps": 30})
    check(st == 201 and s["state"] == "running", "POST creates a running session (201)")
    check(s["player_url"].endswith("/player/" + s["id"]) and
          s["stream_url"].startswith("ws://") and s["rtsp_url"].startswith("rtsp://"),
          "the answer has player, stream and RTSP URLs")
    check(isinstance(s["pid"], int) and alive(s["pid"]) and s["pid"] in descendants(sup.p.pid),
          "the session runs in a child process")
    sid = s["id"]
    st, g = sup.http("GET", "/api/v1/sessions/" + sid)
    check(st == 200 and g["id"] == sid and g["width"] == 320, "GET /api/v1/sessions/{id}")
    st, l = sup.http("GET", "/api/v1/sessions")
    check(st == 200 and [x["id"] for x in l["sessions"]] == [sid], "GET /api/v1/sessions lists it")

    st, s2 = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "named"})
    check(st == 201 and s2["id"] == "named" and s2["width"] == 1280, "POST with an id and defaults")
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "named"})
    check(st == 409 and "already exists" in e["error"], "duplicate id is 409")
    check("ws_port" not in s and s2["rtsp_port"] == s["rtsp_port"]
          and s2["rtsp_url"].endswith(":%d/named" % s["rtsp_port"]),
          "no WebSocket port per session, and RTSP is the supervisor's one port")
    check(s["stream_url"] == "ws://127.0.0.1:%d/stream/%s" % (sup.port, sid) and
          s2["stream_url"] == "ws://127.0.0.1:%d/stream/named" % sup.port,
          "every stream is on the supervisor's own port, /stream/ID (%s; case frontdoor)"
          % s["stream_url"])

    bad = [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1,2]", 400, "JSON object"),
        (json.dumps({"template": "test", "colour": "red"}).encode(), 400, "unknown field"),
        (json.dumps({"template": "test", "width": "wide"}).encode(), 400, "integer"),
        (json.dumps({"template": "test", "width": 99999}).encode(), 400, "outside"),
        (json.dumps({"template": "test", "width": 321}).encode(), 400, "even"),
        (json.dumps({"template": "../../etc/passwd"}).encode(), 400, "name"),
        (json.dumps({"template": "nope"}).encode(), 404, "unknown template"),
        (json.dumps({"template": "undef"}).encode(), 422, "NOT_DEFINED_ANYWHERE"),
        (json.dumps({"template": "bad"}).encode(), 422, "no-such-element-here"),
        # json-glib recurses per level: 200k '[' overflowed the stack
        (b"[" * 200000, 400, "nested"),
        (b'{"a":' * 100000, 400, "nested"),
    ]
    for raw, want, words in bad:
        st, e = sup.http("POST", "/api/v1/sessions", raw=raw)
        check(st == want and isinstance(e, dict) and words in e.get("error", ""),
              "POST %r -> %d %r (got %s %r)" % (raw[:40], want, words, st, e))
    st, l = sup.http("GET", "/api/v1/sessions")
    check(len(l["sessions"]) == 2, "failed creations leave no session behind")

    # input
    ev = [{"type": "key", "action": "down", "code": "KeyA"},
          {"type": "key", "action": "up", "code": "KeyA"},
          {"type": "pointer", "action": "move", "x": 10, "y": 20},
          {"type": "pointer", "action": "down", "x": 10, "y": 20, "button": 0},
          {"type": "wheel", "x": 1, "y": 2, "dx": 0, "dy": -120.5}]
    st, r = sup.http("POST", "/api/v1/sessions/%s/input" % sid, ev)
    check(st == 202 and r["accepted"] == 5, "POST input with an array is 202")
    st, r = sup.http("POST", "/api/v1/sessions/%s/input" % sid, ev[0])
    check(st == 202 and r["accepted"] == 1, "POST input with one object is 202")
    for raw, words in [
        (b"{", "not valid JSON"),
        (b"[]", "1 to"),
        (json.dumps({"type": "key", "action": "press", "code": "KeyA"}).encode(), "action"),
        (json.dumps({"type": "key", "action": "down", "code": "Banana"}).encode(), "unknown key code"),
        (json.dumps({"type": "pointer", "action": "down", "x": 1, "y": 2}).encode(), "button"),
        (json.dumps({"type": "pointer", "action": "move", "x": "1", "y": 2}).encode(), "number"),
        (json.dumps({"type": "pointer", "action": "down", "x": 1, "y": 2, "button": 5}).encode(), "button"),
        (b"{'type': 'key', 'action': 'down', 'code': 'KeyA'}", "single-quoted"),
        (json.dumps({"type": "wheel", "x": 1, "y": 2, "dy": "up"}).encode(), "number"),
        (json.dumps({"type": "gamepad"}).encode(), "unknown type"),
        (json.dumps([ev[0], {"type": "key"}]).encode(), "event 1"),
    ]:
        st, e = sup.http("POST", "/api/v1/sessions/%s/input" % sid, raw=raw)
        check(st == 400 and words in e.get("error", ""),
              "bad input %r -> 400 %r (got %s %r)" % (raw[:40], words, st, e))
    st, e = sup.http("POST", "/api/v1/sessions/nosuch/input", ev)
    check(st == 404 and "nosuch" in e["error"], "input to an unknown session is 404")
    st, e = sup.http("GET", "/api/v1/sessions/%s/input" % sid)
    check(st == 405, "GET on the input route is 405")
    st, e = sup.http("PUT", "/api/v1/sessions")
    check(st == 405, "PUT /api/v1/sessions is 405")
    st, e = sup.http("GET", "/api/v1/sessions/nosuch")
    check(st == 404 and "nosuch" in e["error"], "unknown session is 404")
    st, e = sup.http("GET", "/api/v1/sessions/%s/other" % sid)
    check(st == 404, "unknown sub-route is 404")
    st, e = sup.http("GET", "/api/v2/x")
    check(st == 404, "unknown API route is 404")

    # player redirect and index
    req = urllib.request.Request("http://127.0.0.1:%d/player/%s" % (sup.port, sid))

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=10)
        loc = None
    except urllib.error.HTTPError as err:
        loc = err.headers.get("Location") if err.code == 302 else None
    check(loc == "/player/%s/" % sid,
          "GET /player/{id} redirects to /player/{id}/, a relative Location that "
          "keeps the scheme and host the browser used (behind a TLS proxy too) (%r)" % loc)
    st, html = sup.http("GET", "/", token="")
    check(st == 200 and "/api/v1/sessions" in html and "viewer_url" in html and sid not in html,
          "GET / is the index page, which lists the sessions through the API (case browser)")

    # metrics after at least one stats line
    wait_for(lambda: sup.http("GET", "/api/v1/sessions/" + sid)[1]["stats"]["frames"] > 0, 5)
    st, m = sup.http("GET", "/metrics")
    check(st == 200 and 'vmstream_sessions{state="running"} 2' in m and
          'vmstream_session_restarts_total{session="%s"' % sid in m,
          "GET /metrics has sessions and restarts")
    frames = [l for l in m.splitlines() if l.startswith('vmstream_session_frames_total{session="%s"' % sid)]
    check(frames and int(frames[0].split()[-1]) > 0, "metrics count frames")
    check(any(l.startswith("vmstream_session_encode_fps") for l in m.splitlines()) and
          any(l.startswith("vmstream_session_clients") for l in m.splitlines()) and
          any(l.startswith("vmstream_session_bytes_total") for l in m.splitlines()),
          "metrics have fps, clients and bytes")

    # delete
    pid = s["pid"]
    st, d = sup.http("DELETE", "/api/v1/sessions/" + sid)
    check(st == 200 and d["state"] == "stopped", "DELETE answers once stopped")
    check(not exists(pid), "the session process is gone (and reaped) after DELETE")
    st, e = sup.http("DELETE", "/api/v1/sessions/" + sid)
    check(st == 404, "DELETE again is 404")
    # a pipeline that errors at run time is restarted, with a growing delay
    st, f = sup.http("POST", "/api/v1/sessions", {"template": "fails"})
    check(st in (201, 422), "a failing pipeline answers (%s)" % st)
    if st == 201:
        ok = wait_for(lambda: sup.http("GET", "/api/v1/sessions/" + f["id"])[1]["restarts"] >= 2, 10)
        check(ok, "a session whose pipeline errors is restarted")
        sup.http("DELETE", "/api/v1/sessions/" + f["id"])
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0 on SIGTERM (got %s)" % rc)
    no_asan_reports(sup)


def case_stdout_held():
    """A session process that dies while something it started still holds
    its stdout: the supervisor must not wait for that EOF to restart it."""
    fake = os.path.join(TMP, "fake-session")
    pids = os.path.join(TMP, "sleepers")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\n"
                "echo '{\"event\":\"state\",\"state\":\"playing\"}'\n"
                "sleep 20 &\n"            # inherits stdout, outlives us
                "echo $! >> %s\n"
                "exit 1\n" % pids)
    os.chmod(fake, 0o755)

    def kill_sleepers():
        try:
            with open(pids) as f:
                for p in f.read().split():
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except OSError:
                        pass
        except OSError:
            pass
    cleanups.append(kill_sleepers)
    sup = Supervisor(env={"HELIX_SESSION_BIN": fake, "HELIX_BACKOFF_INITIAL_MS": "100"})
    t0 = time.monotonic()
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test"})
    check(st == 201, "fake session created (%s)" % st)
    ok = wait_for(lambda: sup.http("GET", "/api/v1/sessions/" + s["id"])[1]["restarts"] >= 2, 15)
    dt = time.monotonic() - t0
    check(ok and dt < 10, "restarted twice in %.1f s although its stdout stays open 20 s" % dt)
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    kill_sleepers()


def case_auth():
    # Refuses a non-loopback address without a token (checked before binding).
    r = subprocess.run([SUP, "--listen", "192.0.2.1:0"], capture_output=True,
                       text=True, env=dict(os.environ, HELIX_TOKEN=""),
                       timeout=20)
    check(r.returncode == 2 and "token" in r.stderr,
          "a non-loopback listen address without a token is refused")
    r = subprocess.run([SUP, "--print-config", "--listen", "192.0.2.1:8080",
                        "--token", "x"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "listen=192.0.2.1:8080" in r.stdout,
          "with a token it is accepted")
    r = subprocess.run([SUP, "--help"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and all(v in r.stdout for v in (
        "HELIX_VM_BACKEND", "HELIX_ENCODER_MODE", "HELIX_CAPTURE", "HELIX_ENCODER", "HELIX_VSOCK_PORT",
        "HELIX_VM_CPUS", "HELIX_VM_MEMORY", "HELIX_LISTEN", "HELIX_TOKEN",
        "HELIX_MAX_SESSIONS", "VMSTREAM_PUBLIC_NAMES", "HELIX_PUBLIC_NAMES",
        "VMSTREAM_ALLOWED_ORIGINS", "HELIX_ALLOWED_ORIGINS", "HELIX_VM_VARIANT",
        "HELIX_VM_SNAPSHOT")),
        "--help documents every HELIX_* variable")
    r = subprocess.run([SUP, "--print-config"], capture_output=True, text=True,
                       env=dict(os.environ, HELIX_VM_BACKEND="qemu", HELIX_VSOCK_PORT="6000"),
                       timeout=20)
    check("vm-backend=qemu" in r.stdout and "vsock-port=6000" in r.stdout,
          "configuration comes from the environment")
    r = subprocess.run([SUP, "--print-config", "--vsock-port", "7000"], capture_output=True,
                       text=True, env=dict(os.environ, HELIX_VSOCK_PORT="6000"), timeout=20)
    check("vsock-port=7000" in r.stdout, "flags override the environment")
    r = subprocess.run([SUP, "--print-config"], capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, HELIX_PUBLIC_NAMES="a.example", VMSTREAM_PUBLIC_NAMES="b.example",
                                HELIX_ALLOWED_ORIGINS="https://c.example", VMSTREAM_MAX_SESSIONS="3"))
    check("public-names=b.example" in r.stdout and "allowed-origins=https://c.example" in r.stdout and
          "max-sessions=3" in r.stdout and "token=(generated at start)" in r.stdout,
          "VMSTREAM_ names win over HELIX_ ones; either is read (%r)" % r.stdout[-200:])
    r = subprocess.run([SUP, "--print-config"], capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, HELIX_LISTEN="127.0.0.1:1111", VMSTREAM_LISTEN="127.0.0.1:2222",
                                VMSTREAM_VM_CPUS="3", HELIX_VAR_FOO="helix", VMSTREAM_VAR_FOO="vms",
                                HELIX_VAR_BAR="bar"))
    check("listen=127.0.0.1:2222" in r.stdout and "vm-cpus=3" in r.stdout and
          "var.FOO=vms" in r.stdout and "var.BAR=bar" in r.stdout,
          "every HELIX_ setting has its VMSTREAM_ name, template variables too (%r)" % r.stdout[-300:])
    r = subprocess.run([SUP, "--print-config", "--max-sessions", "0"], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 2, "--max-sessions 0 is refused")
    r = subprocess.run([SUP, "--vm-backend", "vmware"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "qemu, utm or none" in r.stderr, "a bad backend is refused")
    # issue 14: the qemu backend boots the desktop guest unless told otherwise
    r = r0 = subprocess.run([SUP, "--print-config", "--vm-backend", "qemu"], capture_output=True,
                            text=True, timeout=20, env=dict(os.environ, HELIX_TEMPLATES_DIR="/p"))
    check(r.returncode == 0 and "vm-variant=desktop" in r.stdout and "var.VM_VARIANT=desktop" in r.stdout
          and "var.GUEST_PIPELINE=/p/guest-pipewire.txt" in r.stdout
          and "--variant ${VM_VARIANT} --build-missing" in r.stdout,
          "default variant desktop: guest-pipewire.txt, --variant in the QEMU command (%r)" % r.stdout[-400:])
    r = subprocess.run([SUP, "--print-config", "--vm-backend", "qemu"], capture_output=True,
                       text=True, timeout=20, env=dict(os.environ, VMSTREAM_VM_VARIANT="test",
                                                       HELIX_VM_DIR="/v"))
    check(r.returncode == 0 and "vm-variant=test" in r.stdout
          and "var.GUEST_PIPELINE=/v/guest/testsrc.txt" in r.stdout,
          "VMSTREAM_VM_VARIANT=test: the test guest's testsrc.txt (%r)" % r.stdout[-400:])
    r = subprocess.run([SUP, "--print-config", "--vm-variant", "kde"], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 2 and "must be desktop" in r.stderr and '"kde"' in r.stderr,
          "a bad variant is refused with a sentence (%s)" % r.stderr.strip())
    # issue 14 item 3: sessions restore a snapshot base unless told not to
    check("vm-snapshot=on" in r0.stdout and "var.SNAPSHOT_ARGS=--snapshot" in r0.stdout
          and "${SNAPSHOT_ARGS}" in r0.stdout,
          "default: --snapshot in the default QEMU command (%r)" % r0.stdout[-400:])
    r = subprocess.run([SUP, "--print-config", "--vm-backend", "qemu"], capture_output=True,
                       text=True, timeout=20, env=dict(os.environ, VMSTREAM_VM_SNAPSHOT="off"))
    check(r.returncode == 0 and "vm-snapshot=off" in r.stdout
          and "var.SNAPSHOT_ARGS=\n" in r.stdout,
          "VMSTREAM_VM_SNAPSHOT=off: every session boots (%r)" % r.stdout[-400:])
    r = subprocess.run([SUP, "--print-config", "--vm-snapshot", "yes"], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 2 and "must be on" in r.stderr and '"yes"' in r.stderr,
          "a bad snapshot setting is refused with a sentence (%s)" % r.stderr.strip())

    sup = Supervisor(env={"HELIX_TOKEN": "s3cret"})
    st, _ = sup.http("GET", "/healthz", token="")
    check(st == 200, "/healthz needs no token")
    for path in ("/api/v1/sessions", "/metrics", "/api/v1/templates"):
        st, e = sup.http("GET", path, token="")
        check(st == 401, "GET %s without a token is 401" % path)
        st, e = sup.http("GET", path, token="wrong")
        check(st == 401, "GET %s with a wrong token is 401" % path)
        st, _ = sup.http("GET", path)
        check(st == 200, "GET %s with the token is 200" % path)
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test"}, token="")
    check(st == 401 and "token" in e["error"], "POST without a token is 401 with a JSON error")
    st, _ = sup.http("GET", "/api/v1/sessions?token=s3cret", token="")
    check(st == 401, "the API does not take ?token= (tokens stay out of URLs and logs)")
    st, html = sup.http("GET", "/", token="")
    check(st == 200 and "s3cret" not in html, "the index page needs no token and holds none")
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test"})
    check(st == 201, "POST with the token creates a session")
    with open("/proc/%d/cmdline" % s["pid"], "rb") as f:
        cmdline = f.read()
    check(b"s3cret" not in cmdline and b"videotestsrc" not in cmdline,
          "the pipeline (which holds the viewer token) is not on the command line")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def raw_request(port, head, timeout=10):
    """Sends @head (bytes, the request line and headers) on a new connection
    and returns (socket, status or None): the status line read within
    @timeout (None when the server answered nothing)."""
    import socket
    sk = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sk.sendall(head)
    return sk


def read_answer(sk, timeout):
    """Reads what the server sends until it closes or @timeout: (status,
    text)."""
    sk.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sk.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                     if l.lower().startswith(b"content-length:")]
                if n and len(rest) >= n[0]:
                    break
    except OSError:
        pass
    status = None
    if data.startswith(b"HTTP/1."):
        status = int(data.split()[1])
    return status, data.decode(errors="replace")


def case_csrf():
    """Requests a web page in the operator's browser can make: a "simple"
    text/plain POST, a foreign Origin, a DNS-rebinding Host name."""
    sup = Supervisor(args=["--default-template", "test"],
                     env={"VMSTREAM_PUBLIC_NAMES": "stream.example.org",
                          "HELIX_ALLOWED_ORIGINS": "https://console.example.org"})
    base = "http://127.0.0.1:%d" % sup.port

    def sessions():
        return [x["id"] for x in sup.http("GET", "/api/v1/sessions")[1]["sessions"]]

    # the issue's attack as a page sends it: no token, text/plain, its Origin
    st, e = sup.http("POST", "/api/v1/sessions", raw=b'{"id":"x"}', token="",
                     headers={"Content-Type": "text/plain;charset=UTF-8",
                              "Origin": "http://evil.example"})
    check(st in (401, 403, 415) and sessions() == [],
          "the cross-site fetch() of the issue creates nothing (%s %s)" % (st, e))
    # each defence alone (the request otherwise right, with the token)
    st, e = sup.http("POST", "/api/v1/sessions", raw=b'{"template":"test","id":"t1"}',
                     headers={"Content-Type": "text/plain;charset=UTF-8"})
    check(st == 415 and "application/json" in e.get("error", "") and sessions() == [],
          "a text/plain POST is 415 (%s %s)" % (st, e))
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                  "application/jsonx"):
        st, e = sup.http("POST", "/api/v1/sessions", {"template": "test"},
                         headers={"Content-Type": ctype})
        check(st == 415, "Content-Type %s is 415 (%s)" % (ctype, st))
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "x1"},
                     headers={"Origin": "http://evil.example"})
    check(st == 403 and "evil.example" in e.get("error", "") and sessions() == [],
          "a foreign Origin is 403 (%s %s)" % (st, e))
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "x2"},
                     headers={"Origin": "null"})
    check(st == 403, "Origin: null (sandboxed page, file:) is 403 (%s)" % st)
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "x3"},
                     headers={"Host": "rebind.attacker.example:%d" % sup.port})
    check(st == 421 and "rebind.attacker.example" in e.get("error", "") and sessions() == [],
          "a rebinding Host name is 421 (%s %s)" % (st, e))
    # ... also with the Origin that page really sends (same-origin for it)
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "x4"},
                     headers={"Host": "rebind.attacker.example:%d" % sup.port,
                              "Origin": "http://rebind.attacker.example:%d" % sup.port})
    check(st == 421, "a rebinding page's same-origin POST is 421 (%s)" % st)
    for path in ("/", "/api/v1/sessions", "/player/x", "/metrics"):
        st, e = sup.http("GET", path, headers={"Host": "rebind.attacker.example"})
        check(st == 421, "GET %s with a rebinding Host is 421 (%s)" % (path, st))

    # what is allowed: our own origin, the operator's names and origins
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "ok1"},
                     headers={"Origin": base})
    check(st == 201, "our own Origin is accepted (%s %s)" % (st, s))
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "ok2"},
                     headers={"Host": "stream.example.org:%d" % sup.port,
                              "Origin": "https://console.example.org",
                              "Content-Type": "application/json; charset=utf-8"})
    check(st == 201 and s["player_url"].startswith("http://stream.example.org:"),
          "a public name (VMSTREAM_PUBLIC_NAMES) and an allowed origin "
          "(HELIX_ALLOWED_ORIGINS) are accepted (%s)" % st)
    st, s = sup.http("GET", "/api/v1/sessions", headers={"Host": "localhost:%d" % sup.port})
    check(st == 200, "Host: localhost is accepted (%s)" % st)
    # the input route has the same rules
    ev = {"type": "key", "action": "up", "code": "KeyA"}
    st, e = sup.http("POST", "/api/v1/sessions/ok1/input", raw=json.dumps(ev).encode(),
                     headers={"Content-Type": "text/plain"})
    check(st == 415, "text/plain input is 415 (%s)" % st)
    st, e = sup.http("POST", "/api/v1/sessions/ok1/input", ev,
                     headers={"Origin": "https://evil.example"})
    check(st == 403, "input from a foreign Origin is 403 (%s)" % st)
    st, e = sup.http("DELETE", "/api/v1/sessions/ok1", headers={"Origin": "https://evil.example"})
    check(st == 403 and "ok1" in sessions(), "DELETE from a foreign Origin is 403 (%s)" % st)
    refused = [l for l in sup.log().splitlines()
               if re.search(r"refused (GET|POST|DELETE|PUT|PATCH|HEAD|OPTIONS) ", l)]
    check(len(refused) >= 10 and all("from 127.0.0.1" in l for l in refused) and
          any("rebind.attacker.example" in l for l in refused) and
          any("evil.example" in l for l in refused),
          "each refusal is logged once, with the peer's address (%d lines)" % len(refused))
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def case_bodylimit():
    """Bodies that cannot crash or exhaust the supervisor."""
    sup = Supervisor()
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "keep"})
    check(st == 201, "a session runs (%s)" % st)

    def healthy(what):
        st, h = sup.http("GET", "/healthz")
        st2, g = sup.http("GET", "/api/v1/sessions/keep")
        check(st == 200 and sup.p.poll() is None and st2 == 200 and
              g["state"] == "running" and alive(g["pid"]),
              "after %s: /healthz answers and the other session still runs" % what)

    # json-glib reads single-quoted strings and comments, in which a
    # bracket-counting guard that knows only '"' saw no brackets
    for raw in (b"['\"', " + b"[" * 200000,
                b"/* \" */ " + b"[" * 200000,
                b"# \"\n" + b"[" * 200000,
                b"{'a\"': " * 100000):
        try:
            st, e = sup.http("POST", "/api/v1/sessions", raw=raw)
        except OSError as exc:  # the supervisor died (stack overflow)
            st, e = None, "%r, supervisor exit %s" % (exc, sup.p.wait(5))
        check(st == 400 and isinstance(e, dict),
              "deep nesting behind %r is 400 (%s %s)" % (raw[:8], st, e))
        if st is None:
            break
        healthy("%r" % raw[:8])
        st, e = sup.http("POST", "/api/v1/sessions/keep/input", raw=raw)
        check(st == 400, "... and on the input route (%s)" % st)
    healthy("the nesting bodies")

    # Content-Length over the limit: 413 before the body is sent
    sk = raw_request(sup.port, b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + (sup.token or "").encode() + b"\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
    t0 = time.monotonic()
    st, text = read_answer(sk, 5)
    sk.close()
    check(st == 413 and "bytes" in text and time.monotonic() - t0 < 5,
          "Content-Length: 100000000 is 413 without the body being sent (%s %r)" % (st, text[-200:]))
    # ... also without the token: the limit comes first
    sk = raw_request(sup.port, b"POST /api/v1/sessions/keep/input HTTP/1.1\r\n"
                     b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2000000\r\n\r\n")
    st, text = read_answer(sk, 5)
    sk.close()
    check(st == 413, "a 2 MB Content-Length on the input route is 413 (%s)" % st)

    # an endless chunked upload: cut off as it passes the limit
    rss0 = vm_rss_kib(sup.p.pid)
    sk = raw_request(sup.port, b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + (sup.token or "").encode() + b"\r\n"
                     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % 65536 + b"[" * 65536 + b"\r\n"
    sent, limit, cut = 0, 64 << 20, False
    sk.settimeout(10)
    try:
        while sent < limit:
            sk.sendall(chunk)
            sent += 65536
    except OSError:
        cut = True
    rss1 = vm_rss_kib(sup.p.pid)
    if not cut:
        sk.sendall(b"0\r\n\r\n")
    st, text = read_answer(sk, 5)
    sk.close()
    check(cut or st == 413, "an endless chunked body is refused (%s %r)" % (st, text[-120:]))
    check(cut and sent < 16 << 20,
          "the connection closed after %d KiB of a chunked body (limit 1 MiB), "
          "before 64 MiB" % (sent >> 10))
    check(rss1 - rss0 < 16 << 10,
          "the supervisor's RSS grew by %d KiB (bounded)" % (rss1 - rss0))
    healthy("the large bodies")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def case_ids():
    """Generated ids never take a client's id; HELIX_MAX_SESSIONS."""
    sup = Supervisor()
    st, a = sup.http("POST", "/api/v1/sessions", {"template": "test", "id": "s2"})
    st2, b = sup.http("POST", "/api/v1/sessions", {"template": "test"})
    st3, c = sup.http("POST", "/api/v1/sessions", {"template": "test"})
    check(st == st2 == st3 == 201, "three POSTs answered 201 (%s %s %s)" % (st, st2, st3))
    ids = [x.get("id") for x in (a, b, c)]
    check(len(set(ids)) == 3, "three distinct ids (%s)" % ids)
    st, l = sup.http("GET", "/api/v1/sessions")
    listed = sorted(x["id"] for x in l["sessions"])
    pids = [x["pid"] for x in l["sessions"]]
    check(listed == sorted(ids) and len(set(pids)) == 3 and all(alive(p) for p in pids),
          "all three are listed and running in their own processes (%s)" % listed)
    kids = descendants(sup.p.pid)
    rc = sup.stop()
    check(rc == 0 and not [p for p in kids if exists(p)],
          "SIGTERM stops all three, no orphan (%s)" % rc)
    no_asan_reports(sup)

    for var in ("HELIX_MAX_SESSIONS", "VMSTREAM_MAX_SESSIONS"):
        sup = Supervisor(env={var: "2"})
        r = [sup.http("POST", "/api/v1/sessions", {"template": "test"}) for i in range(3)]
        check([x[0] for x in r] == [201, 201, 503] and "2" in r[2][1].get("error", ""),
              "%s=2: the third POST is 503 with a reason (%s %s)" % (var, [x[0] for x in r], r[2][1]))
        sup.http("DELETE", "/api/v1/sessions/" + r[0][1]["id"])
        st, _ = sup.http("POST", "/api/v1/sessions", {"template": "test"})
        check(st == 201, "after a DELETE there is room again (%s)" % st)
        rc = sup.stop()
        check(rc == 0, "supervisor exits 0")
    # a session process that cannot start: the POST gets an answer, and the
    # session it waited for is freed only after the answer (under ASan a
    # use-after-free here once)
    sup = Supervisor(env={"HELIX_SESSION_BIN": os.path.join(TMP, "no-such-session-bin")})
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "test"})
    check(st != 201 and isinstance(e, dict) and e.get("error"),
          "a session whose process cannot start is an error answer (%s %s)" % (st, e))
    check(sup.stop() == 0, "supervisor exits 0")
    no_asan_reports(sup)


def proc_bytes(pid, what):
    try:
        with open("/proc/%d/%s" % (pid, what), "rb") as f:
            return f.read()
    except OSError:
        return b""


def case_tokens():
    """The administrator token always guards the API; viewers get their
    session's token only; the administrator token reaches no child."""
    tokfile = os.path.join(TMP, "run", "admin-token")
    if os.path.exists(tokfile):
        os.unlink(tokfile)
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     env={"HELIX_ENCODER": "x264"})
    st = os.stat(tokfile) if os.path.exists(tokfile) else None
    check(st is not None and st.st_mode & 0o777 == 0o600 and st.st_uid == os.getuid(),
          "no token configured: one is generated into %s, mode 0600 (%s)"
          % (tokfile, oct(st.st_mode) if st else None))
    admin = sup.token or ""
    check(len(admin) >= 32, "the generated token is long (%d)" % len(admin))
    check(tokfile in sup.log() and "curl" in sup.log() and admin not in sup.log(),
          "the log says where the token is and how to use it, not the token")
    st, e = sup.http("GET", "/api/v1/sessions", token="")
    check(st == 401, "on loopback without a configured token the API still needs it (%s)" % st)
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "demo-local"}, token="")
    check(st == 401, "POST without the token is 401 (%s)" % st)
    st, e = sup.http("GET", "/api/v1/sessions?token=" + admin, token="")
    check(st == 401, "the token is not taken from the API's query string (%s)" % st)
    st, e = sup.http("GET", "/metrics?token=" + admin, token="")
    check(st == 401, "... nor from the query string of /metrics (%s)" % st)

    st, a = demo_session(sup, id="a")
    st2, b = demo_session(sup, id="b")
    check(st == st2 == 201, "the administrator creates two sessions (%s %s)" % (st, st2))
    va, vb = a.get("viewer_token", ""), b.get("viewer_token", "")
    check(len(va) >= 32 and len(vb) >= 32 and len({va, vb, admin}) == 3,
          "each session has its own viewer token, not the administrator's")
    check(a.get("viewer_url", "").endswith("/player/a#token=" + va),
          "the viewer link carries the token in the fragment (%s)" % a.get("viewer_url"))
    # what a viewer may do: watch and send input to its own session
    rc, out = wsclient(a["stream_url"] + "?token=" + va, frames=1)
    check(rc == 0, "the viewer token opens its session's stream")
    rc, out = wsclient(a["stream_url"] + "?token=" + admin, frames=1, timeout=5)
    check(rc != 0, "the stream does not take the administrator token (not in the pipeline)")
    rc, out = wsclient(b["stream_url"] + "?token=" + va, frames=1, timeout=5)
    check(rc != 0, "a viewer token does not open another session's stream")
    ev = {"type": "key", "action": "up", "code": "KeyA"}
    st, _ = sup.http("POST", "/api/v1/sessions/a/input", ev, token=va)
    check(st == 202, "a viewer token sends input to its session (%s)" % st)
    st, e = sup.http("POST", "/api/v1/sessions/b/input", ev, token=va)
    check(st in (401, 403), "... but not to another session (%s %s)" % (st, e))
    st, e = sup.http("GET", "/api/v1/sessions", token=va)
    check(st in (401, 403), "a viewer token cannot list sessions (%s)" % st)
    st, e = sup.http("POST", "/api/v1/sessions", {"template": "demo-local"}, token=va)
    check(st in (401, 403), "a viewer token cannot create a session (%s)" % st)
    for method, path in (("GET", "/api/v1/sessions/a"), ("DELETE", "/api/v1/sessions/a"),
                         ("GET", "/metrics"), ("GET", "/api/v1/templates")):
        st, e = sup.http(method, path, token=va)
        check(st in (401, 403), "a viewer token: %s %s refused (%s)" % (method, path, st))
    # the player redirect carries no token
    req = urllib.request.Request("http://127.0.0.1:%d/player/a" % sup.port)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        urllib.request.build_opener(NoRedirect).open(req, timeout=10)
        loc = None
    except urllib.error.HTTPError as err:
        loc = err.headers.get("Location") if err.code == 302 else None
    check(loc == "/player/a/",
          "/player/a redirects with no token in the Location (%r)" % loc)
    st, html = sup.http("GET", "/", token="")
    check(st == 200 and admin not in html and va not in html,
          "the index page holds no token (its script reads the administrator "
          "token from the fragment; case browser)")
    env = proc_bytes(a["pid"], "environ")
    cmd = proc_bytes(a["pid"], "cmdline")
    check(env and admin.encode() not in env and admin.encode() not in cmd,
          "the generated administrator token is not in the session's environment or command line")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    check(not os.path.exists(tokfile), "the generated token file is removed at exit")
    no_asan_reports(sup)

    # a configured token (HELIX_TOKEN in the supervisor's environment), and
    # the qemu backend: neither the session nor QEMU gets it
    cmd = real_qemu(os.path.join(TMP, "qemu-tokens.log")) + " -name vms-${TOKEN}"
    secret = "adm1n-" + "7" * 40
    sup = Supervisor(args=["--vm-backend", "qemu", "--qemu-command", cmd,
                           "--powerdown-timeout", "1", "--default-template", "test"],
                     env={"HELIX_TOKEN": secret})
    st, s = sup.http("POST", "/api/v1/sessions", {})
    check(st == 201 and s.get("qemu_pid"), "qemu backend session (%s)" % st)
    for what, pid in (("session", s.get("pid")), ("QEMU", s.get("qemu_pid"))):
        env, cmdl = proc_bytes(pid or 0, "environ"), proc_bytes(pid or 0, "cmdline")
        check(env and secret.encode() not in env and secret.encode() not in cmdl,
              "HELIX_TOKEN is not in the %s's environment or command line" % what)
    check(s.get("viewer_token", "x").encode() in proc_bytes(s.get("qemu_pid") or 0, "cmdline"),
          "${TOKEN} in the QEMU command is the session's viewer token")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def get_bytes(sup, path, token=None):
    """GET @path: (status, Content-Type, body bytes)."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (sup.port, path))
    req.add_header("Authorization", "Bearer " + (token if token is not None else sup.token))
    try:
        with NO_REDIRECT.open(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def png_size(data):
    """(width, height) from a PNG's IHDR, None if @data is no PNG."""
    import struct
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def png_pixels(data):
    """The PNG's decompressed image data (filtered rows: equal pictures give
    equal bytes, as one encoder filters them the same way)."""
    import struct
    import zlib
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    return zlib.decompress(idat)


def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker, None if @data is no JPEG."""
    import struct
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 9 < len(data):
        marker, n = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xc0 <= marker <= 0xc3:
            h, w = struct.unpack(">HH", data[pos + 5:pos + 9])
            return w, h
        pos += 2 + n
    return None


def case_screenshot():
    """GET /api/v1/sessions/{id}/screenshot: the latest raw frame before the
    encoder as PNG (or JPEG), scaled on request; 400 for bad parameters, 503
    before the first frame (the session goes on running); the administrator
    or the session's own viewer token."""
    sup = Supervisor()
    st, s = sup.http("POST", "/api/v1/sessions",
                     {"template": "enc", "width": 320, "height": 240, "fps": 30})
    check(st == 201 and s["state"] == "running", "a session with an encoder runs (%s)" % st)
    shot = "/api/v1/sessions/%s/screenshot" % s["id"]
    st, ctype, png = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        get_bytes(sup, shot)), 10, 0.1) or get_bytes(sup, shot)
    check(st == 200 and ctype == "image/png" and png_size(png) == (320, 240),
          "a PNG of the stream's size, Content-Type image/png (%s %s %s)"
          % (st, ctype, png_size(png) if st == 200 else png[:200]))
    st, ctype, small = get_bytes(sup, shot + "?width=160")
    check(st == 200 and png_size(small) == (160, 120),
          "?width=160 scales keeping the aspect ratio (%s)" % (png_size(small),))
    st, ctype, big = get_bytes(sup, shot + "?width=8192")
    check(st == 200 and png_size(big) == (320, 240),
          "?width=8192 of a 320x240 stream: never scaled up (%s)" % (png_size(big),))
    st, ctype, jpg = get_bytes(sup, shot + "?format=jpeg&width=100")
    check(st == 200 and ctype == "image/jpeg" and jpeg_size(jpg) == (100, 75),
          "?format=jpeg gives a JPEG (%s %s)" % (ctype, jpeg_size(jpg)))
    # the ball moves: a later picture differs
    later = wait_for(lambda: (lambda r: r[2] if r[0] == 200 and
                              png_pixels(r[2]) != png_pixels(png) else None)(
        get_bytes(sup, shot)), 5, 0.1)
    check(later is not None, "the picture changes when the video does")
    for bad in ("0", "-5", "8193", "abc", "1.5", ""):
        st, ctype, body = get_bytes(sup, shot + "?width=" + bad)
        check(st == 400 and b"width" in body, "width=%r is 400 with a sentence (%s)" % (bad, st))
    st, ctype, body = get_bytes(sup, shot + "?format=gif")
    check(st == 400 and b"png or jpeg" in body, "format=gif is 400 (%s)" % st)
    # who may ask
    st, _, _ = get_bytes(sup, shot, token=s["viewer_token"])
    check(st == 200, "the session's viewer token may take its screenshot (%s)" % st)
    st2, o = sup.http("POST", "/api/v1/sessions", {"template": "noframe", "width": 320,
                                                   "height": 240})
    st, _, _ = get_bytes(sup, shot, token=o["viewer_token"])
    check(st == 403, "another session's viewer token may not (%s)" % st)
    st, _, _ = get_bytes(sup, shot, token="")
    check(st == 401, "no token: 401 (%s)" % st)
    # no frame yet
    st, ctype, body = get_bytes(sup, "/api/v1/sessions/%s/screenshot" % o["id"])
    check(st == 503 and b"no frame" in body, "no frame yet: 503 with a sentence (%s %s)"
          % (st, body[:200]))
    st, g = sup.http("GET", "/api/v1/sessions/" + o["id"])
    check(g["state"] == "running" and g["pid"] == o["pid"] and alive(o["pid"]),
          "... and the session goes on running")
    # many at once: at most 4 are encoded together, the others are 503
    st, big = sup.http("POST", "/api/v1/sessions", {"template": "enc", "width": 1920,
                                                    "height": 1080, "fps": 5})
    bigshot = "/api/v1/sessions/%s/screenshot" % big["id"]
    wait_for(lambda: get_bytes(sup, bigshot)[0] == 200, 10, 0.1)
    results = []
    threads = [threading.Thread(target=lambda: results.append(get_bytes(sup, bigshot)))
               for _ in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    codes = sorted(r[0] for r in results)
    check(len(codes) == 12 and codes.count(200) >= 4 and
          all(r[0] == 200 or (r[0] == 503 and b"busy" in r[2]) for r in results),
          "12 screenshots at once: all answered, at most 4 encoded together, "
          "the rest 503 busy (%s)" % codes)
    check(503 in codes, "... and some were refused (%s)" % codes)
    # no encoder at all
    st, t = sup.http("POST", "/api/v1/sessions", {"template": "test", "width": 320,
                                                  "height": 240})
    st, ctype, body = get_bytes(sup, "/api/v1/sessions/%s/screenshot" % t["id"])
    check(st == 409 and b"encoder" in body, "a pipeline without an encoder: 409 (%s)" % st)
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def case_resize():
    """POST /api/v1/sessions/{id}/resize: 400 outside 320x200..4096x2160
    (the session goes on), else the stream's size changes in the running
    process (its capsfilter; X sessions also get RandR, case browser-resize)."""
    sup = Supervisor()
    st, s = sup.http("POST", "/api/v1/sessions",
                     {"template": "enc", "width": 320, "height": 240, "fps": 30})
    path = "/api/v1/sessions/%s/resize" % s["id"]
    for body in ({"width": 318, "height": 240}, {"width": 4098, "height": 240},
                 {"width": 640, "height": 198}, {"width": 640, "height": 2162},
                 {"width": 641, "height": 480}, {"width": "640", "height": 480},
                 {"width": 640}, {"width": 640, "height": 480, "depth": 24}, [640, 480]):
        st, e = sup.http("POST", path, body)
        check(st == 400 and e.get("error"), "resize %s: 400 (%s %s)" % (body, st, e))
    st, g = sup.http("GET", "/api/v1/sessions/" + s["id"])
    check(g["state"] == "running" and g["pid"] == s["pid"], "the session goes on running")
    st, r = sup.http("POST", path, {"width": 640, "height": 360})
    check(st == 200 and r == {"width": 640, "height": 360}, "resize to 640x360: 200 (%s %s)" % (st, r))
    shot = "/api/v1/sessions/%s/screenshot" % s["id"]
    size = wait_for(lambda: (lambda r: png_size(r[2]) if r[0] == 200 and
                             png_size(r[2]) == (640, 360) else None)(get_bytes(sup, shot)), 10, 0.1)
    check(size == (640, 360), "the encoder's input is 640x360 now (%s)" % (size,))
    st, g = sup.http("GET", "/api/v1/sessions/" + s["id"])
    check(g["width"] == 640 and g["height"] == 360 and g["pid"] == s["pid"],
          "the session reports the new size, same process")
    st, t = sup.http("POST", "/api/v1/sessions", {"template": "noframe"})
    st, e = sup.http("POST", path, {"width": 640, "height": 360}, token=t["viewer_token"])
    check(st == 403, "another session's viewer token may not resize this one (%s)" % st)
    st, e = sup.http("POST", path, {"width": 800, "height": 600}, token=s["viewer_token"])
    check(st == 200, "its own viewer token may (the player asks for its size) (%s)" % st)
    st, e = sup.http("POST", "/api/v1/sessions/%s/resize" % t["id"], {"width": 640, "height": 360})
    check(st == 409 and "cannot be resized" in e.get("error", ""),
          "no display and no fixed size: 409 with a sentence (%s %s)" % (st, e))
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def demo_session(sup, **kw):
    body = {"template": "demo-local", "width": 320, "height": 240, "fps": 30}
    body.update(kw)
    return sup.http("POST", "/api/v1/sessions", body)


def start_time(pid):
    """When @pid started, in CLOCK_BOOTTIME seconds (/proc/PID/stat field
    22, in clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def check_backoff(killed_at, pid, backoff):
    """The restarted process @pid started @backoff seconds after the kill at
    @killed_at (CLOCK_BOOTTIME): not before (a delay of 0 would restart a
    crashing pipeline in a tight loop), not much later. One clock tick of
    slack below (start times are whole ticks)."""
    dt = start_time(pid) - killed_at
    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    check(backoff - tick - 0.005 <= dt < backoff + 1.5,
          "the new process started %.3f s after the kill (backoff %.1f s)" % (dt, backoff))


def case_restart():
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     env={"HELIX_ENCODER": "x264", "HELIX_BACKOFF_INITIAL_MS": "300",
                          "HELIX_BACKOFF_MAX_MS": "600"})
    st, s = demo_session(sup)
    check(st == 201 and s["state"] == "running", "demo-local session runs (%s %s)" % (st, s))
    rc, out = wsclient(viewer_stream(s), frames=5)
    check(rc == 0 and int(out.get("frames", 0)) >= 5, "a client gets frames")
    old = s["pid"]
    # input racing with the death: the supervisor must keep answering (its
    # write to a closed pipe is EPIPE, never a SIGPIPE that kills it)
    answers = []

    def spam():
        for i in range(300):
            try:
                answers.append(sup.http("POST", "/api/v1/sessions/%s/input" % s["id"],
                                        {"type": "key", "action": "up", "code": "KeyA"})[0])
            except Exception as exc:
                answers.append(repr(exc))
            if answers[-1] != 202:
                break  # the race is over: the supervisor saw the death
    th = threading.Thread(target=spam)
    th.start()
    wait_for(lambda: len(answers) > 20, 10)
    t0 = time.monotonic()
    killed_at = time.clock_gettime(time.CLOCK_BOOTTIME)
    os.kill(old, signal.SIGKILL)
    th.join()
    st = answers[-1]
    check(set(answers) <= {202, 409} and 409 in answers and sup.p.poll() is None,
          "input to a dying session is answered (%s), supervisor alive" % sorted(set(map(str, answers))))


    def get():
        return sup.http("GET", "/api/v1/sessions/" + s["id"])[1]

    g = wait_for(lambda: (lambda r: r if r["pid"] not in (None, old) else None)(get()), 10)
    dt = time.monotonic() - t0
    check(g is not None and g["restarts"] == 1 and g["last_exit_code"] == -9,
          "killed session restarted once, last exit = signal 9 (%s)" % g)
    check(dt < 2.0, "new process within the backoff (%.2f s, backoff 0.3 s)" % dt)
    check_backoff(killed_at, g["pid"], 0.3)
    g = wait_for(lambda: (lambda r: r if r["state"] == "running" else None)(get()), 30)
    check(g is not None, "the new process runs")
    check(not exists(old), "the killed process was reaped")
    rc, out = wsclient(viewer_stream(s), frames=5)
    check(rc == 0 and int(out.get("frames", 0)) >= 5,
          "the stream resumes on the same URL after the restart")
    # a second kill doubles the delay
    old2 = g["pid"]
    killed_at = time.clock_gettime(time.CLOCK_BOOTTIME)
    os.kill(old2, signal.SIGKILL)
    g2 = wait_for(lambda: (lambda r: r if r["restarts"] == 2 and r["state"] == "running" else None)(
        get()), 30)
    check(g2 is not None, "second kill: restarted again")
    check_backoff(killed_at, g2["pid"], 0.6)
    check("restarting in 600 ms" in sup.log(), "the backoff doubled (300 -> 600 ms)")
    # a third kill stays at the cap (HELIX_BACKOFF_MAX_MS=600), not 1200 ms
    old3 = g2["pid"]
    killed_at = time.clock_gettime(time.CLOCK_BOOTTIME)
    os.kill(old3, signal.SIGKILL)
    g3 = wait_for(lambda: (lambda r: r if r["restarts"] == 3 and r["state"] == "running" else None)(
        get()), 30)
    check(g3 is not None, "third kill: restarted again")
    check_backoff(killed_at, g3["pid"], 0.6)
    log = sup.log()
    check(log.count("restarting in 600 ms") == 2 and "restarting in 1200 ms" not in log,
          "the backoff stays at its cap (600 ms, not 1200 ms)")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def case_shutdown():
    sup = Supervisor()
    pids = []
    for i in range(3):
        st, s = sup.http("POST", "/api/v1/sessions", {"template": "test"})
        check(st == 201, "session %d created" % i)
    kids = descendants(sup.p.pid)
    check(len(kids) >= 3, "3 session processes run (%s)" % kids)
    rc = sup.stop(signal.SIGTERM)
    check(rc == 0, "SIGTERM: supervisor exits 0 (%s)" % rc)
    left = [p for p in kids if exists(p)]
    check(not left, "no child process left after SIGTERM (%s)" % left)
    no_asan_reports(sup)

    sup = Supervisor()
    for i in range(2):
        sup.http("POST", "/api/v1/sessions", {"template": "test"})
    kids = descendants(sup.p.pid)
    rc = sup.stop(signal.SIGINT)
    check(rc == 0 and not [p for p in kids if exists(p)], "SIGINT: same, nothing left")


def case_kill9():
    sup = Supervisor()
    for i in range(2):
        sup.http("POST", "/api/v1/sessions", {"template": "test"})
    kids = descendants(sup.p.pid)
    check(len(kids) >= 2, "sessions run")
    sup.p.kill()
    sup.p.wait()
    gone = wait_for(lambda: not [p for p in kids if alive(p)], 10)
    check(gone, "SIGKILL of the supervisor: sessions die too (no orphan): %s" %
          [p for p in kids if alive(p)])


def case_e2e():
    display = start_xvfb()
    rec = XRecorder(display)
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     env={"HELIX_DISPLAY": display, "HELIX_VAR_SOURCE": XVFB_SOURCE,
                          "HELIX_ENCODER": "x264"})
    # the stream is 320x240 of a 640x480 screen: coordinates scale by 2
    st, s = demo_session(sup)
    check(st == 201 and s["state"] == "running", "API create: running (%s)" % st)
    rc, out = wsclient(viewer_stream(s), frames=10, send=[
        {"type": "key", "action": "down", "code": "KeyQ"},
        {"type": "key", "action": "up", "code": "KeyQ"},
        {"type": "pointer", "action": "move", "x": 50, "y": 60},
        {"type": "pointer", "action": "down", "x": 50, "y": 60, "button": 2},
        {"type": "pointer", "action": "up", "x": 50, "y": 60, "button": 2},
    ])
    check(rc == 0 and int(out.get("frames", 0)) >= 10, "WebSocket client gets frames")
    init = json.loads(out.get("init", "{}"))
    check(init.get("width") == 320 and init.get("height") == 240, "stream init says 320x240")
    check(rec.read_until(lambda l: l == "key-press q", 10) and
          rec.read_until(lambda l: l == "key-release q", 5),
          "WebSocket key reached the X desktop")
    check(rec.read_until(lambda l: l == "button-press 3 100 120", 5) and
          rec.read_until(lambda l: l == "button-release 3 100 120", 5),
          "WebSocket right click reached the X desktop at scaled coordinates")
    st, r = sup.http("POST", "/api/v1/sessions/%s/input" % s["id"], [
        {"type": "key", "action": "down", "code": "ShiftLeft"},
        {"type": "key", "action": "down", "code": "Digit7"},
        {"type": "key", "action": "up", "code": "Digit7"},
        {"type": "key", "action": "up", "code": "ShiftLeft"},
        {"type": "pointer", "action": "down", "x": 160, "y": 120, "button": 0},
        {"type": "pointer", "action": "up", "x": 160, "y": 120, "button": 0},
        {"type": "wheel", "x": 160, "y": 120, "dx": 0, "dy": 100},
    ])
    check(st == 202, "API input accepted")
    check(rec.read_until(lambda l: l == "key-press Shift_L", 10) and
          rec.read_until(lambda l: l == "key-press 7", 5) and
          rec.read_until(lambda l: l == "key-release Shift_L", 5),
          "API keys reached the X desktop")
    check(rec.read_until(lambda l: l == "button-press 1 320 240", 5) and
          rec.read_until(lambda l: l == "button-release 1 320 240", 5),
          "API click reached the X desktop (160,120 of 320x240 -> 320,240)")
    check(rec.read_until(lambda l: l.startswith("button-press 5"), 5),
          "API wheel (dy > 0) scrolled down (button 5)")
    if failures:
        print("X events seen:", rec.lines)
    pid = s["pid"]
    st, d = sup.http("DELETE", "/api/v1/sessions/" + s["id"])
    check(st == 200 and not exists(pid), "DELETE stops the session")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


FAKE_QEMU = os.path.join(SOURCE, "tests", "supervisor", "fake-qemu.py")


def real_qemu(trace):
    """A real QEMU that starts in a fraction of a second: a PC with no disk
    and no display (SeaBIOS finds nothing to boot and idles), a USB tablet
    for absolute pointer events, QMP on the session's socket, and QEMU's own
    input trace events in @trace: the proof of what QMP delivered."""
    # env -u LD_PRELOAD: QEMU is not ours to leak-check under ASan
    return ("env -u LD_PRELOAD qemu-system-x86_64 -machine pc -accel tcg -m 64 "
            "-display none -nodefaults -usb -device usb-tablet "
            "-qmp unix:${QMP_SOCKET},server=on,wait=off "
            "-trace 'input_event_*' -D %s" % trace)


def case_qemu():
    trace = os.path.join(TMP, "qemu-trace.log")
    sup = Supervisor(args=["--vm-backend", "qemu", "--qemu-command", real_qemu(trace),
                           "--powerdown-timeout", "1",
                           "--default-template", "test"])
    st, s = sup.http("POST", "/api/v1/sessions", {"width": 640, "height": 480})
    check(st == 201 and s["state"] == "running" and "qemu_pid" in s,
          "qemu backend: QEMU and the session start (%s)" % st)
    qpid = s.get("qemu_pid")
    st, _ = sup.http("POST", "/api/v1/sessions/%s/input" % s["id"], [
        {"type": "key", "action": "down", "code": "KeyA"},
        {"type": "pointer", "action": "down", "x": 639, "y": 0, "button": 2}])
    check(st == 202, "input accepted")

    def traced():
        try:
            with open(trace) as f:
                return f.read()
        except OSError:
            return ""
    # both requests (key, then pointer) must have reached QEMU's input layer
    wait_for(lambda: "input_event_btn" in traced(), 10)
    t = traced()
    check("key qcode a, down 1" in t,
          "QEMU got the key as QMP input-send-event qcode a (%r)" % t[-300:])
    check("axis x, value 0x7fff" in t and "button right, down 1" in t,
          "absolute pointer scaled to 0..32767, right button (%r)" % t[-300:])
    check("QMP command failed" not in sup.log(), "QEMU refused no QMP command")
    t0 = time.monotonic()
    st, d = sup.http("DELETE", "/api/v1/sessions/" + s["id"])
    dt = time.monotonic() - t0
    check(st == 200 and not exists(qpid), "DELETE stops QEMU")
    check("asking the guest to power down" in sup.log(), "QEMU was asked to power down")
    # no operating system answers the ACPI power button here: quit
    check("did not power down in 1 s: quit" in sup.log() and dt >= 1.0,
          "a guest that ignores powerdown gets quit after the timeout (%.1f s)" % dt)
    # SIGTERM path with a running VM
    st, s = sup.http("POST", "/api/v1/sessions", {})
    kids = descendants(sup.p.pid)
    rc = sup.stop()
    check(rc == 0 and not [p for p in kids if exists(p)],
          "SIGTERM with a VM: QEMU and the session are gone")
    no_asan_reports(sup)

    # A guest that obeys the power button. Neither the diskless PC above nor
    # the TCG test guest (its fast init has no ACPI daemon) powers off, so
    # this one path keeps a stand-in: fake-qemu.py exits on system_powerdown.
    log = os.path.join(TMP, "qmp.log")
    open(log, "w").close()
    cmd = "env -u LD_PRELOAD %s %s --qmp ${QMP_SOCKET} --log %s" % (
        sys.executable, FAKE_QEMU, log)
    sup = Supervisor(args=["--vm-backend", "qemu", "--qemu-command", cmd,
                           "--powerdown-timeout", "5", "--default-template", "test"])
    st, s = sup.http("POST", "/api/v1/sessions", {})
    check(st == 201 and s.get("qemu_pid"), "a session with the stand-in QEMU (%s)" % st)
    # up once the session's input connection has negotiated QMP
    wait_for(lambda: "qmp_capabilities" in open(log).read(), 10)
    st, d = sup.http("DELETE", "/api/v1/sessions/" + s["id"])
    with open(log) as f:
        names = [json.loads(l).get("execute") for l in f if l.strip()]
    check(st == 200 and not exists(s.get("qemu_pid") or 0), "DELETE stops QEMU")
    check("system_powerdown" in names and "quit" not in names
          and "did not power down" not in sup.log(),
          "a guest that powers down is not sent quit (%s)" % open(log).read())
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def listening_tcp_ports(pid):
    """TCP ports process @pid listens on (its sockets in /proc/net/tcp*)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.read().splitlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


# the one Python WebSocket client (tests/wsclient.py)
ws_raw_request = wsclient_py.raw_request
ws_head = wsclient_py.head
ws_frames = wsclient_py.read_frames


def case_frontdoor():
    """One port for people: every session's player page and WebSocket are
    on the supervisor's port (/player/ID/, /stream/ID), relayed to the
    session's wsh264sink on a Unix socket; sessions listen on no TCP port
    for viewers. Each viewer gets its own session's stream, the gate (Host,
    Origin) stands in front of every stream, a stalled viewer does not slow
    another one, and a viewer of a deleted session gets a clean close."""
    noise = ("videotestsrc is-live=true pattern=snow ! "
             "video/x-raw,width=${WIDTH},height=${HEIGHT},framerate=${FRAMERATE}/1")
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     env={"HELIX_ENCODER": "x264", "HELIX_VAR_SOURCE": noise,
                          "HELIX_VAR_BITRATE": "6000",
                          "HELIX_VAR_ENCODER_SETTINGS": "speed-preset=ultrafast"})
    st, a = demo_session(sup, id="a", width=320, height=240)
    st2, b = demo_session(sup, id="b", width=256, height=144)
    check(st == st2 == 201, "two sessions run (%s %s)" % (st, st2))
    for s in (a, b):
        # a subset: the RTSP server may attach its socket a moment later
        check(listening_tcp_ports(s["pid"]) <= {s["rtsp_port"]},
              "session %s listens on no TCP port but its RTSP one (%s)"
              % (s["id"], listening_tcp_ports(s["pid"])))
        sock = os.path.join(TMP, "run", s["id"], "ws.sock")
        mode = os.stat(sock).st_mode
        check(stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600,
              "its stream socket is RUN_DIR/ws.sock, mode 0600 (%o)" % mode)
    rc, out = wsclient(viewer_stream(a), frames=5)
    check(rc == 0 and '"width":320' in out.get("init", "") and '"session":"a"' in out.get("init", ""),
          "a viewer of /stream/a gets session a (320x240): %s" % out.get("init"))
    rc, out = wsclient(viewer_stream(b), frames=5)
    check(rc == 0 and '"width":256' in out.get("init", "") and '"session":"b"' in out.get("init", ""),
          "a viewer of /stream/b gets session b (256x144): %s" % out.get("init"))
    rc, out = wsclient("ws://127.0.0.1:%d/api/v1/sessions/b/stream?token=%s"
                       % (sup.port, b["viewer_token"]), frames=1)
    check(rc == 0 and '"session":"b"' in out.get("init", ""),
          "GET /api/v1/sessions/{id}/stream is the same WebSocket (%s)" % rc)
    rc, out = wsclient(a["stream_url"] + "?token=" + b["viewer_token"], frames=1, timeout=3)
    check(rc != 0, "b's viewer token does not open /stream/a through the relay")

    # the gate in front of the streams
    host = "127.0.0.1:%d" % sup.port
    c, line = ws_raw_request(sup.port, ws_head("/stream/a", "rebind.example", token=a["viewer_token"]))
    c.close()
    check(" 421 " in line, "/stream/a under a foreign Host name: %s" % line)
    c, line = ws_raw_request(sup.port, ws_head("/stream/a", host, origin="http://evil.example",
                                            token=a["viewer_token"]))
    c.close()
    check(" 403 " in line, "/stream/a from a foreign page's Origin: %s" % line)
    c, line = ws_raw_request(sup.port, ws_head("/stream/nosuch", host, token=a["viewer_token"]))
    c.close()
    check(" 404 " in line, "/stream/ of an unknown session: %s" % line)
    c, line = ws_raw_request(sup.port, ws_head("/stream/a", host, origin="http://" + host,
                                            token=a["viewer_token"]))
    c.close()
    check(" 101 " in line, "/stream/a from the player's own origin: %s" % line)
    # the decision: on its Unix socket the sink leaves Host to the relay
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(10)
    u.connect(os.path.join(TMP, "run", "a", "ws.sock"))
    u.sendall(b"GET / HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n\r\n")
    line = u.recv(64).split(b"\r\n", 1)[0].decode()
    u.close()
    check(" 200 " in line, "the sink's Unix socket leaves Host to the relay (%s)" % line)

    # the player page on the same port
    st, html = sup.http("GET", "/player/a/", token="")
    check(st == 200 and "player.js" in html, "GET /player/a/ is the player page (%s)" % st)
    st, cfg = sup.http("GET", "/player/a/config.json", token=a["viewer_token"])
    check(st == 200 and cfg.get("stream_path") == "/stream/a" and cfg.get("token_ok") is True,
          "its config names /stream/a and accepts a's token (%r)" % cfg)
    st, cfg = sup.http("GET", "/player/a/config.json", token="wrong")
    check(st == 200 and cfg.get("token_ok") is False, "... and says a wrong token is wrong (%r)" % cfg)
    st, cfg = sup.http("GET", "/player/a/config.json", token=sup.token)
    check(st == 200 and "token_ok" not in cfg,
          "the relay does not pass the administrator token on to the session (%r)" % cfg)
    st, e = sup.http("GET", "/player/nosuch/config.json", token="")
    check(st == 404 and "nosuch" in e.get("error", ""), "the player of an unknown session is 404")

    # a stalled viewer (reads nothing, small receive buffer) beside a good one
    stalled, line = ws_raw_request(sup.port, ws_head("/stream/a", host, token=a["viewer_token"]),
                                rcvbuf=4096)
    check(" 101 " in line, "a viewer that stops reading joins (%s)" % line)
    rc, out = wsclient(viewer_stream(a), frames=150, timeout=30)
    check(rc == 0 and out.get("gaps") == "0",
          "another viewer gets 150 frames with no gap while it is stalled (%s %r)" % (rc, out))
    try:
        seqs = ws_frames(stalled, 60)
        gaps = sum(1 for x, y in zip(seqs, seqs[1:]) if y != x + 1)
    except (OSError, EOFError) as exc:
        seqs, gaps = [], repr(exc)
    stalled.close()
    check(isinstance(gaps, int) and gaps > 0,
          "the stalled viewer skipped frames (the sink's policy reached it "
          "through the relay): %s gap(s)" % gaps)

    # a viewer of a deleted session
    w = subprocess.Popen([WSCLIENT, "-n", "100000", "-t", "30", viewer_stream(b)],
                         stdout=subprocess.PIPE, text=True)
    cleanups.append(lambda: w.poll() is None and (w.kill(), w.wait()))
    check(w.stdout.readline().startswith("connected"), "a viewer watches b")
    st, _ = sup.http("DELETE", "/api/v1/sessions/b")
    out, _ = w.communicate(timeout=30)
    check("closed 1001 The stream stopped." in out,
          "the viewer of the deleted session got a clean close with a reason (%r)" % out[-200:])
    rc, out = wsclient(viewer_stream(b), frames=1, timeout=2)
    check(rc != 0, "/stream/b is gone with b")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def need_browser(*programs):
    """Skips (77) a case that drives Chromium when it cannot run here: under
    ASan (Chromium is not ours), or without node, /usr/bin/chromium and
    tests/browser/node_modules, or without one of @programs."""
    node_modules = os.path.join(SOURCE, "tests", "browser", "node_modules", "playwright-core")
    if ASAN:
        print("SKIP: browser case not run under ASan (Chromium is not ours)")
        sys.exit(77)
    if not (shutil.which("node") and os.path.exists("/usr/bin/chromium") and
            os.path.isdir(node_modules)):
        print("SKIP: needs node, /usr/bin/chromium and tests/browser/node_modules")
        sys.exit(77)
    for prog in programs:
        if not shutil.which(prog):
            print("SKIP: %s is not installed (tools/install-deps.sh)" % prog)
            sys.exit(77)


def case_browser_frontdoor():
    """Chromium on the one port: two sessions, each viewer link decodes its
    own session; a wrong token, a page that is not a secure context
    (http://vmstream.test:PORT, a public name) and a session deleted under
    its viewer each show a sentence on the page, never just a black
    canvas."""
    need_browser()
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     args=["--public-names", "vmstream.test"],
                     env={"HELIX_ENCODER": "x264", "HELIX_TOKEN": "adm1n"})
    st, a = demo_session(sup, id="a", width=320, height=240)
    st2, b = demo_session(sup, id="b", width=256, height=144)
    check(st == st2 == 201, "two sessions run (%s %s)" % (st, st2))
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    base = "http://127.0.0.1:%d" % sup.port
    arg = {"base": base, "port": sup.port, "admin": "adm1n", "a": a, "b": b,
           "wrong": "%s/player/a#token=%s" % (base, "0" * 64)}
    r = subprocess.run(["node", os.path.join(SOURCE, "tests", "supervisor", "frontdoor-browser.js"),
                        json.dumps(arg)], capture_output=True, text=True, env=env, timeout=120)
    out = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    check(r.returncode == 0, "the browser script ran (%s %s)" % (r.returncode, r.stderr[-300:]))
    own = out.get("own", {})
    check(own.get("a", {}).get("decodedWidth") == 320 and own.get("b", {}).get("decodedWidth") == 256,
          "each viewer link decodes its own session on the one port (%s, %s)"
          % (own.get("a", {}).get("decodedWidth"), own.get("b", {}).get("decodedWidth")))
    check(own.get("urlA", "").startswith("%s/player/a/#token=" % base),
          "the viewer link is /player/ID/ on the supervisor's port (%s)" % own.get("urlA"))
    check(not own.get("a", {}).get("visible", True), "no message over a playing picture")
    w = out.get("wrongToken", {})
    check(w.get("visible") and "not valid" in w.get("text", ""),
          "a wrong token: the page says so (%r)" % w.get("text"))
    i = out.get("insecure", {})
    check(i.get("visible") and i.get("isSecureContext") is False and
          "not a secure context" in i.get("text", ""),
          "http://vmstream.test: the page says it is not a secure context (%r)" % i.get("text"))
    g = out.get("gone", {})
    check(out.get("deleteStatus") == 200 and g.get("visible") and "gone" in g.get("text", "") and
          g.get("closeCode") == 1001 and g.get("closeReason") == "The stream stopped.",
          "a deleted session: a clean close (%s %r) and the page says the session is gone (%r)"
          % (g.get("closeCode"), g.get("closeReason"), g.get("text")))
    check(out.get("otherPlays"), "the other session's viewer plays on")
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")


def case_browser():
    """Chromium opens the session's viewer link, /player/ID#token=<viewer
    token> (a redirect to the session's player; the fragment stays in the
    browser), decodes frames, and its click and key reach Xvfb. The stream
    needs the viewer token."""
    need_browser()
    display = start_xvfb()
    rec = XRecorder(display)
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     env={"HELIX_DISPLAY": display, "HELIX_VAR_SOURCE": XVFB_SOURCE,
                          "HELIX_ENCODER": "x264", "HELIX_TOKEN": "tok3n"})
    st, s = demo_session(sup)
    check(st == 201 and s["state"] == "running", "API create: running (%s)" % st)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    node = subprocess.Popen(["node", os.path.join(SOURCE, "tests", "supervisor", "browser-input.js"),
                             s["viewer_url"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    cleanups.append(lambda: node.poll() is None and (node.kill(), node.wait()))
    line = node.stdout.readline()  # blocks until the page decoded and sent input
    out = json.loads(line) if line.startswith("{") else {}
    check(bool(out), "Chromium decoded frames from /player/%s" % s["id"])
    st_ = out.get("state", {})
    check(out.get("url", "") == "http://127.0.0.1:%d/player/%s/#token=%s" % (
              sup.port, s["id"], s["viewer_token"]),
          "the viewer link redirected to /player/ID/ on the supervisor's port, the token kept in "
          "the fragment (%s)" % out.get("url"))
    rc, _ = wsclient(s["stream_url"], frames=1, timeout=3)
    check(rc != 0, "the stream refuses a client without the token")
    # the index page: its script takes the administrator token from the
    # fragment and links the session by its viewer link
    dom = subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=5000", "--dump-dom",
                          "http://127.0.0.1:%d/#token=tok3n" % sup.port],
                         capture_output=True, text=True, env=env, timeout=60).stdout
    check('href="%s"' % s["viewer_url"] in dom,
          "the index page, opened as /#token=<administrator token>, links the "
          "session by its viewer link")
    check(st_.get("decodedWidth") == 320 and st_.get("decodedHeight") == 240,
          "decoded at the session's size (%sx%s)" % (st_.get("decodedWidth"), st_.get("decodedHeight")))
    press = rec.read_until(lambda l: l.startswith("button-press 1 "), 10)
    ok = False
    if press:
        x, y = map(int, press.split()[2:4])
        ok = abs(x - 320) <= 3 and abs(y - 240) <= 3
    check(ok, "the browser click reached Xvfb at the middle of the screen (%s)" % press)
    check(rec.read_until(lambda l: l == "key-press z", 10) and
          rec.read_until(lambda l: l == "key-release z", 10),
          "the browser key reached Xvfb")
    # kill -9 the session: the open page reconnects to the restarted one
    os.kill(s["pid"], signal.SIGKILL)
    line = node.stdout.readline()
    node.wait(timeout=90)
    resumed = json.loads(line) if line.startswith("{") else {}
    check(resumed.get("resumed") and node.returncode == 0,
          "after kill -9 of the session the open player reconnected and decodes again "
          "(connects=%s) %s" % (resumed.get("state", {}).get("connects"), node.stderr.read()[-300:]))
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")


def case_browser_resize():
    """The resize API on an X desktop: RandR changes the Xvfb screen,
    ximagesrc and the encoder renegotiate, and an open Chromium player
    decodes the new size without reconnecting; a screenshot shows it too."""
    need_browser()
    display = start_xvfb("1024x768")
    rec = XRecorder(display)
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     env={"HELIX_DISPLAY": display, "HELIX_VAR_SOURCE": XVFB_SOURCE,
                          "HELIX_ENCODER": "x264"})
    st, s = demo_session(sup, width=320, height=240, fps=15)
    check(st == 201 and s["state"] == "running", "API create: running (%s)" % st)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    node = subprocess.Popen(["node", os.path.join(SOURCE, "tests", "supervisor", "browser-resize.js"),
                             s["viewer_url"]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    cleanups.append(lambda: node.poll() is None and (node.kill(), node.wait()))
    line = node.stdout.readline()  # blocks until the page decoded
    before = json.loads(line).get("state", {}) if line.startswith("{") else {}
    check(before.get("decodedWidth") == 320 and before.get("decodedHeight") == 240,
          "Chromium decodes 320x240 first (%sx%s)" % (before.get("decodedWidth"),
                                                       before.get("decodedHeight")))
    # a click before: the session's X connection is open from before the resize
    sup.http("POST", "/api/v1/sessions/%s/input" % s["id"], click(0, 160, 120))
    press = rec.read_until(lambda l: l.startswith("button-press 1 "), 10)
    check(press == "button-press 1 512 384", "before: 160,120 of 320x240 is 512,384 of "
          "the 1024x768 screen (%s)" % press)
    st, r = sup.http("POST", "/api/v1/sessions/%s/resize" % s["id"], {"width": 800, "height": 600})
    check(st == 200, "resize to 800x600 accepted (%s %s)" % (st, r))
    dims = subprocess.run(["xdpyinfo", "-display", display], capture_output=True,
                          text=True).stdout
    check("dimensions:    800x600 pixels" in dims,
          "RandR made the X screen itself 800x600 (%s)" %
          [l.strip() for l in dims.splitlines() if "dimensions" in l])
    st, e = sup.http("POST", "/api/v1/sessions/%s/resize" % s["id"], {"width": 1280, "height": 720})
    check(st == 409 and "1024x768" in e.get("error", ""),
          "larger than the X server allows: 409 naming its largest size (%s %s)" % (st, e))
    line = node.stdout.readline()
    node.wait(timeout=60)
    after = json.loads(line).get("state", {}) if line.startswith("{") else {}
    check(after.get("decodedWidth") == 800 and after.get("decodedHeight") == 600,
          "the open player decodes 800x600 after the resize (%sx%s) %s" % (
              after.get("decodedWidth"), after.get("decodedHeight"), node.stderr.read()[-300:]))
    check(after.get("connects") == 1 and after.get("width") == 800,
          "without reconnecting: a new init on the same connection (connects=%s)"
          % after.get("connects"))
    # input follows: the stream is the screen now, 1:1
    rec.lines.clear()
    sup.http("POST", "/api/v1/sessions/%s/input" % s["id"], click(0, 400, 300))
    press = rec.read_until(lambda l: l.startswith("button-press 1 "), 10)
    check(press == "button-press 1 400 300",
          "after: 400,300 of the 800x600 stream lands at 400,300 of the "
          "resized screen (%s)" % press)
    st, ctype, png = get_bytes(sup, "/api/v1/sessions/%s/screenshot" % s["id"])
    check(st == 200 and png_size(png) == (800, 600), "the screenshot is 800x600 too (%s)"
          % (png_size(png),))
    # the player's own request: #fit=1, the window made 700x500 then
    # 722x481 100 ms later -> one resize to 722x480 (even)
    node = subprocess.run(["node", os.path.join(SOURCE, "tests", "supervisor", "browser-resize.js"),
                           s["viewer_url"], "fit"], capture_output=True, text=True, env=env,
                          timeout=90)
    out = json.loads(node.stdout) if node.stdout.startswith("{") else {}
    fitted = out.get("state", {})
    check(fitted.get("decodedWidth") == 722 and fitted.get("decodedHeight") == 480,
          "with #fit=1 the player's window size becomes the desktop's (%sx%s) %s" % (
              fitted.get("decodedWidth"), fitted.get("decodedHeight"), node.stderr[-300:]))
    check(out.get("sent") == 1,
          "debounced: one request for two quick window changes (%s)" % out.get("sent"))
    st, g = sup.http("GET", "/api/v1/sessions/" + s["id"])
    check(g.get("width") == 722 and g.get("height") == 480,
          "the supervisor heard the new size (%sx%s)" % (g.get("width"), g.get("height")))
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")


def tcg_session(env=None):
    """A supervisor with the qemu backend and one 320x240 session whose
    test guest boots under TCG (vm/vmstream-vm) and streams through
    virtio-serial to the session's vsocksrc: (supervisor, session, POST
    time). Skips without the guest image or under ASan."""
    if ASAN:
        print("SKIP: the guest cannot load AddressSanitizer-built plugins")
        sys.exit(77)
    vmv = os.path.join(SOURCE, "vm", "vmstream-vm")
    r = subprocess.run([vmv, "image"], capture_output=True, text=True)
    if r.returncode != 0:
        print("SKIP: no guest image (the vm suite builds it): " + r.stderr.strip())
        sys.exit(77)
    cmd = ("env -u LD_PRELOAD ${VM_DIR}/vmstream-vm run --name ${SESSION_ID} "
           "--variant ${VM_VARIANT} --runtime-dir ${RUN_DIR} --qmp ${QMP_SOCKET} "
           "--stream-socket ${RUN_DIR}/stream.sock --port ${VSOCK_PORT} "
           "--pipeline ${GUEST_PIPELINE} --plugins ${GUEST_PLUGINS} "
           "--set WIDTH=${WIDTH} --set HEIGHT=${HEIGHT} --set FRAMERATE=${FPS} "
           "--fast-init")
    e = {"HELIX_VM_DIR": os.path.join(SOURCE, "vm"), "HELIX_VM_VARIANT": "test",
         "HELIX_VAR_GUEST_PLUGINS": os.path.join(BUILD, "plugins", "vsocksink"),
         "HELIX_ENCODER": "x264"}
    e.update(env or {})
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     args=["--vm-backend", "qemu", "--qemu-command", cmd,
                           "--powerdown-timeout", "3"],
                     env=e)
    t0 = time.monotonic()
    st, s = sup.http("POST", "/api/v1/sessions", {"width": 320, "height": 240, "fps": 15})
    # vsocksrc reaches PLAYING when the guest connects (~25 s under TCG), so
    # the POST may answer "starting" after HELIX_START_TIMEOUT
    check(st == 201 and s["state"] in ("starting", "running") and s.get("qemu_pid"),
          "qemu backend: QEMU and the session process started (%s %s)" % (st, s))
    return sup, s, t0


def case_qemu_tcg():
    """The real thing: vm/vmstream-vm boots the test guest under TCG, the
    guest streams through virtio-serial to the session's vsocksrc; input
    reaches the guest; ten kills of the session process (check_ten_kills)."""
    sup, s, t0 = tcg_session({"HELIX_BACKOFF_INITIAL_MS": "100",
                              "HELIX_BACKOFF_MAX_MS": "200"})
    rc, out = wsclient(viewer_stream(s), frames=10, timeout=150)
    check(rc == 0, "frames from the TCG guest reach a WebSocket client (%.0f s after POST)"
          % (time.monotonic() - t0))
    init = json.loads(out.get("init", "{}"))
    check(init.get("width") == 320, "at the session's size (%s)" % init)
    # The test guest's vmstream-keylog prints input events on its console
    # (vmstream-vm's default console file is RUN_DIR/console.log).
    console = os.path.join(TMP, "run", s["id"], "console.log")

    def console_has(*words):
        try:
            with open(console, errors="replace") as f:
                text = f.read()
        except OSError:
            return False
        return all(w in text for w in words)
    wait_for(lambda: console_has("(QEMU Virtio Keyboard)", "Tablet)"), 60, 0.2)
    st, r = sup.http("POST", "/api/v1/sessions/%s/input" % s["id"], [
        {"type": "key", "action": "down", "code": "KeyA"},
        {"type": "key", "action": "up", "code": "KeyA"},
        {"type": "pointer", "action": "move", "x": 319, "y": 120}])
    check(st == 202, "input accepted for the guest")
    check(wait_for(lambda: console_has("(KEY_A), value 1", "(KEY_A), value 0"), 30, 0.2),
          "the API key reached the guest (its keylog saw KEY_A down and up)")
    check(wait_for(lambda: console_has("(ABS_X), value 32767"), 30, 0.2),
          "the API pointer reached the guest at x = 32767 (right edge)")
    check_ten_kills(sup, s)
    qpid = s["qemu_pid"]
    t1 = time.monotonic()
    st, d = sup.http("DELETE", "/api/v1/sessions/" + s["id"])
    check(st == 200 and not alive(qpid), "DELETE stops QEMU (%.1f s)" % (time.monotonic() - t1))
    check("asking the guest to power down" in sup.log(), "through QMP system_powerdown")
    kids = descendants(sup.p.pid)
    rc = sup.stop()
    check(rc == 0 and not [p for p in kids if exists(p)], "nothing left")
    no_asan_reports(sup)


def check_ten_kills(sup, s):
    """Issue 14: the guest link survives every restart of the host side.
    The session process (vmstream-session, not QEMU) of a TCG VM session is
    SIGKILLed ten times in a row; after each kill the supervisor starts a
    new one, QEMU reconnects its virtio-serial chardev to the new vsocksrc,
    the guest's vsocksink notices the host side going away and coming back
    (POLLHUP) and says HELLO again, and a WebSocket viewer gets new frames
    within 3 s. QEMU's pid never changes. The supervisor's restart delay is
    capped at 200 ms (HELIX_BACKOFF_MAX_MS, set by case_qemu_tcg): the 3 s
    are the link's. Part of case_qemu_tcg, so that it costs no boot of its
    own."""
    qpid = s["qemu_pid"]
    times = []
    for i in range(10):
        st, cur = sup.http("GET", "/api/v1/sessions/" + s["id"])
        pid = cur.get("pid")
        if not check(st == 200 and pid, "kill %d: the session process runs (%s, pid %s)"
                     % (i + 1, cur.get("state"), pid)):
            break
        t_kill_us = int(time.time() * 1e6)
        os.kill(pid, signal.SIGKILL)
        # vms-wsclient retries until the new session process serves the
        # stream; first-frame is in ms since the kill
        rc, out = wsclient(viewer_stream(s), frames=3, timeout=20,
                           t0_us=t_kill_us)
        back = float(out.get("first-frame", "inf")) / 1000.0
        times.append(back)
        print("kill %d: session process %d killed, stream back after %.2f s" % (i + 1, pid, back),
              flush=True)
        if not check(rc == 0 and back < 3.0,
                     "kill %d: new frames on a WebSocket viewer within 3 s (%.2f s)" % (i + 1, back)):
            break
        check(alive(qpid), "kill %d: QEMU (pid %d) still runs" % (i + 1, qpid))
    st, cur = sup.http("GET", "/api/v1/sessions/" + s["id"])
    check(cur.get("qemu_pid") == qpid and alive(qpid),
          "QEMU's pid unchanged after %d kills (%s)" % (len(times), cur.get("qemu_pid")))
    check(cur.get("restarts", 0) >= len(times), "the supervisor counted the restarts (%s)"
          % cur.get("restarts"))
    # the guest's gst-launch prints vsocksink's warning on the console: the
    # port's hang-up (POLLHUP) is what the guest saw, not a keepalive timeout
    try:
        with open(os.path.join(TMP, "run", s["id"], "console.log"), errors="replace") as f:
            console = f.read()
    except OSError:
        console = ""
    check("not connected" in console,
          "the guest's vsocksink saw the virtio-serial port hang up (console)")
    check("answered no PING" not in console,
          "and never needed the keepalive to notice")
    print("recovery times (s): " + " ".join("%.2f" % t for t in times), flush=True)
    if times:
        print("recovery: max %.2f s, mean %.2f s over %d kills"
              % (max(times), sum(times) / len(times), len(times)), flush=True)


def case_capture():
    """The capture mode setting: HELIX_CAPTURE / --capture is validated at
    start, the POST's "capture" field per session (a bad value or qemu
    without a VM = 400 with a sentence). With the default QEMU command
    (vm/vmstream-vm run, here a stand-in that logs its arguments and serves
    QMP), capture qemu adds --vnc-socket RUN_DIR/vnc.sock and picks
    host-qemu-display, whose qemudisplaysrc reads that socket; guest does
    neither. Input goes through QMP in both modes."""
    if ASAN:
        print("SKIP: the stand-in vmstream-vm is a script (not leak-checked)")
        sys.exit(77)
    for env, word in (({"HELIX_CAPTURE": "vnc"}, "must be guest"),
                      ({"HELIX_CAPTURE": "qemu"}, "needs HELIX_VM_BACKEND=qemu")):
        r = subprocess.run([SUP, "--print-config"], capture_output=True, text=True,
                           env=dict(os.environ, **env), timeout=20)
        check(r.returncode == 2 and word in r.stderr,
              "HELIX_CAPTURE=%s refused at start: %s" % (env["HELIX_CAPTURE"], r.stderr.strip()))
    r = subprocess.run([SUP, "--print-config", "--capture", "qemu", "--vm-backend", "qemu"],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 0 and "capture=qemu" in r.stdout, "--capture qemu with the qemu backend")
    sup = Supervisor()
    st, r = sup.http("POST", "/api/v1/sessions", {"capture": "qemu"})
    check(st == 400 and "runs no VM" in r.get("error", ""),
          "capture qemu without a VM: 400 (%s %s)" % (st, r))
    sup.stop()

    vmdir = os.path.join(TMP, "vm")
    os.makedirs(vmdir)
    argslog = os.path.join(TMP, "vm-args.log")
    qmplog = os.path.join(TMP, "qmp.log")
    fake_vm = os.path.join(vmdir, "vmstream-vm")
    with open(fake_vm, "w") as f:
        f.write("#!/usr/bin/env python3\n"
                "import os, sys\n"
                "a = sys.argv[1:]\n"
                "open(%r, 'a').write(' '.join(a) + '\\n')\n"
                "os.execv(sys.executable, [sys.executable, %r, '--qmp', "
                "a[a.index('--qmp') + 1], '--log', %r])\n" % (argslog, FAKE_QEMU, qmplog))
    os.chmod(fake_vm, 0o755)
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     args=["--vm-backend", "qemu", "--powerdown-timeout", "1"],
                     env={"HELIX_VM_DIR": vmdir, "HELIX_ENCODER": "x264"})
    st, r = sup.http("POST", "/api/v1/sessions", {"capture": "vnc"})
    check(st == 400 and '"capture" must be "guest"' in r.get("error", ""),
          "a bad capture value: 400 with a sentence (%s)" % r)
    st, r = sup.http("POST", "/api/v1/sessions", {"capture": 1})
    check(st == 400, "a capture that is not a string: 400 (%s)" % r)
    st, s = sup.http("POST", "/api/v1/sessions", {"capture": "qemu", "id": "q1"})
    check(st == 201 and s["capture"] == "qemu" and s["template"] == "host-qemu-display",
          "capture qemu picks host-qemu-display (%s %s)" % (st, s))
    vnc = os.path.join(TMP, "run", "q1", "vnc.sock")

    def args_lines():
        try:
            with open(argslog) as f:
                return f.read().splitlines()
        except OSError:
            return []
    # the stand-in vmstream-vm writes its arguments when it starts, which
    # may be after the session reports running
    wait_for(lambda: len(args_lines()) >= 1, 10)
    line = "\n".join(args_lines())
    check("--vnc-socket %s" % vnc in line,
          "QEMU is started with the VNC socket in the session's runtime folder (%s)" % line.strip())
    env_text = open("/proc/%d/environ" % s["pid"], "rb").read().decode(errors="replace")
    check("qemudisplaysrc socket=%s" % vnc in env_text,
          "the session's pipeline reads that socket")
    st, _ = sup.http("POST", "/api/v1/sessions/q1/input",
                     [{"type": "key", "action": "down", "code": "KeyA"}])
    # the stand-in writes its log once the session's QMP client talks to it
    check(st == 202 and wait_for(lambda: os.path.exists(qmplog) and
                                 "input-send-event" in open(qmplog).read(), 10),
          "input of a qemu-capture session goes through QMP input-send-event")
    st, s = sup.http("POST", "/api/v1/sessions", {"id": "g1", "width": 320, "height": 240})
    check(st == 201 and s["capture"] == "guest" and s["template"] == "host-native",
          "the default capture is guest, host-native (%s %s)" % (st, s))
    wait_for(lambda: len(args_lines()) >= 2, 10)
    last = (args_lines() or [""])[-1]
    check("--vnc-socket" not in last, "a guest-capture VM has no VNC socket (%s)" % last)
    check("--variant desktop --build-missing" in last
          and "--pipeline %s " % os.path.join(SOURCE, "pipelines", "guest-pipewire.txt") in last,
          "the default QEMU command boots the desktop image with guest-pipewire.txt (%s)" % last)
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    # a QEMU command of one's own without ${CAPTURE_ARGS}: said in the log
    cmd = "env -u LD_PRELOAD %s %s --qmp ${QMP_SOCKET} --log %s" % (
        sys.executable, FAKE_QEMU, qmplog)
    sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                     args=["--vm-backend", "qemu", "--capture", "qemu", "--qemu-command", cmd,
                           "--powerdown-timeout", "1"], env={"HELIX_ENCODER": "x264"})
    st, s = sup.http("POST", "/api/v1/sessions", {})
    check(st == 201 and s["capture"] == "qemu", "HELIX_CAPTURE=qemu is the sessions' default")
    check("does not serve ${VNC_SOCKET}" in sup.log(),
          "a QEMU command without the VNC socket is named in the log")
    check(sup.stop() == 0, "supervisor exits 0")


class SessionProc:
    """One vmstream-session started by hand (as the supervisor does), its
    stdin to write input lines to and its stderr in a file."""

    def __init__(self, args=(), env=None, preload=None):
        e = dict(os.environ)
        e.pop("HELIX_DISPLAY", None)
        e.update(env or {})
        libs = [l for l in (ASAN, preload) if l]
        if libs:
            e["LD_PRELOAD"] = " ".join(libs)
        self.errpath = os.path.join(TMP, "session-%d.log" % time.monotonic_ns())
        self.err = open(self.errpath, "w")
        pipeline = ("videotestsrc is-live=true ! "
                    "video/x-raw,width=320,height=240,framerate=10/1 ! "
                    "identity name=stats ! fakesink")
        self.p = subprocess.Popen([SESSION, "--pipeline", pipeline, "--width=320",
                                   "--height=240", "--stats-interval=0"] + list(args),
                                  env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True)
        cleanups.append(self.kill)
        r, _, _ = select.select([self.p.stdout], [], [], 30)
        line = self.p.stdout.readline() if r else ""
        if "playing" not in line:
            raise RuntimeError("session did not play: %r\n%s" % (line, self.log()))

    def send(self, events):
        self.p.stdin.write(json.dumps(events) + "\n")
        self.p.stdin.flush()

    def log(self):
        self.err.flush()
        with open(self.errpath) as f:
            return f.read()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.err.close()


def key(code):
    return [{"type": "key", "action": "down", "code": code},
            {"type": "key", "action": "up", "code": code}]


def click(button, x=10, y=10):
    return [{"type": "pointer", "action": "down", "x": x, "y": y, "button": button},
            {"type": "pointer", "action": "up", "x": x, "y": y, "button": button}]


def case_xerror():
    """A bad input event never ends a session process: buttons outside the
    contract are refused at the session's own entry, and an X error that
    XTest reports anyway (asynchronously) is survived."""
    display = start_xvfb()
    rec = XRecorder(display)
    # 1. DOM button 31 on the session's stdin (X button 36: BadValue if it
    # reached XTest); then a key must still arrive
    sess = SessionProc(["--display", display])
    sess.send(click(31))
    sess.send(key("KeyQ"))
    check(rec.read_until(lambda l: l == "key-press q", 10),
          "a key after button 31 still reaches the X desktop")
    check(sess.p.poll() is None, "button 31 did not end the session process")
    check("button" in sess.log(), "the session said why it refused button 31")
    check(not [l for l in rec.lines if l.startswith("button-") and int(l.split()[1]) > 9],
          "no X button beyond 9 was pressed")
    sess.kill()
    # 2. X itself refuses an event (the shim sends X button 9 as 200):
    # BadValue arrives as an X error, the process goes on injecting
    sess = SessionProc(["--display", display], preload=BADBUTTON)
    sess.send(click(4))
    sess.send(key("KeyW"))
    check(rec.read_until(lambda l: l == "key-press w", 10),
          "a key after an X BadValue still reaches the X desktop")
    check(sess.p.poll() is None, "an X BadValue did not end the session process")
    check(wait_for(lambda: "X error" in sess.log(), 5),
          "the session logged the X error")
    check(not [l for l in rec.lines if l.startswith("button-press 9")],
          "X refused the forward button (the shim is loaded)")
    sess.send(click(0, 20, 30))
    check(rec.read_until(lambda l: l == "button-press 1 40 60", 10),
          "clicks still reach the X desktop after the X error")
    if failures:
        print("X events seen:", rec.lines)
        print("session log:", sess.log())


def case_nodisplay():
    """With no VM the input target is the configured display only: $DISPLAY
    from the environment is never used."""
    display = start_xvfb()
    rec = XRecorder(display)
    # 1. the session process: DISPLAY in its environment, no --display
    sess = SessionProc(env={"DISPLAY": display})
    sess.send(key("KeyE") + click(0))
    check(wait_for(lambda: "no X display configured" in sess.log(), 10),
          "the session says input is refused without a configured display")
    time.sleep(1.5)
    check(not [l for l in rec.lines if l != "READY" and not l.startswith("READY")],
          "nothing reached $DISPLAY from the session (%r)" % rec.lines[1:])
    check(sess.p.poll() is None, "the session still runs")
    sess.kill()
    # 2. the supervisor: DISPLAY in its environment, no HELIX_DISPLAY
    sup = Supervisor(env={"DISPLAY": display})
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test", "width": 320, "height": 240})
    check(st == 201 and s.get("state") == "running", "session created (%s)" % st)
    st, r = sup.http("POST", "/api/v1/sessions/%s/input" % s.get("id"), key("KeyR"))
    check(st == 202, "API input accepted (%s)" % st)
    check(wait_for(lambda: "no X display configured" in sup.log(), 10),
          "the log says sessions without a VM refuse input")
    time.sleep(1.5)
    check(not [l for l in rec.lines if not l.startswith("READY")],
          "nothing reached $DISPLAY through the supervisor (%r)" % rec.lines[1:])
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")
    no_asan_reports(sup)


def case_vm_resize():
    """POST .../resize of a VM session (qemu backend, capture guest,
    host-native.txt): the session sends its vsocksrc's sender a RESIZE and
    answers 200 once the guest sends the new size (fake-qemu.py's guest
    applies it to its capsfilter, as Sway does in the desktop guest); a guest
    that does not offer RESIZE gets nothing and the API answers 409 with a
    sentence; the session goes on either way."""
    if ASAN:
        print("SKIP: the stand-in guest cannot load AddressSanitizer-built plugins")
        sys.exit(77)
    # the stand-in guest needs GStreamer's Python bindings (Debian's
    # python3-gi), which the interpreter running this test may lack
    gi_python = shutil.which("python3", path="/usr/bin") or sys.executable
    results = {}
    for resizable in (True, False):
        log = os.path.join(TMP, "qmp-%d.log" % resizable)
        open(log, "w").close()
        cmd = ("env -u LD_PRELOAD %s %s --qmp ${QMP_SOCKET} --log %s "
               "--guest-uri unix://${RUN_DIR}/stream.sock "
               "--guest-secret-file ${RUN_DIR}/link-secret%s"
               % (gi_python, FAKE_QEMU, log, " --guest-resize" if resizable else ""))
        sup = Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                         args=["--vm-backend", "qemu", "--qemu-command", cmd,
                               "--powerdown-timeout", "1"],
                         env={"HELIX_ENCODER": "x264", "HELIX_VM_DIR": os.path.join(SOURCE, "vm")})
        st, s = sup.http("POST", "/api/v1/sessions", {"width": 320, "height": 240, "fps": 15})
        check(st == 201 and s.get("qemu_pid"), "a VM session with the stand-in guest (%s %s)" % (st, s))
        shot = "/api/v1/sessions/%s/screenshot" % s["id"]
        size = wait_for(lambda: (lambda r: png_size(r[2]) if r[0] == 200 else None)(
            get_bytes(sup, shot)), 20, 0.1)
        check(size == (320, 240), "the guest streams 320x240 (%s)" % (size,))
        path = "/api/v1/sessions/%s/resize" % s["id"]
        st, e = sup.http("POST", path, {"width": 318, "height": 240})
        check(st == 400, "outside the limits: 400 before the guest (%s %s)" % (st, e))
        t0 = time.monotonic()
        st, r = sup.http("POST", path, {"width": 640, "height": 480})
        results[resizable] = (st, r, time.monotonic() - t0)
        if resizable:
            check(st == 200 and r == {"width": 640, "height": 480},
                  "resize of a guest that offers it: 200 (%s %s)" % (st, r))
            size = wait_for(lambda: (lambda r: png_size(r[2]) if r[0] == 200 and
                                     png_size(r[2]) == (640, 480) else None)(get_bytes(sup, shot)),
                            10, 0.1)
            check(size == (640, 480), "the encoder's input is 640x480 now (%s)" % (size,))
            st, g = sup.http("GET", "/api/v1/sessions/" + s["id"])
            check(g["width"] == 640 and g["height"] == 480 and g["pid"] == s["pid"],
                  "the session reports the new size, same process (%s)" % g)
            st, r = sup.http("POST", path, {"width": 640, "height": 480})
            check(st == 200, "to the size it has: 200 at once (%s %s)" % (st, r))
            # a player's own request (#fit=1) takes the same way to the guest,
            # and its open connection gets the new init
            rc, out = wsclient(viewer_stream(s), frames=45, timeout=30,
                               send=[{"type": "resize", "width": 800, "height": 600}])
            init = json.loads(out.get("init", "{}"))
            check(rc == 0 and (init.get("width"), init.get("height")) == (800, 600),
                  "a player's resize reaches the guest, the viewer gets an 800x600 init "
                  "on its connection (%s %s)" % (rc, out))
        else:
            check(st == 409 and "cannot change its size" in r.get("error", ""),
                  "a guest that does not offer RESIZE: 409 with a sentence (%s %s)" % (st, r))
            st, g = sup.http("GET", "/api/v1/sessions/" + s["id"])
            check(g["state"] == "running" and g["pid"] == s["pid"] and g["width"] == 320,
                  "the session goes on at its size (%s)" % g)
        rc = sup.stop()
        check(rc == 0, "supervisor exits 0")
    print("resize answered in %.2f s (guest offers it), %.2f s (it does not)"
          % (results[True][2], results[False][2]))


CASES = {"api": case_api, "auth": case_auth, "restart": case_restart,
         "shutdown": case_shutdown, "kill9": case_kill9, "e2e": case_e2e,
         "qemu": case_qemu, "qemu-tcg": case_qemu_tcg, "capture": case_capture,
         "qemu-restart": case_qemu_tcg, "browser": case_browser,
         "stdout-held": case_stdout_held, "xerror": case_xerror,
         "nodisplay": case_nodisplay, "csrf": case_csrf,
         "bodylimit": case_bodylimit, "frontdoor": case_frontdoor,
         "browser-frontdoor": case_browser_frontdoor, "ids": case_ids, "tokens": case_tokens,
         "screenshot": case_screenshot, "resize": case_resize,
         "browser-resize": case_browser_resize, "vm-resize": case_vm_resize}

def run_cases(cases):
    """Runs case CASE of @cases, cleans up, exits 0 or 1 (every script of
    this folder ends with it)."""
    try:
        cases[CASE]()
    except Exception as exc:  # a crash is a failure with its reason
        import traceback
        traceback.print_exc()
        failures.append(repr(exc))
    finally:
        if failures:
            for sup in supervisors:
                print("--- supervisor log (exit %s):\n%s" % (sup.p.poll(), sup.log()[-4000:]))
        for c in reversed(cleanups):
            try:
                c()
            except Exception:
                pass
        shutil.rmtree(TMP, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    run_cases(CASES)
