"""The one WebSocket client of the Python tests (RFC 6455 over a plain
socket, standard library only).

- head(): a handshake with exactly the Host, Origin and token a test wants
  to try (the refusal cases need headers a library would not send);
- raw_request(): sends a head, reads the answer's head byte by byte (the
  frames after it stay unread, e.g. for a stalled viewer) and returns
  (socket, status line);
- read_frames(): the sequence numbers of the next n binary messages;
- Watch: the same socket read from a GLib main loop (the vm tests run it
  beside their GStreamer pipeline), with on_text/on_binary/on_closed.

Server frames are not masked; what this client sends (pong, close) is, as
RFC 6455 requires."""
import os
import socket
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def head(path, host, origin=None, token=None):
    """A WebSocket upgrade request for the vmstream subprotocol, with a
    viewer token as the browser sends it (a 'token.' subprotocol)."""
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Protocol: vmstream%s\r\n%s\r\n"
            % (path, host, (", token." + token) if token else "",
               ("Origin: %s\r\n" % origin) if origin else ""))


def raw_request(port, request, rcvbuf=None, timeout=10):
    """Opens a connection to 127.0.0.1:@port, sends @request, returns
    (socket, status line)."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    c.settimeout(timeout)
    c.connect(("127.0.0.1", port))
    c.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(1)  # byte by byte: leave the frames after the head unread
        if not chunk:
            break
        data += chunk
    return c, data.split(b"\r\n", 1)[0].decode()


def masked(opcode, payload=b""):
    """One client frame (FIN set, masked)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse(buf):
    """(fin, opcode, payload, bytes used) of the first whole frame in @buf,
    or None when it is not all there yet."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n, at = b1 & 0x7f, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < at + n:
        return None
    return bool(b0 & 0x80), b0 & 0x0f, bytes(buf[at:at + n]), at + n


def seq_of(payload):
    """The frame header's sequence number (bytes 4..7, little endian)."""
    return int.from_bytes(payload[4:8], "little")


def read_frames(c, n):
    """Reads @n binary messages from socket @c (blocking): their sequence
    numbers."""
    buf = b""
    seqs = []
    while len(seqs) < n:
        f = parse(buf)
        if f is None:
            chunk = c.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
            continue
        _, op, payload, used = f
        buf = buf[used:]
        if op == OP_BINARY:
            seqs.append(seq_of(payload))
    return seqs


class Watch:
    """A connected WebSocket read from a GLib main context: @on_text(str),
    @on_binary(bytes) per message, @on_closed() once. Pings are answered."""

    def __init__(self, GLib, port, path, host=None, token=None,
                 on_text=None, on_binary=None, on_closed=None):
        self.GLib = GLib
        self.sock, self.status = raw_request(
            port, head(path, host or "127.0.0.1:%d" % port, token=token))
        if " 101 " not in self.status + " ":
            self.sock.close()
            raise ConnectionError("WebSocket refused: " + self.status)
        self.on_text, self.on_binary, self.on_closed = on_text, on_binary, on_closed
        self.open = True
        self.buf = b""
        self.parts = []
        self.sock.setblocking(False)
        self.source = GLib.io_add_watch(self.sock.fileno(), GLib.PRIORITY_DEFAULT,
                                        GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR,
                                        self._readable)

    def _readable(self, fd, cond):
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self._gone()
            return False
        self.buf += chunk
        while self.open:
            f = parse(self.buf)
            if f is None:
                break
            fin, op, payload, used = f
            self.buf = self.buf[used:]
            self._frame(fin, op, payload)
        return self.open

    def _frame(self, fin, op, payload):
        if op == OP_PING:
            self.sock.setblocking(True)
            self.sock.sendall(masked(OP_PONG, payload))
            self.sock.setblocking(False)
        elif op == OP_CLOSE:
            self._gone()
        elif op in (OP_TEXT, OP_BINARY, OP_CONT):
            self.parts.append((op, payload))
            if fin:
                first = self.parts[0][0]
                data = b"".join(p for _, p in self.parts)
                self.parts = []
                if first == OP_TEXT and self.on_text:
                    self.on_text(data.decode())
                elif first == OP_BINARY and self.on_binary:
                    self.on_binary(data)

    def _gone(self):
        if self.open:
            self.open = False
            self.sock.close()
            if self.on_closed:
                self.on_closed()

    def close(self):
        """Sends a normal close and stops reading."""
        if self.open:
            self.GLib.source_remove(self.source)
            try:
                self.sock.setblocking(True)
                self.sock.sendall(masked(OP_CLOSE, struct.pack("!H", 1000)))
            except OSError:
                pass
            self.open = False
            self.sock.close()
