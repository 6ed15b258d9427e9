#!/usr/bin/env python3
"""Stand-in for QEMU in one supervisor test, a guest that obeys the power
button (the other QEMU tests run the real qemu-system-x86_64): serves QMP on
a Unix socket.

  fake-qemu.py --qmp PATH --log FILE [--ignore-powerdown]

Speaks enough QMP (greeting, qmp_capabilities, input-send-event,
system_powerdown, quit) for vmstream-supervisor and vmstream-session and
appends every command it receives to FILE as one JSON line. Like QEMU, it
serves one QMP client at a time. system_powerdown makes it exit (a guest that
powers off) unless --ignore-powerdown; quit always does."""
import argparse
import json
import os
import signal
import socket
import sys


def serve_client(conn, log, args):
    """Returns True when QEMU should exit."""
    f = conn.makefile("rwb", buffering=0)
    f.write(b'{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, '
            b'"micro": 0}}, "capabilities": []}}\r\n')
    for line in f:
        try:
            cmd = json.loads(line)
        except ValueError:
            f.write(b'{"error": {"class": "GenericError", '
                    b'"desc": "bad JSON"}}\r\n')
            continue
        log.write(json.dumps(cmd) + "\n")
        log.flush()
        f.write(b'{"return": {}}\r\n')
        name = cmd.get("execute")
        if name == "quit" or (name == "system_powerdown"
                              and not args.ignore_powerdown):
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qmp", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ignore-powerdown", action="store_true")
    ap.add_argument("--token")  # ignored: lets a test see what ${TOKEN} is
    args, _ = ap.parse_known_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        os.unlink(args.qmp)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.qmp)
    srv.listen(4)
    with open(args.log, "a") as log:
        log.write(json.dumps({"started": os.getpid()}) + "\n")
        log.flush()
        while True:
            conn, _ = srv.accept()
            try:
                done = serve_client(conn, log, args)
            except (BrokenPipeError, ConnectionResetError):
                done = False  # the client left without reading the reply
            conn.close()
            if done:
                os.unlink(args.qmp)
                return 0


if __name__ == "__main__":
    sys.exit(main())
