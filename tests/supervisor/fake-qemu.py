#!/usr/bin/env python3
"""Stand-in for QEMU in one supervisor test, a guest that obeys the power
button (the other QEMU tests run the real qemu-system-x86_64): serves QMP on
a Unix socket.

  fake-qemu.py --qmp PATH --log FILE [--ignore-powerdown]
               [--guest-uri URI --guest-secret-file F [--guest-resize]]

Speaks enough QMP (greeting, qmp_capabilities, input-send-event,
system_powerdown, quit) for vmstream-supervisor and vmstream-session and
appends every command it receives to FILE as one JSON line. Like QEMU, it
serves one QMP client at a time. system_powerdown makes it exit (a guest that
powers off) unless --ignore-powerdown; quit always does.

With --guest-uri it is also the guest's sender: videotestsrc ! capsfilter !
vsocksink to URI (the session's vsocksrc), 320x240 NV12 at 15 frames/s. With
--guest-resize that vsocksink offers RESIZE (resize-program=/bin/true) and
this guest applies each vmstream-resize request itself, to its capsfilter,
as the desktop guest's Sway would; without it, it offers none (an older
guest)."""
import argparse
import json
import os
import signal
import socket
import sys
import threading


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


def start_guest(args):
    """The guest's sender, on a GLib main loop in a thread of its own."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
    Gst.init(None)
    prog = "/bin/true" if args.guest_resize else ""
    p = Gst.parse_launch(
        "videotestsrc is-live=true pattern=ball ! capsfilter name=cf "
        "caps=video/x-raw,format=NV12,width=320,height=240,framerate=15/1 ! "
        "vsocksink uri=%s secret-file=%s reconnect-interval=50 resize-program=\"%s\""
        % (args.guest_uri, args.guest_secret_file, prog))
    cf = p.get_by_name("cf")

    def on_message(bus, msg):
        st = msg.get_structure()
        if msg.type == Gst.MessageType.ELEMENT and st.get_name() == "vmstream-resize":
            w, h = st.get_value("width"), st.get_value("height")
            cf.set_property("caps", Gst.Caps.from_string(
                "video/x-raw,format=NV12,width=%d,height=%d,framerate=15/1" % (w, h)))
        return True

    bus = p.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    p.set_state(Gst.State.PLAYING)
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qmp", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ignore-powerdown", action="store_true")
    ap.add_argument("--token")  # ignored: lets a test see what ${TOKEN} is
    ap.add_argument("--guest-uri")
    ap.add_argument("--guest-secret-file")
    ap.add_argument("--guest-resize", action="store_true")
    args, _ = ap.parse_known_args()
    guest = start_guest(args) if args.guest_uri else None  # noqa: F841
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
