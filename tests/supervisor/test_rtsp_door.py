#!/usr/bin/env python3
"""The supervisor's one RTSP port for every session (meson suite 'supervisor').

  test_rtsp_door.py BUILD_ROOT SOURCE_ROOT CASE

CASE:
  rtsp-door    two sessions (320x240, 640x360) behind one free RTSP port,
               each handed to its own session process. With a client that
               sent nothing and one that sent half a request line
               connected, another is answered at once; ffmpeg decodes
               frames over UDP (one session) and TCP-interleaved (the
               other); ffprobe on both at once reports each its own size;
               no or wrong credentials: 401, right ones: 200; unknown
               session: 404 with the client's CSeq; junk, a NUL byte and a
               head over 4 KiB: 400; past 256 clients that have not sent a
               whole request, a new one is closed at once; the handoff
               socket is 0600; a deleted session's mount is gone (404) and
               its player disconnected, the other one keeps decoding.

Uses the helpers of test_supervisor.py (same arguments)."""
import base64
import os
import socket
import stat
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor as ts  # noqa: E402  (reads sys.argv like we do)

check, TMP = ts.check, ts.TMP

TEMPLATE = (
    "videotestsrc is-live=true ! video/x-raw,width=${WIDTH},height=${HEIGHT},"
    "framerate=${FPS}/1 ! vmstreamenc ! rtsph264sink address=${RTSP_ADDRESS} "
    "port=${RTSP_PORT} mount=/${SESSION_ID} handoff-socket=\"${RTSP_HANDOFF_SOCKET}\" "
    "user=\"${RTSP_USER}\" password-file=\"${RTSP_PASSWORD_FILE}\"\n")
USER, PASSWORD = "alice", "door-pa55"


def answer(port, data, timeout=10):
    """Sends @data as it is; returns what the server sent (until it closed,
    a whole answer or @timeout)."""
    return ts.read_answer(ts.raw_request(port, data), timeout)[1]


def describe(port, url, user_pass=None, cseq=7):
    """The whole answer to one DESCRIBE of @url."""
    auth = ""
    if user_pass:
        auth = "Authorization: Basic %s\r\n" % base64.b64encode(user_pass.encode()).decode()
    req = "DESCRIBE %s RTSP/1.0\r\nCSeq: %d\r\nAccept: application/sdp\r\n%s\r\n" % (url, cseq, auth)
    return answer(port, req.encode())


def status(text):
    return text.split("\r\n", 1)[0]


