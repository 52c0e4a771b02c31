#!/usr/bin/env python3
"""Readiness probe for Berth session containers (Python 3 standard library only).

    check-ready.py HOST:PORT [SECRET] [--timeout S] [--since EPOCH] [--screenshot F.png]
    check-ready.py HOST:PORT [SECRET] --expect-refused

Connects a websocket to ws://HOST:PORT/websockify with the header
"Authorization: Basic base64(berth:SECRET)", performs the RFB 3.8 handshake
(security type None), ClientInit, sends a FramebufferUpdateRequest for the
whole screen and waits for the complete first FramebufferUpdate. Until the
timeout, failed attempts (container still starting) are retried every 20 ms.
Prints the time taken, from start-up or from --since (a Unix time, e.g. taken
just before `docker run`), and exits 0 on success, 1 on timeout/error, 2 if
the server refused the credentials.

SECRET defaults to $BERTH_SESSION_SECRET.

--expect-refused checks instead that requests without the Authorization header
or with a wrong secret are refused (HTTP 401/403), for both plain HTTP (the
noVNC page) and the websocket, and that the right secret is accepted.
"""

import argparse
import base64
import hashlib
import os
import socket
import struct
import sys
import time
import zlib

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RETRY_DELAY = 0.02


class Refused(Exception):
    """The server answered the HTTP request with an error status."""

    def __init__(self, status, reason):
        super().__init__(f"HTTP {status} {reason}")
        self.status = status


