#!/usr/bin/env python3
"""Local hardening of vmstream-supervisor (meson suite 'supervisor').

  test_runtime.py BUILD_ROOT SOURCE_ROOT CASE

CASE:
  runtime-dir  the runtime folder: another user's, a symbolic link or a
               group/world-writable folder is refused with a sentence; a
               0755 folder of ours is made 0700; session folders are 0700 and
               the QMP socket (made by QEMU, our child) is 0600
  rtsp-auth    listening off loopback without RTSP credentials: a password
               is generated into a 0600 file, the log says where, RTSP
               answers 401 without it and 200 with it; configured
               credentials (VMSTREAM_RTSP_*, HELIX_RTSP_*) are used instead
  public-names the supervisor's public names reach the sessions' wsh264sink
               (Host allow-list): a listed name is served, another one 421
  systemd      the unit runs as a dedicated user with the sandboxing options
               and passes `systemd-analyze verify` (77 without systemd-analyze)

Uses the helpers of test_supervisor.py (same arguments)."""
import base64
import os
import shutil
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor as ts  # noqa: E402  (reads sys.argv like we do)

check, TMP, SUP = ts.check, ts.TMP, ts.SUP


def run_refused(runtime_dir, needle, what):
    """Starts the supervisor on @runtime_dir; it must exit 1 with @needle."""
    env = dict(os.environ, HELIX_RUNTIME_DIR=runtime_dir,
               HELIX_TEMPLATES_DIR=ts.make_templates())
    if ts.ASAN:
        env["LD_PRELOAD"] = ts.ASAN
    p = subprocess.Popen([SUP, "--listen", "127.0.0.1:0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    ok = p.returncode == 1 and needle in err and "READY" not in out
    check(ok, "%s: refused (exit %s): %s" % (what, p.returncode, err.strip()[-300:]))


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def case_runtime_dir():
    theirs = os.path.join(TMP, "theirs")
    os.mkdir(theirs, 0o700)
    if os.geteuid() == 0:
        os.chown(theirs, 65534, 65534)
        run_refused(theirs, "owned by uid 65534", "a runtime folder of another user")
    else:
        print("skip another user's folder: needs root")
    target = os.path.join(TMP, "target")
    os.mkdir(target, 0o700)
    link = os.path.join(TMP, "link")
    os.symlink(target, link)
    run_refused(link, "symbolic link", "a runtime folder that is a symbolic link")
    world = os.path.join(TMP, "world")
    os.mkdir(world)
    os.chmod(world, 0o777)
    run_refused(world, "written by group or others", "a world-writable runtime folder")
    check(mode(world) == 0o777, "the refused folder is left as it was")

    # a folder of ours that others may read: tightened, then used
    run = os.path.join(TMP, "run")
    os.mkdir(run)
    os.chmod(run, 0o755)
    cmd = ts.real_qemu(os.path.join(TMP, "qemu-trace.log"))
    sup = ts.Supervisor(args=["--vm-backend", "qemu", "--qemu-command", cmd,
                              "--powerdown-timeout", "1",
                              "--default-template", "test"])
    check(mode(run) == 0o700, "a 0755 runtime folder of ours is made 0700 (%o)" % mode(run))
    check("made it mode 0700" in sup.log(), "and the log says so")
    st, s = sup.http("POST", "/api/v1/sessions", {"width": 320, "height": 240})
    check(st == 201, "a session with QEMU starts (%s)" % st)
    sdir = os.path.join(run, s.get("id", "?"))
    qmp = os.path.join(sdir, "qmp.sock")
    ts.wait_for(lambda: os.path.exists(qmp), 10)
    check(os.path.isdir(sdir) and mode(sdir) == 0o700, "the session folder is 0700")
    check(os.path.exists(qmp) and stat.S_ISSOCK(os.lstat(qmp).st_mode)
          and mode(qmp) & 0o077 == 0,
          "the QMP socket QEMU creates is owner-only (%o)" %
          (mode(qmp) if os.path.exists(qmp) else -1))
    rc = sup.stop()
    check(rc == 0, "supervisor exits 0")

    # systemd's RuntimeDirectory= is used when HELIX_RUNTIME_DIR is not set
    env = {k: v for k, v in os.environ.items() if k != "HELIX_RUNTIME_DIR"}
    env["RUNTIME_DIRECTORY"] = "/run/vmstream-test-x"
    r = subprocess.run([SUP, "--print-config"], env=env, capture_output=True,
                       text=True, timeout=20)
    check("runtime-dir=/run/vmstream-test-x\n" in r.stdout,
          "$RUNTIME_DIRECTORY is the default runtime folder")


def describe(port, url, user_pass=None):
    """Status line of one RTSP DESCRIBE over 127.0.0.1."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        auth = ""
        if user_pass:
            auth = "Authorization: Basic %s\r\n" % base64.b64encode(user_pass.encode()).decode()
        c.sendall(("DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n%s\r\n"
                   % (url, auth)).encode())
        data = b""
        while b"\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0].decode()


RTSP_TEMPLATE = (
    "videotestsrc is-live=true ! video/x-raw,width=${WIDTH},height=${HEIGHT},"
    "framerate=${FPS}/1 ! vmstreamenc ! rtsph264sink address=${RTSP_ADDRESS} "
    "port=${RTSP_PORT} mount=/${SESSION_ID} handoff-socket=\"${RTSP_HANDOFF_SOCKET}\" "
    "user=\"${RTSP_USER}\" "
    "password-file=\"${RTSP_PASSWORD_FILE}\"\n")


def rtsp_session(env):
    templates = ts.make_templates()
    with open(os.path.join(templates, "rtsp.txt"), "w") as f:
        f.write(RTSP_TEMPLATE)
    env = dict(env, HELIX_TOKEN="tok")
    sup = ts.Supervisor(args=["--listen", "0.0.0.0:0"],
                        env=env, templates=templates)
    st, s = sup.http("POST", "/api/v1/sessions",
                     {"template": "rtsp", "width": 320, "height": 240, "fps": 30})
    check(st == 201 and s.get("state") == "running",
          "an RTSP session starts off loopback (%s %s)" % (st, s))
    return sup, s


def wait_rtsp(port, url, user_pass):
    return ts.wait_for(lambda: describe(port, url, user_pass).startswith("RTSP/1.0 200")
                       and "RTSP/1.0 200", 10, 0.2)


def case_rtsp_auth():
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("VMSTREAM_RTSP_", "HELIX_RTSP_"))}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean)
    try:
        sup, s = rtsp_session({})
        port, sid = s.get("rtsp_port", 0), s.get("id", "?")
        url = "rtsp://127.0.0.1:%d/%s" % (port, sid)
        pwfile = os.path.join(TMP, "run", "rtsp-password")
        check(os.path.exists(pwfile) and mode(pwfile) == 0o600,
              "a generated RTSP password is stored 0600 in the runtime folder")
        check(pwfile in sup.log() and 'user "vmstream"' in sup.log(),
              "the log says where the password is")
        password = open(pwfile).read().strip() if os.path.exists(pwfile) else ""
        check(len(password) >= 32, "the password is 128 random bits")
        check(wait_rtsp(port, url, "vmstream:" + password) == "RTSP/1.0 200",
              "RTSP with the generated password: 200")
        check(describe(port, url) == "RTSP/1.0 401 Unauthorized", "RTSP without a login: 401")
        check(describe(port, url, "vmstream:wrong") == "RTSP/1.0 401 Unauthorized",
              "RTSP with a wrong password: 401")
        check(sup.stop() == 0, "supervisor exits 0")
        shutil.rmtree(os.path.join(TMP, "run"), ignore_errors=True)

        for prefix in ("VMSTREAM", "HELIX"):
            sup, s = rtsp_session({prefix + "_RTSP_USER": "alice",
                                   prefix + "_RTSP_PASSWORD": "pa55-" + prefix})
            port, sid = s.get("rtsp_port", 0), s.get("id", "?")
            url = "rtsp://127.0.0.1:%d/%s" % (port, sid)
            check(wait_rtsp(port, url, "alice:pa55-" + prefix) == "RTSP/1.0 200",
                  "%s_RTSP_USER/PASSWORD are the login" % prefix)
            check(describe(port, url, "vmstream:" + password) == "RTSP/1.0 401 Unauthorized",
                  "and nothing else is")
            check(s.get("pid") and b"pa55" not in open("/proc/%d/cmdline" % s["pid"], "rb").read(),
                  "the password is not on a command line")
            check(sup.stop() == 0, "supervisor exits 0")
            shutil.rmtree(os.path.join(TMP, "run"), ignore_errors=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)


WS_TEMPLATE = (
    "videotestsrc is-live=true ! video/x-raw,width=${WIDTH},height=${HEIGHT},"
    "framerate=${FPS}/1 ! vmstreamenc ! wsh264sink socket-path=\"${WS_SOCKET}\" "
    "path=/stream/ session-id=${SESSION_ID} token=\"${WS_TOKEN}\"\n")


def http_status(port, host, path="/"):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                   % (path, host)).encode())
        data = b""
        while b"\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0].decode()


def case_public_names():
    templates = ts.make_templates()
    with open(os.path.join(templates, "ws.txt"), "w") as f:
        f.write(WS_TEMPLATE)
    sup = ts.Supervisor(args=["--public-names", "vm.example.org"], templates=templates)
    st, s = sup.http("POST", "/api/v1/sessions",
                     {"template": "ws", "width": 320, "height": 240, "fps": 30})
    check(st == 201, "a WebSocket session starts (%s %s)" % (st, s))
    # the player is on the supervisor's port: its gate applies the names
    port, page = sup.port, "/player/%s/" % s.get("id")
    r = http_status(port, "vm.example.org:%d" % port, page)
    check(r.startswith("HTTP/1.1 200"), "the player under a public name: %s" % r)
    r = http_status(port, "rebind.example:%d" % port, page)
    check(r.startswith("HTTP/1.1 421"), "the player under another name: %s" % r)
    check(sup.stop() == 0, "supervisor exits 0")


UNIT_MUST = ["User=vmstream", "Group=vmstream", "SupplementaryGroups=kvm",
             "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
             "PrivateTmp=yes", "CapabilityBoundingSet=", "AmbientCapabilities=",
             "ReadWritePaths=/var/lib/vmstream", "RuntimeDirectory=vmstream",
             "RuntimeDirectoryMode=0700", "StateDirectory=vmstream",
             "StateDirectoryMode=0700"]


def case_systemd():
    unit = os.path.join(ts.SOURCE, "supervisor", "vmstream-supervisor.service")
    lines = [l.strip() for l in open(unit)]
    for want in UNIT_MUST:
        check(want in lines, "the unit has %s" % want)
    check(not any(l.startswith("User=root") for l in lines) and
          not any(l.startswith("Environment=HELIX_RUNTIME_DIR") for l in lines),
          "not root; the runtime folder is systemd's RuntimeDirectory")
    tool = shutil.which("systemd-analyze")
    if tool is None:
        print("SKIP systemd-analyze verify: systemd-analyze is not installed")
        sys.exit(77 if not ts.failures else 1)
    # verify wants ExecStart to exist: point it at the build's binary
    d = os.path.join(TMP, "unit")
    os.makedirs(d)
    text = open(unit).read().replace("/usr/local/bin/vmstream-supervisor", SUP)
    copy = os.path.join(d, "vmstream-supervisor.service")
    with open(copy, "w") as f:
        f.write(text)
    r = subprocess.run([tool, "verify", "--man=no", copy], capture_output=True,
                       text=True, timeout=60)
    msgs = [l for l in (r.stdout + r.stderr).splitlines()
            if "vmstream-supervisor.service" in l]
    check(r.returncode == 0 and not msgs,
          "systemd-analyze verify accepts the unit (%d): %s" % (r.returncode, msgs))


CASES = {"runtime-dir": case_runtime_dir, "rtsp-auth": case_rtsp_auth,
         "public-names": case_public_names, "systemd": case_systemd}

if __name__ == "__main__":
    ts.run_cases(CASES)