def ffprobe(url):
    return subprocess.Popen(["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                             "-show_entries", "stream=width,height", "-of", "csv=p=0", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Player:
    """ffmpeg decoding @url over @transport until stopped; frames() is the
    count its -stats output shows."""

    def __init__(self, url, transport):
        self.p = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-stats",
                                   "-rtsp_transport", transport, "-i", url, "-f", "null", "-"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.out = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        ts.cleanups.append(self.stop)

    def _read(self):
        for chunk in iter(lambda: self.p.stderr.read1(4096), b""):
            self.out.append(chunk.decode(errors="replace"))

    def text(self):
        return "".join(self.out)

    def frames(self):
        n = 0
        for part in self.text().replace("\r", "\n").split("frame=")[1:]:
            try:
                n = int(part.split()[0])
            except (ValueError, IndexError):
                pass
        return n

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def case_rtsp_door():
    templates = ts.make_templates()
    with open(os.path.join(templates, "rtsp.txt"), "w") as f:
        f.write(TEMPLATE)
    sup = ts.Supervisor(env={"HELIX_TOKEN": "tok", "VMSTREAM_RTSP_USER": USER,
                             "VMSTREAM_RTSP_PASSWORD": PASSWORD}, templates=templates)
    sessions = {}
    for sid, w, h in (("small", 320, 240), ("big", 640, 360)):
        st, s = sup.http("POST", "/api/v1/sessions",
                         {"template": "rtsp", "id": sid, "width": w, "height": h, "fps": 30})
        check(st == 201 and s.get("state") == "running", "session %s runs (%s %s)" % (sid, st, s))
        sessions[sid] = s
    port = sessions["small"].get("rtsp_port", 0)
    check(port not in (0, 8554) and sessions["big"].get("rtsp_port") == port,
          "both sessions are on the supervisor's one RTSP port (%d)" % port)
    check(sessions["small"].get("rtsp_url") == "rtsp://127.0.0.1:%d/small" % port,
          "rtsp_url is rtsp://host:port/{id}: %s" % sessions["small"].get("rtsp_url"))
    sock = os.path.join(TMP, "run", "small", "rtsp.sock")
    check(os.path.exists(sock) and stat.S_ISSOCK(os.lstat(sock).st_mode)
          and stat.S_IMODE(os.lstat(sock).st_mode) == 0o600,
          "the session's handoff socket is there, mode 0600")

    def url(sid, login=True):
        cred = "%s:%s@" % (USER, PASSWORD) if login else ""
        return "rtsp://%s127.0.0.1:%d/%s" % (cred, port, sid)

    # clients that say nothing, or half a request line, held open while the
    # others are served
    silent = socket.create_connection(("127.0.0.1", port))
    partial = socket.create_connection(("127.0.0.1", port))
    partial.sendall(b"DESCRIBE rtsp://127.0.0.1/sma")
    silent_since = time.monotonic()
    check(status(describe(port, url("small", False), USER + ":" + PASSWORD)) == "RTSP/1.0 200 OK",
          "with them connected, another client is answered at once")

    probes = {sid: ffprobe(url(sid)) for sid in sessions}
    for sid, want in (("small", "320,240"), ("big", "640,360")):
        try:
            out, err = probes[sid].communicate(timeout=60)
        except subprocess.TimeoutExpired:
            probes[sid].kill()
            out, err = probes[sid].communicate()
        check(probes[sid].returncode == 0 and out.strip() == want,
              "ffprobe on /%s (both at once) sees its own %s: %r %s"
              % (sid, want, out.strip(), err.strip()[-200:]))

    # players that stay: ffmpeg over UDP on one session, over TCP on the other
    watchers = {"small": Player(url("small"), "udp"), "big": Player(url("big"), "tcp")}
    for sid, transport in (("small", "udp"), ("big", "tcp")):
        w = watchers[sid]
        n = ts.wait_for(lambda: w.frames() >= 15 or w.p.poll() is not None, 60, 0.1) and w.frames()
        check(n >= 15, "ffmpeg decodes frames of /%s over %s through the handed-over "
              "connection (%d)%s" % (sid, transport, n, "" if n >= 15 else ": " + w.text()[-300:]))

    # authentication stays the session's: exactly 401 without or with a wrong login
    u = "rtsp://127.0.0.1:%d/small" % port
    check(status(describe(port, u)) == "RTSP/1.0 401 Unauthorized", "no login: 401")
    check(status(describe(port, u, USER + ":wrong")) == "RTSP/1.0 401 Unauthorized",
          "a wrong password: 401")
    check(status(describe(port, u, USER + ":" + PASSWORD)) == "RTSP/1.0 200 OK",
          "the right login: 200")

    # the door's own answers
    a = describe(port, "rtsp://127.0.0.1:%d/nosuch" % port, cseq=42)
    check(status(a) == "RTSP/1.0 404 Not Found" and "CSeq: 42\r\n" in a,
          "an unknown session: 404 with the request's CSeq: %r" % a)
    a = describe(port, "rtsp://127.0.0.1:%d/odd\x1b[2Jid" % port)
    check(status(a) == "RTSP/1.0 404 Not Found" and "session odd?[2Jid: no such" in sup.log()
          and "session odd\x1b" not in sup.log(), "a client's id is logged as printable text only")
    a = describe(port, "rtsp://127.0.0.1:%d/" % port)
    check(status(a) == "RTSP/1.0 404 Not Found", "no session in the URL: 404")
    check(status(answer(port, b"hello there\r\n\r\n")) == "RTSP/1.0 400 Bad Request",
          "junk: 400")
    check(status(answer(port, b"OPTIONS rtsp://x/small RTSP/1.0\r\nCSeq: 1\r\nX: \0\r\n\r\n"))
          == "RTSP/1.0 400 Bad Request", "a NUL byte in the head: 400")
    big = b"OPTIONS rtsp://x/small RTSP/1.0\r\nX: " + b"a" * 5000
    check(status(answer(port, big)) == "RTSP/1.0 400 Bad Request", "a head over 4 KiB: 400")

    # the silent clients held nothing up: they are still waiting (unless all
    # this took the door's 10 s), and get exactly 408 at 10 s
    waited = time.monotonic() - silent_since
    for c, what in ((silent, "nothing"), (partial, "half a request line")):
        c.setblocking(False)
        try:
            early = c.recv(4096).decode(errors="replace")
        except BlockingIOError:
            early = None
        check(early is None or waited >= 9,
              "a client that sent %s is still waiting after %.0f s: %r" % (what, waited, early))
        c.settimeout(max(1.0, 15 - (time.monotonic() - silent_since)))
        try:
            got = early or c.recv(4096).decode(errors="replace")
        except socket.timeout:
            got = "(nothing after %.0f s)" % (time.monotonic() - silent_since)
        check(status(got) == "RTSP/1.0 408 Request Timeout",
              "and is then answered 408 and closed: %r" % got[:40])
        c.close()

    # a bounded number of clients may be half-way through their request
    # (in batches the listen backlog holds, each accepted before the next)
    # counted once the supervisor's sockets from the steps before have
    # closed (a late close made every batch below one short under load)
    before, held = settled_fd_count(sup.p.pid), []
    slow = []
    for _ in range(16):
        held += [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        t0 = time.monotonic()
        ts.wait_for(lambda: fd_count(sup.p.pid) >= before + len(held), 5, 0.02)
        if time.monotonic() - t0 > 1:
            slow.append("%d after %.1f s" % (fd_count(sup.p.pid) - before, time.monotonic() - t0))
    if slow:
        print("slow batches: " + ", ".join(slow))
    if not check(fd_count(sup.p.pid) >= before + 256,
                 "the supervisor took 256 silent clients (%d sockets, %d before)"
                 % (fd_count(sup.p.pid), before)):
        closed = 0
        for c in held:
            c.setblocking(False)
            try:
                closed += c.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            c.setblocking(True)
        print("held connections closed by the server: %d of %d" % (closed, len(held)))
    extra = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        closed = extra.recv(1) == b""
    except (socket.timeout, ConnectionResetError):
        closed = False
    extra.close()
    check(closed, "past 256 clients without a whole request, the next one is closed")
    for c in held:
        c.close()
    check(ts.wait_for(lambda: status(describe(port, u, USER + ":" + PASSWORD))
                      == "RTSP/1.0 200 OK", 10, 0.1),
          "once they are gone a client is served again")

    # the session's handoff socket itself: a client handed over there is
    # served; more than 4 KiB, or no socket, is dropped and the session lives
    def handed(head, fds=1):
        with socket.socket() as lst:
            lst.bind(("127.0.0.1", 0))
            lst.listen(1)
            client = socket.create_connection(lst.getsockname())
            server, _ = lst.accept()
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(sock)
            socket.send_fds(raw, [head], [server.fileno()] * fds)
        server.close()
        client.settimeout(10)
        try:
            got = client.recv(4096).decode(errors="replace")
        except socket.timeout:
            got = "(nothing in 10 s)"
        client.close()
        return got

    opt = b"OPTIONS rtsp://127.0.0.1/small RTSP/1.0\r\nCSeq: 5\r\n\r\n"
    got = handed(opt)
    check(got.startswith("RTSP/1.0 ") and "CSeq: 5" in got,
          "a client handed to the session's socket directly is answered: %r" % got[:40])
    got = handed(opt, fds=2)
    check(got.startswith("RTSP/1.0 ") and "CSeq: 5" in got,
          "with two descriptors the first is served (the other closed): %r" % got[:40])
    check(handed(b"OPTIONS rtsp://127.0.0.1/small RTSP/1.0\r\nX: " + b"a" * 5000) == "",
          "a handoff over 4 KiB is dropped: the client is closed")
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(sock)
        raw.sendall(opt)
    check(status(describe(port, u, USER + ":" + PASSWORD)) == "RTSP/1.0 200 OK",
          "a handoff without a socket is ignored and the session still serves")

    # deleting a session: its client is disconnected, its mount is gone
    st, _ = sup.http("DELETE", "/api/v1/sessions/big")
    check(st == 200, "DELETE the session (%s)" % st)
    check(ts.wait_for(lambda: watchers["big"].p.poll() is not None, 20, 0.1),
          "the deleted session's RTSP client was disconnected")
    check(ts.wait_for(lambda: status(describe(port, "rtsp://127.0.0.1:%d/big" % port))
                      == "RTSP/1.0 404 Not Found", 10, 0.1),
          "the deleted session's mount is gone: 404")
    before = watchers["small"].frames()
    small = watchers["small"]
    check(ts.wait_for(lambda: small.frames() > before + 5, 20, 0.1) and small.p.poll() is None,
          "the other session's player still decodes (%d frames, then %d; exit %s): %s %s"
          % (before, small.frames(), small.p.poll(), small.text()[-300:],
             sup.http("GET", "/api/v1/sessions/small")[1].get("stats")))
    for w in watchers.values():
        w.stop()
    ts.no_asan_reports(sup)
    check(sup.stop() == 0, "supervisor exits 0")


def settled_fd_count(pid, quiet=1.0, limit=15.0):
    """fd_count(@pid) once it has not changed for @quiet seconds (at most
    @limit seconds of waiting)."""
    end = time.monotonic() + limit
    last, since = fd_count(pid), time.monotonic()
    while time.monotonic() < end and time.monotonic() - since < quiet:
        time.sleep(0.05)
        n = fd_count(pid)
        if n != last:
            last, since = n, time.monotonic()
    return last


def fd_count(pid):
    """The sockets @pid holds open."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except OSError:
            pass
    return n


CASES = {"rtsp-door": case_rtsp_door}

if __name__ == "__main__":
    ts.run_cases(CASES)