class Conn:
    """A websocket client connection (binary frames) over a plain TCP socket."""

    def __init__(self, host, port, path, auth, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw = b""  # bytes received, not yet parsed into frames
        self.data = b""  # websocket payload received, not yet consumed
        key = base64.b64encode(os.urandom(16))
        headers = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: binary",
        ]
        if auth is not None:
            headers.append(f"Authorization: {auth}")
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        status, reason, resp = read_http_head(self)
        if status != 101:
            raise Refused(status, reason)
        expected = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        if resp.get("sec-websocket-accept") != expected:
            raise ConnectionError("bad Sec-WebSocket-Accept")

    def recv_raw(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.raw += chunk

    def raw_exact(self, n):
        while len(self.raw) < n:
            self.recv_raw()
        out, self.raw = self.raw[:n], self.raw[n:]
        return out

    def send(self, payload, opcode=2):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def read_frame(self):
        b0, b1 = self.raw_exact(2)
        opcode, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self.raw_exact(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self.raw_exact(8))
        mask = self.raw_exact(4) if b1 & 0x80 else None
        payload = self.raw_exact(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if opcode == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            raise ConnectionError(f"websocket closed by server ({code} {payload[2:].decode(errors='replace')})")
        if opcode == 9:
            self.send(payload, opcode=10)
        elif opcode in (0, 1, 2):
            self.data += payload

    def read(self, n):
        """n bytes of the RFB stream."""
        while len(self.data) < n:
            self.read_frame()
        out, self.data = self.data[:n], self.data[n:]
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def read_http_head(conn):
    """Reads a HTTP response head from conn.raw; keeps what follows it."""
    while b"\r\n\r\n" not in conn.raw:
        if len(conn.raw) > 65536:
            raise ConnectionError("HTTP response head too large")
        conn.recv_raw()
    head, conn.raw = conn.raw.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ConnectionError(f"not a HTTP response: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


def http_status(host, port, path, auth, timeout):
    """Status of a plain HTTP GET (the noVNC page)."""

    class Plain(Conn):
        def __init__(self):  # pylint: disable=super-init-not-called
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.raw = b""

    c = Plain()
    try:
        req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        if auth is not None:
            req += f"Authorization: {auth}\r\n"
        c.sock.sendall((req + "\r\n").encode())
        return read_http_head(c)[0]
    finally:
        c.close()


def rfb_first_update(conn, screenshot):
    """RFB 3.8 handshake, then reads one complete FramebufferUpdate.

    Returns (width, height, desktop name, png bytes or None)."""
    version = conn.read(12)
    if not version.startswith(b"RFB "):
        raise ConnectionError(f"not an RFB server: {version!r}")
    conn.send(b"RFB 003.008\n")
    (ntypes,) = conn.read(1)
    if ntypes == 0:
        (n,) = struct.unpack("!I", conn.read(4))
        raise ConnectionError("RFB server refused: " + conn.read(n).decode(errors="replace"))
    types = conn.read(ntypes)
    if 1 not in types:
        raise ConnectionError(f"RFB security type None not offered (offered {list(types)})")
    conn.send(b"\x01")
    (result,) = struct.unpack("!I", conn.read(4))
    if result != 0:
        (n,) = struct.unpack("!I", conn.read(4))
        raise ConnectionError("RFB security failed: " + conn.read(n).decode(errors="replace"))
    conn.send(b"\x01")  # ClientInit, shared
    width, height = struct.unpack("!HH", conn.read(4))
    conn.read(16)  # server pixel format, replaced below
    (n,) = struct.unpack("!I", conn.read(4))
    name = conn.read(n).decode(errors="replace")

    # 32 bpp little-endian true colour: a raw pixel is B, G, R, padding.
    conn.send(struct.pack("!B3xBBBBHHHBBB3x", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
    encodings = [0] if screenshot else [16, 0]  # ZRLE (as noVNC would) or Raw
    conn.send(struct.pack(f"!BxH{len(encodings)}i", 2, len(encodings), *encodings))
    conn.send(struct.pack("!BBHHHH", 3, 0, 0, 0, width, height))  # full, non-incremental

    fb = bytearray(width * height * 4) if screenshot else None
    while True:
        (msg,) = conn.read(1)
        if msg == 0:  # FramebufferUpdate
            (nrects,) = struct.unpack("!xH", conn.read(3))
            for _ in range(nrects):
                x, y, w, h, enc = struct.unpack("!HHHHi", conn.read(12))
                if enc == 0:
                    pixels = conn.read(w * h * 4)
                    if fb is not None:
                        for row in range(h):
                            start = ((y + row) * width + x) * 4
                            fb[start:start + w * 4] = pixels[row * w * 4:(row + 1) * w * 4]
                elif enc == 16:
                    (n,) = struct.unpack("!I", conn.read(4))
                    conn.read(n)
                else:
                    raise ConnectionError(f"unexpected rectangle encoding {enc}")
            png = to_png(fb, width, height) if fb is not None else None
            return width, height, name, png
        if msg == 1:  # SetColourMapEntries
            (_, n) = struct.unpack("!xHH", conn.read(5))
            conn.read(6 * n)
        elif msg == 2:  # Bell
            pass
        elif msg == 3:  # ServerCutText
            (n,) = struct.unpack("!3xI", conn.read(7))
            conn.read(n)
        else:
            raise ConnectionError(f"unexpected RFB message type {msg}")


def to_png(bgrx, width, height):
    """PNG file (RGB) from a B, G, R, padding frame buffer."""
    rows = bytearray()
    for y in range(height):
        row = bgrx[y * width * 4:(y + 1) * width * 4]
        rgb = bytearray(width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = row[2::4], row[1::4], row[0::4]
        rows += b"\x00" + rgb

    def chunk(kind, data):
        return struct.pack("!I", len(data)) + kind + data + struct.pack("!I", zlib.crc32(kind + data))

    ihdr = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + chunk(b"IEND", b"")


def basic(user, secret):
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode("iso-8859-1")).decode()


def retrying(deadline, fn):
    """Calls fn() until it returns, retrying connection-level failures."""
    attempts = 0
    while True:
        attempts += 1
        try:
            return fn(), attempts
        except (OSError, ConnectionError) as e:  # ConnectionRefused, reset, closed...
            if time.time() + RETRY_DELAY >= deadline:
                raise TimeoutError(f"not ready after {attempts} attempts, last error: {e}") from e
            time.sleep(RETRY_DELAY)


def expect_refused(host, port, path, secret, deadline, timeout):
    """Checks that missing/wrong credentials are refused and the right ones accepted."""
    ok = True
    good, wrong = basic("berth", secret), basic("berth", secret + "x")
    cases = [
        ("HTTP GET / without Authorization", "http", None, False),
        ("HTTP GET / with a wrong secret", "http", wrong, False),
        ("websocket without Authorization", "ws", None, False),
        ("websocket with a wrong secret", "ws", wrong, False),
        ("HTTP GET / with the secret", "http", good, True),
        ("websocket with the secret", "ws", good, True),
    ]
    for label, kind, auth, accept in cases:
        def attempt():
            if kind == "http":
                return http_status(host, port, "/", auth, timeout)
            try:
                conn = Conn(host, port, path, auth, timeout)
            except Refused as e:
                return e.status
            try:
                conn.read(12)  # the RFB version proves the websocket is proxied
                return 101
            finally:
                conn.close()

        status, _ = retrying(deadline, attempt)
        passed = (status in (101, 200)) if accept else (status in (401, 403))
        ok &= passed
        print(f"{'ok  ' if passed else 'FAIL'} {label}: {status} ({'accept' if accept else 'refuse'} expected)")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", metavar="HOST:PORT")
    ap.add_argument("secret", nargs="?", default=os.environ.get("BERTH_SESSION_SECRET"))
    ap.add_argument("--path", default="/websockify", help="websocket path (default /websockify)")
    ap.add_argument("--timeout", type=float, default=30.0, help="give up after S seconds (default 30)")
    ap.add_argument("--since", type=float, help="report the time elapsed since this Unix time")
    ap.add_argument("--screenshot", metavar="FILE.png", help="save the first frame buffer as PNG (Raw encoding)")
    ap.add_argument("--expect-refused", action="store_true", help="verify that requests without the secret are refused")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only the seconds elapsed")
    args = ap.parse_args()
    if not args.secret:
        ap.error("no secret: pass SECRET or set BERTH_SESSION_SECRET")
    host, _, port = args.target.rpartition(":")
    host, port = host.strip("[]") or "127.0.0.1", int(port)
    start = time.time()
    deadline = start + args.timeout
    io_timeout = max(1.0, min(10.0, args.timeout))

    try:
        if args.expect_refused:
            return expect_refused(host, port, args.path, args.secret, deadline, io_timeout)

        def attempt():
            conn = Conn(host, port, args.path, basic("berth", args.secret), io_timeout)
            try:
                return rfb_first_update(conn, args.screenshot)
            finally:
                conn.close()

        (width, height, name, png), attempts = retrying(deadline, attempt)
    except Refused as e:
        print(f"refused by the server: {e}", file=sys.stderr)
        return 2
    except TimeoutError as e:
        print(str(e), file=sys.stderr)
        return 1
    elapsed = time.time() - (args.since if args.since is not None else start)
    if args.screenshot:
        with open(args.screenshot, "wb") as f:
            f.write(png)
    if args.quiet:
        print(f"{elapsed:.3f}")
    else:
        print(f"first framebuffer update after {elapsed:.3f} s "
              f"({width}x{height} '{name}', {attempts} attempt{'s' if attempts > 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
