#!/usr/bin/env python3
"""HTTPS on the supervisor's listen port (meson suite 'supervisor').

  test_tls.py BUILD_ROOT SOURCE_ROOT CASE

CASE:
  https         loopback without a certificate stays plain HTTP; with
                --tls-cert/--tls-key (or HELIX_TLS_CERT/HELIX_TLS_KEY) the
                port is HTTPS with that certificate (a client that trusts only
                it gets answers; one that does not is refused; plain HTTP gets
                none), GET /api/v1/info says so with the fingerprint openssl
                computes, and the URLs the API hands out are https; off
                loopback without a certificate a self-signed one is made
                (0600), its fingerprint logged and pinned by a client, and a
                second start reuses it
  https-refusals a certificate without its key, a key without certificate, an
                unreadable key, a file that holds no key and a key of another
                certificate: the supervisor does not start and says which file

Uses the helpers of test_supervisor.py (same arguments)."""
import hashlib
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_supervisor as ts  # noqa: E402  (reads sys.argv like we do)

check, TMP, SUP = ts.check, ts.TMP, ts.SUP


def make_pair(name, san="IP:127.0.0.1,DNS:localhost"):
    """An operator's certificate and key (openssl, EC P-256)."""
    crt, key = os.path.join(TMP, name + ".crt"), os.path.join(TMP, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return crt, key


def openssl_fingerprint(crt):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256",
                          "-in", crt], check=True, capture_output=True, text=True)
    return out.stdout.strip().split("=", 1)[1]


def colon_hex(der):
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def pinned_get(port, path, fingerprint, token):
    """GET over TLS accepting exactly the certificate with @fingerprint (no
    CA: the way a client pins a self-signed certificate)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as c:
            seen = colon_hex(c.getpeercert(binary_form=True))
            if seen != fingerprint:
                return seen, None
            c.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
                       % (path, port, token)).encode())
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            return seen, data.decode(errors="replace")


def tls_refused(port, ctx):
    """The error a TLS client gets, or None when the handshake succeeded."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                return None
    except (ssl.SSLError, OSError) as e:
        return e


