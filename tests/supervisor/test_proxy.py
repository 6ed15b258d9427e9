#!/usr/bin/env python3
"""vmstream-supervisor behind Debian's nginx (meson suite 'supervisor').

  test_proxy.py BUILD_ROOT SOURCE_ROOT CASE

CASE:
  tls    the supervisor's own HTTPS (HELIX_TLS_CERT/HELIX_TLS_KEY): Chromium,
         reaching it by a name that is not loopback (vmstream.test) and with
         the certificate accepted, opens https://vmstream.test:PORT/player/ID,
         decodes frames through the one port, and its click and key reach
         the session's X display; over plain http:// the same name is not a
         secure context and the page says so
  nginx  nginx terminates TLS with docs/examples/nginx-vmstream.conf (only
         its name, port, certificate paths and upstream port replaced) in
         front of a supervisor on loopback. Chromium reaches it by a name
         that is not loopback (vmstream.test mapped to 127.0.0.1), so only
         TLS makes the page a secure context; it decodes the session's
         stream through the proxy. Without the public name the supervisor
         refuses the proxied Host (421).

Uses the helpers of test_supervisor.py (same arguments)."""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor as ts  # noqa: E402  (reads sys.argv like we do)

check, TMP, SOURCE = ts.check, ts.TMP, ts.SOURCE
NAME = "vmstream.test"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_nginx(upstream_port):
    """nginx with the documented server block; returns (process, port, cert)."""
    d = os.path.join(TMP, "nginx")
    cert, key = make_cert(d)
    port = free_port()
    with open(os.path.join(SOURCE, "docs", "examples", "nginx-vmstream.conf")) as f:
        server = f.read()
    for old, new in (("listen 443 ssl;", "listen 127.0.0.1:%d ssl;" % port),
                     ("server_name vmstream.example.org;", "server_name %s;" % NAME),
                     ("/etc/ssl/vmstream/fullchain.pem", cert),
                     ("/etc/ssl/vmstream/privkey.pem", key),
                     ("http://127.0.0.1:8080", "http://127.0.0.1:%d" % upstream_port)):
        check(old in server, "the example configuration has %r" % old)
        server = server.replace(old, new)
    with open(os.path.join(d, "server.conf"), "w") as f:
        f.write(server)
    # the rest of what /etc/nginx/nginx.conf would give, in our folder
    temps = "".join("%s_temp_path %s;\n" % (t, os.path.join(d, t))
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write("daemon off;\nworker_processes 1;\npid %s;\nerror_log %s;\n"
                "events {}\nhttp {\naccess_log off;\n%sinclude %s;\n}\n"
                % (os.path.join(d, "nginx.pid"), os.path.join(d, "error.log"), temps,
                   os.path.join(d, "server.conf")))
    p = subprocess.Popen(["nginx", "-p", d, "-e", os.path.join(d, "error.log"),
                          "-c", os.path.join(d, "nginx.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ts.cleanups.append(lambda: p.poll() is None and (p.terminate(), p.wait()))

    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    ok = ts.wait_for(listening, 10)
    check(ok, "nginx listens (%s)" % (p.poll() is not None and p.stderr.read()[-300:]))
    return p, port, cert


def https_get(port, path, cert, token=None):
    """GET over TLS to @NAME:@port, checking the certificate and the name."""
    ctx = ssl.create_default_context(cafile=cert)
    conn = http.client.HTTPSConnection(NAME, port, context=ctx, timeout=10)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sock = ctx.wrap_socket(raw, server_hostname=NAME)
    headers = {"Authorization": "Bearer %s" % token} if token else {}
    conn.request("GET", path, headers=headers)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def case_nginx():
    ts.need_browser("nginx", "openssl")
    sup = ts.Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                        args=["--public-names", NAME],
                        env={"HELIX_ENCODER": "x264", "HELIX_TOKEN": "adm1n"})
    nginx, port, cert = start_nginx(sup.port)
    st, s = ts.demo_session(sup, width=320, height=240)
    check(st == 201, "a session runs (%s)" % st)

    st, body = https_get(port, "/api/v1/sessions", cert, token="adm1n")
    listed = json.loads(body) if st == 200 else {}
    listed = listed.get("sessions", listed) if isinstance(listed, dict) else listed
    check(st == 200 and [x.get("id") for x in listed] == [s["id"]],
          "the API answers through nginx over TLS, certificate and name checked (%s)" % st)

    # the viewer link, as a viewer on another machine opens it
    link = re.sub(r"^https?://[^/]+", "https://%s:%d" % (NAME, port), s["viewer_url"])
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    r = subprocess.run(["node", os.path.join(SOURCE, "tests", "supervisor", "player-decode.mjs"),
                        link, "--host-resolver-rules=MAP %s 127.0.0.1" % NAME,
                        "--ignore-certificate-errors"],
                       capture_output=True, text=True, env=env, timeout=90)
    out = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    state = out.get("state") or {}
    check(r.returncode == 0 and out.get("secure") is True and
          state.get("decodedWidth") == 320 and state.get("decodedHeight") == 240,
          "Chromium at %s (a secure context only by TLS) decodes the session's "
          "320x240 stream through nginx (%s %s %s)" % (link, state, r.stdout[-400:], r.stderr[-300:]))

    # the same request with a name the supervisor was not told about
    sup2 = ts.Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                         env={"HELIX_TOKEN": "adm1n"})
    nginx.terminate()
    nginx.wait()
    nginx, port, cert = start_nginx(sup2.port)
    st, _ = https_get(port, "/api/v1/sessions", cert, token="adm1n")
    check(st == 421, "without VMSTREAM_PUBLIC_NAMES the proxied Host is refused (%s)" % st)
    nginx.terminate()
    nginx.wait()
    for x in (sup, sup2):
        check(x.stop() == 0, "supervisor exits 0")


def make_cert(d):
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=" + NAME, "-addext", "subjectAltName=DNS:" + NAME,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def case_tls():
    ts.need_browser("openssl")
    cert, key = make_cert(os.path.join(TMP, "tls"))
    display = ts.start_xvfb()
    rec = ts.XRecorder(display)
    sup = ts.Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                        args=["--public-names", NAME],
                        env={"HELIX_DISPLAY": display, "HELIX_VAR_SOURCE": ts.XVFB_SOURCE,
                             "HELIX_ENCODER": "x264", "HELIX_TOKEN": "adm1n",
                             "HELIX_TLS_CERT": cert, "HELIX_TLS_KEY": key})
    st, s = ts.demo_session(sup, width=320, height=240)
    check(st == 201, "a session runs behind the supervisor's HTTPS (%s)" % st)
    check(s.get("viewer_url", "").startswith("https://"),
          "the viewer link is https:// (%s)" % s.get("viewer_url"))
    link = re.sub(r"^https?://[^/]+", "https://%s:%d" % (NAME, sup.port), s.get("viewer_url", ""))
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    node = subprocess.Popen(["node", os.path.join(SOURCE, "tests", "supervisor", "browser-input.js"),
                             link, "--host-resolver-rules=MAP %s 127.0.0.1" % NAME,
                             "--ignore-certificate-errors"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ts.cleanups.append(lambda: node.poll() is None and (node.kill(), node.wait()))
    line = node.stdout.readline()  # once the page decoded and sent its input
    out = json.loads(line) if line.startswith("{") else {}
    state = out.get("state") or {}
    check(out.get("secure") is True and state.get("decodedWidth") == 320,
          "Chromium at https://%s:PORT (a secure context by TLS alone) decodes the "
          "session through the one port (%s)" % (NAME, out or node.stderr.read()[-300:]))
    press = rec.read_until(lambda l: l.startswith("button-press 1 "), 10)
    check(press is not None, "its click reached the session's X display (%s)" % press)
    check(rec.read_until(lambda l: l == "key-press z", 10) is not None,
          "its key reached the session's X display")
    node.kill()
    node.wait()
    # the same name over plain HTTP: not a secure context, and the page says so
    plain = ts.Supervisor(templates=os.path.join(SOURCE, "pipelines"),
                          args=["--public-names", NAME],
                          env={"HELIX_ENCODER": "x264", "HELIX_TOKEN": "adm1n"})
    st, p = ts.demo_session(plain, width=320, height=240)
    link = re.sub(r"^https?://[^/]+", "http://%s:%d" % (NAME, plain.port), p.get("viewer_url", ""))
    r = subprocess.run(["node", os.path.join(SOURCE, "tests", "supervisor", "player-decode.mjs"),
                        link, "--host-resolver-rules=MAP %s 127.0.0.1" % NAME],
                       capture_output=True, text=True, env=env, timeout=90)
    o = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    check(r.returncode != 0 and o.get("secure") is False and "secure context" in o.get("text", ""),
          "over http:// the page is not a secure context and says so (%r)" % o.get("text"))
    for x in (sup, plain):
        check(x.stop() == 0, "supervisor exits 0")


CASES = {"nginx": case_nginx, "tls": case_tls}

if __name__ == "__main__":
    try:
        CASES[ts.CASE]()
    except Exception as exc:
        import traceback
        traceback.print_exc()
        ts.failures.append(repr(exc))
    finally:
        if ts.failures:
            for sup in ts.supervisors:
                print("--- supervisor log (exit %s):\n%s" % (sup.p.poll(), sup.log()[-4000:]))
            log = os.path.join(TMP, "nginx", "error.log")
            if os.path.exists(log):
                print("--- nginx error log:\n" + open(log).read()[-2000:])
        for c in reversed(ts.cleanups):
            try:
                c()
            except Exception:
                pass
        shutil.rmtree(TMP, ignore_errors=True)
    if ts.failures:
        print("%d check(s) failed" % len(ts.failures))
        sys.exit(1)
    sys.exit(0)