def plain_http_answer(port):
    """The first bytes a plain HTTP request gets back (b'' when closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            return c.recv(4096)
        except OSError:
            return b""


def case_tls():
    tok = {"HELIX_TOKEN": "tok"}

    # loopback, no certificate: plain HTTP as before
    sup = ts.Supervisor(env=tok)
    st, info = sup.http("GET", "/api/v1/info")
    check(sup.scheme == "http" and st == 200 and info.get("tls") is False
          and info.get("fingerprint") is None and info.get("version"),
          "loopback without a certificate: plain HTTP, /api/v1/info says tls "
          "false (%s %s)" % (st, info))
    answer = plain_http_answer(sup.port)
    check(answer.startswith(b"HTTP/1.1 200"),
          "a plain HTTP request gets its answer (%r)" % answer[:20])
    check(sup.stop() == 0, "supervisor exits 0")

    # the operator's certificate, by option
    crt, key = make_pair("operator")
    want = openssl_fingerprint(crt)
    sup = ts.Supervisor(args=["--tls-cert", crt, "--tls-key", key], env=tok)
    st, info = sup.http("GET", "/api/v1/info")
    check(sup.scheme == "https" and st == 200 and info.get("tls") is True
          and info.get("self_signed") is False,
          "--tls-cert/--tls-key: HTTPS, verified against that certificate "
          "(%s %s)" % (st, info))
    check(info.get("fingerprint") == want,
          "/api/v1/info's fingerprint is openssl's (%s)" % want)
    check(want in sup.log(), "the log has the fingerprint")
    st, _ = sup.http("GET", "/api/v1/info", token="")
    check(st == 401, "/api/v1/info needs the administrator token (%s)" % st)
    err = tls_refused(sup.port, ssl.create_default_context())
    check(isinstance(err, ssl.SSLCertVerificationError),
          "a client that does not trust the certificate is refused (%r)" % err)
    answer = plain_http_answer(sup.port)
    check(not answer.startswith(b"HTTP/"),
          "plain HTTP gets no HTTP answer (%r)" % answer[:40])
    if shutil.which("curl"):
        r = subprocess.run(["curl", "-sS", "--cacert", crt, "-H",
                            "Authorization: Bearer tok",
                            "https://127.0.0.1:%d/api/v1/info" % sup.port],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0 and want in r.stdout,
              "curl --cacert gets /api/v1/info (%s)" % (r.stderr.strip() or "ok"))
    st, s = sup.http("POST", "/api/v1/sessions", {"template": "test"})
    check(st == 201 and s.get("player_url", "").startswith("https://127.0.0.1:%d/"
                                                           % sup.port)
          and s.get("viewer_url", "").startswith("https://")
          and s.get("stream_url", "").startswith("wss://127.0.0.1:%d/" % sup.port),
          "the API hands out https and wss URLs (%s %s %s)"
          % (st, s.get("player_url"), s.get("stream_url")))
    check(sup.stop() == 0, "supervisor exits 0")

    # the same by environment
    sup = ts.Supervisor(env=dict(tok, HELIX_TLS_CERT=crt, HELIX_TLS_KEY=key))
    st, info = sup.http("GET", "/api/v1/info")
    check(sup.scheme == "https" and info.get("fingerprint") == want,
          "HELIX_TLS_CERT/HELIX_TLS_KEY: the same (%s)" % st)
    check(sup.stop() == 0, "supervisor exits 0")

    # off loopback without a certificate: a self-signed one, made once
    shutil.rmtree(os.path.join(TMP, "run"), ignore_errors=True)
    sup = ts.Supervisor(args=["--listen", "0.0.0.0:0"], env=tok)
    crt_s = os.path.join(TMP, "run", "tls-cert.pem")
    key_s = os.path.join(TMP, "run", "tls-key.pem")
    made = os.path.exists(crt_s) and os.path.exists(key_s)
    check(made and stat.S_IMODE(os.stat(crt_s).st_mode) == 0o600
          and stat.S_IMODE(os.stat(key_s).st_mode) == 0o600,
          "0.0.0.0 without a certificate: a self-signed one in the runtime "
          "folder, both files 0600")
    fp = openssl_fingerprint(crt_s) if made else "?"
    check("a new self-signed certificate" in sup.log() and fp in sup.log(),
          "the log says it is new and gives its fingerprint")
    seen, answer = pinned_get(sup.port, "/api/v1/info", fp, "tok")
    check(seen == fp and answer and " 200 " in answer.split("\r\n")[0]
          and '"self_signed" : true' in answer and fp in answer,
          "a client pinning that fingerprint gets /api/v1/info with it")
    check(sup.stop() == 0, "supervisor exits 0")
    sup = ts.Supervisor(args=["--listen", "0.0.0.0:0"], env=tok)
    st, info = sup.http("GET", "/api/v1/info")
    check(info.get("fingerprint") == fp and "the self-signed certificate" in sup.log(),
          "a second start reuses it (same fingerprint)")
    check(sup.stop() == 0, "supervisor exits 0")


def run_refused(args, needle, what):
    env = dict(os.environ, HELIX_RUNTIME_DIR=os.path.join(TMP, "run"),
               HELIX_TEMPLATES_DIR=ts.make_templates(), HELIX_TOKEN="tok")
    if ts.ASAN:
        env["LD_PRELOAD"] = ts.ASAN
    p = subprocess.run([SUP, "--listen", "127.0.0.1:0"] + args, env=env,
                       capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and needle in p.stderr and "READY" not in p.stdout,
          "%s: refused (exit %s): %s" % (what, p.returncode,
                                         p.stderr.strip().splitlines()[-1:]))


def case_tls_refusals():
    crt, key = make_pair("one")
    crt2, key2 = make_pair("two")
    garbage = os.path.join(TMP, "garbage.key")
    with open(garbage, "w") as f:
        f.write("not a key\n")
    run_refused(["--tls-cert", crt], crt, "a certificate without its key")
    run_refused(["--tls-key", key], key, "a key without its certificate")
    run_refused(["--tls-cert", crt, "--tls-key", TMP], TMP, "an unreadable key")
    run_refused(["--tls-cert", crt, "--tls-key", os.path.join(TMP, "none.key")],
                "none.key", "a missing key")
    run_refused(["--tls-cert", crt, "--tls-key", garbage], garbage,
                "a file that holds no key")
    # GLib loads this pair without a word: every handshake would fail later
    run_refused(["--tls-cert", crt, "--tls-key", key2],
                "%s does not belong to the certificate %s" % (key2, crt),
                "the key of another certificate")
    ok = subprocess.run([SUP, "--tls-cert", crt2, "--tls-key", key2,
                         "--print-config"], capture_output=True, text=True)
    check("tls-cert=%s\n" % crt2 in ok.stdout, "--print-config shows the certificate")


CASES = {"https": case_tls, "https-refusals": case_tls_refusals}

if __name__ == "__main__":
    ts.run_cases(CASES)
