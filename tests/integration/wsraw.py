"""Raw WebSocket and HTTP client for the integration tests: exact bytes over a plain socket.

A real client library refuses to send the broken frames and requests these tests need, so
this module builds them by hand (RFC 6455 section 5.2 for frames, 4.1 for the handshake).
Nothing here knows about chatd beyond what the RFC and the spec promise.
"""

import base64
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass, field

# RFC 6455 section 1.3: the GUID concatenated to Sec-WebSocket-Key before hashing.
WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

IO_TIMEOUT = 5.0  # any single read or write; a test never waits longer on one step
CLOSED_WITHIN = 3.0  # after its Close frame the server must drop TCP within this
HTTP_HEAD_MAX = 64 * 1024  # a response head bigger than this is a server bug, not a wait

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)


class ServerClosed(AssertionError):
    """The server closed the TCP connection while the test still expected bytes."""


# --- handshake helpers -------------------------------------------------------------------


def make_key() -> str:
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 section 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept a correct server must answer for `key` (section 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + WEBSOCKET_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def upgrade_headers(key: str = None) -> dict:
    """The headers of a minimal valid handshake request, in order; edit a copy to break it."""
    return {
        "Host": "127.0.0.1",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key or make_key(),
        "Sec-WebSocket-Version": "13",
    }


def http_request(method="GET", path="/", headers=None, version="HTTP/1.1", raw_lines=()) -> bytes:
    """An HTTP request head. `headers` maps names to values (a value of None drops the
    header), by default just a Host; `raw_lines` are appended verbatim, for lines that are
    not headers at all."""
    if headers is None:
        headers = {"Host": "127.0.0.1"}
    lines = [f"{method} {path} {version}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if value is not None]
    lines += list(raw_lines)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def handshake_request(key: str = None, path="/", **kwargs) -> bytes:
    """A valid upgrade request; keyword arguments go to http_request."""
    kwargs.setdefault("headers", upgrade_headers(key))
    return http_request("GET", path, **kwargs)


# --- frames ------------------------------------------------------------------------------


def apply_mask(data: bytes, key: bytes) -> bytes:
    """XOR with the repeating 4-byte key (section 5.3). One big-int XOR keeps 1 MiB fast."""
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[: len(data)]
    xored = int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")
    return xored.to_bytes(len(data), "big")


def frame(
    opcode: int,
    payload=b"",
    *,
    fin=True,
    rsv1=False,
    rsv2=False,
    rsv3=False,
    mask=True,
    mask_key: bytes = None,
    length_bytes: int = None,
    declared_length: int = None,
) -> bytes:
    """One client frame with every bit under the caller's control.

    length_bytes: None picks the minimal encoding; 0, 2 or 8 forces the 7-bit, 16-bit or
    64-bit form. declared_length: the length written in the header, even if it is not the
    payload's (e.g. 2**63 to set the forbidden top bit).
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    length = len(payload) if declared_length is None else declared_length
    if length_bytes is None:
        length_bytes = 0 if length < 126 else 2 if length < 65536 else 8
    first = (
        (0x80 if fin else 0)
        | (0x40 if rsv1 else 0)
        | (0x20 if rsv2 else 0)
        | (0x10 if rsv3 else 0)
        | (opcode & 0x0F)
    )
    mask_bit = 0x80 if mask else 0
    if length_bytes == 0:
        header = bytes([first, mask_bit | length])
    elif length_bytes == 2:
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", length)
    elif length_bytes == 8:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", length)
    else:
        raise ValueError(f"length_bytes must be 0, 2 or 8, not {length_bytes}")
    if not mask:
        return header + payload
    key = os.urandom(4) if mask_key is None else mask_key
    return header + key + apply_mask(payload, key)


def text(payload, **kwargs) -> bytes:
    return frame(OP_TEXT, payload, **kwargs)


def binary(payload, **kwargs) -> bytes:
    return frame(OP_BINARY, payload, **kwargs)


def continuation(payload, **kwargs) -> bytes:
    return frame(OP_CONT, payload, **kwargs)


def ping(payload=b"", **kwargs) -> bytes:
    return frame(OP_PING, payload, **kwargs)


def pong(payload=b"", **kwargs) -> bytes:
    return frame(OP_PONG, payload, **kwargs)


def close_payload(code: int = None, reason=b"") -> bytes:
    """Body of a Close frame: empty, or a 2-byte code followed by the reason (section 5.5.1)."""
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def close(code: int = None, reason=b"", **kwargs) -> bytes:
    return frame(OP_CLOSE, close_payload(code, reason), **kwargs)


@dataclass
class Frame:
    """A frame as the server sent it."""

    fin: bool
    rsv: int  # the three RSV bits, RSV1 as 4
    opcode: int
    masked: bool
    payload: bytes
    length_bytes: int  # 0, 2 or 8: the encoding the server chose for the length


@dataclass
class Response:
    """An HTTP response as the server sent it. Header names are lower-cased; repeated
    headers are joined with ", "."""

    version: str
    status: int
    reason: str
    headers: dict
    body: bytes = b""
    head: bytes = field(default=b"", repr=False)


# --- the connection ----------------------------------------------------------------------


class RawConnection:
    """A TCP connection to the server with a read buffer, so bytes that arrive early (a
    frame right behind the 101 response) are never lost between reads."""

    def __init__(self, port: int, host="127.0.0.1", timeout=IO_TIMEOUT, rcvbuf=None, source=None):
        """`rcvbuf`: SO_RCVBUF, set before connecting. `source`: the local address to
        connect from (e.g. "127.0.0.2")."""
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            if rcvbuf is not None:
                # A small receive window must be set before connect(): set later, the
                # window the peer already saw shrinks under it, and the kernel's
                # retransmission backoff then makes a test measure this client rather
                # than the server.
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if source is not None:
                self.sock.bind((source, 0))
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise
        # Without this Nagle would merge the one-byte writes of send_slowly.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buffer = bytearray()
        self.frames_before_close = []  # data or control frames that expect_close skipped

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_slowly(self, data: bytes, delay=0.002) -> None:
        """One byte per write, so the server sees the input in as many reads as possible."""
        for i in range(len(data)):
            self.sock.sendall(data[i : i + 1])
            time.sleep(delay)

    # reading

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ServerClosed(f"server closed the connection; unread bytes: {bytes(self.buffer)!r}")
        self.buffer += chunk

    def read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def read_until(self, delimiter: bytes, limit: int) -> bytes:
        """Bytes up to and including `delimiter`."""
        while True:
            at = self.buffer.find(delimiter)
            if at >= 0:
                return self.read_exact(at + len(delimiter))
            if len(self.buffer) > limit:
                raise AssertionError(f"no {delimiter!r} in the first {limit} bytes")
            self._fill()

    def read_to_close(self, timeout=CLOSED_WITHIN) -> bytes:
        """Everything the server still sends until it closes TCP. Fails if it does not
        close within `timeout`. A reset counts as closed: the server did drop us."""
        deadline = time.monotonic() + timeout
        data = bytes(self.buffer)
        self.buffer.clear()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"server did not close the connection within {timeout} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue  # the deadline check above turns this into a failure
            except ConnectionResetError:
                chunk = b""
            finally:
                self.sock.settimeout(self.timeout)
            if not chunk:
                return data
            data += chunk

    def assert_closed_by_server(self, timeout=CLOSED_WITHIN) -> None:
        """The server closes TCP within `timeout` and sends nothing more before it."""
        extra = self.read_to_close(timeout)
        assert extra == b"", f"server sent bytes after it should have been done: {extra[:200]!r}"

    # HTTP

    def read_http_head(self) -> Response:
        head = self.read_until(b"\r\n\r\n", HTTP_HEAD_MAX)
        return parse_http_head(head)

    def read_http_response(self) -> Response:
        """A response that ends with the server closing the connection (every answer of
        chatd but 101 does). The body is everything after the head."""
        response = self.read_http_head()
        response.body = self.read_to_close()
        return response

    # WebSocket

    def recv_frame(self, timeout=None) -> Frame:
        """The next frame. With `timeout`, raises TimeoutError if none is complete in time
        (the bytes read so far stay buffered)."""
        if timeout is not None:
            deadline = time.monotonic() + timeout
            while not _frame_complete(self.buffer):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no frame in time")
                self.sock.settimeout(remaining)
                try:
                    self._fill()
                except socket.timeout:
                    raise TimeoutError("no frame in time") from None
                finally:
                    self.sock.settimeout(self.timeout)
        first, second = self.read_exact(2)
        length = second & 0x7F
        length_bytes = 0
        if length == 126:
            length_bytes = 2
            (length,) = struct.unpack("!H", self.read_exact(2))
        elif length == 127:
            length_bytes = 8
            (length,) = struct.unpack("!Q", self.read_exact(8))
        masked = bool(second & 0x80)
        key = self.read_exact(4) if masked else b""
        payload = self.read_exact(length)
        if masked:
            payload = apply_mask(payload, key)
        received = Frame(
            fin=bool(first & 0x80),
            rsv=(first >> 4) & 0x7,
            opcode=first & 0x0F,
            masked=masked,
            payload=payload,
            length_bytes=length_bytes,
        )
        # Section 5.1: a server MUST NOT mask any frames it sends.
        assert not received.masked, f"server sent a masked frame: {received}"
        assert received.rsv == 0, f"server set RSV bits without an extension: {received}"
        return received

    def recv_message(self):
        """The next data message as (opcode, payload), reassembling fragments. Any control
        frame in the way is a failure: the tests that expect one read frames themselves."""
        first = self.recv_frame()
        assert first.opcode in (OP_TEXT, OP_BINARY), f"expected a data frame, got {first}"
        opcode, payload, current = first.opcode, first.payload, first
        while not current.fin:
            current = self.recv_frame()
            assert current.opcode == OP_CONT, f"expected a continuation frame, got {current}"
            payload += current.payload
        return opcode, payload

    def recv_text(self) -> str:
        opcode, payload = self.recv_message()
        assert opcode == OP_TEXT, f"expected a text message, got opcode {opcode}: {payload[:80]!r}"
        return payload.decode("utf-8")

    def expect_close(self):
        """Read frames until the server's Close; return (code, reason), code None for an
        empty Close. Then the server must close TCP within CLOSED_WITHIN seconds. Frames
        before the Close are kept in frames_before_close."""
        while True:
            received = self.recv_frame()
            if received.opcode == OP_CLOSE:
                break
            self.frames_before_close.append(received)
        assert received.fin, f"server sent a fragmented Close: {received}"
        payload = received.payload
        assert len(payload) != 1, "server sent a Close with a 1-byte payload"
        assert len(payload) <= 125, f"server sent a Close of {len(payload)} bytes"
        code = struct.unpack("!H", payload[:2])[0] if payload else None
        reason = payload[2:].decode("utf-8")  # raises if the server's reason is not UTF-8
        self.assert_closed_by_server()
        return code, reason


def _frame_complete(buf) -> bool:
    """True when buf starts with a whole (unmasked, server-sent) frame."""
    if len(buf) < 2:
        return False
    length, at = buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return False
        (length,), at = struct.unpack("!H", bytes(buf[2:4])), 4
    elif length == 127:
        if len(buf) < 10:
            return False
        (length,), at = struct.unpack("!Q", bytes(buf[2:10])), 10
    return len(buf) >= at + length


def parse_frames(data: bytes) -> list:
    """The server-sent frames in data (which must end on a frame boundary)."""
    frames = []
    while data:
        assert _frame_complete(data), f"a partial frame at the end: {data[:40]!r}"
        first, length, at = data[0], data[1] & 0x7F, 2
        if length == 126:
            (length,), at = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            (length,), at = struct.unpack("!Q", data[2:10]), 10
        frames.append(Frame(fin=bool(first & 0x80), rsv=(first >> 4) & 7, opcode=first & 0x0F,
                            masked=False, payload=data[at : at + length], length_bytes=at - 2))
        data = data[at + length :]
    return frames


def parse_http_head(head: bytes) -> Response:
    lines = head.decode("latin-1").split("\r\n")
    version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        assert sep, f"response header line without a colon: {line!r}"
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Response(version=version, status=int(status), reason=reason, headers=headers, head=head)


def open_websocket(port: int, path="/", after=b"", rcvbuf=None, source=None) -> RawConnection:
    """Connect and complete a handshake, checking the 101 and the accept value. `after` is
    sent in the same write as the request (pipelined frames). `rcvbuf` sets SO_RCVBUF
    before connecting: a reader that never reads then fills up after a few KiB. `source`:
    the local address to connect from."""
    key = make_key()
    conn = RawConnection(port, rcvbuf=rcvbuf, source=source)
    try:
        conn.send(handshake_request(key, path) + after)
        response = conn.read_http_head()
        check_switching_protocols(response, key)
    except BaseException:
        conn.sock.close()
        raise
    return conn


def check_switching_protocols(response: Response, key: str) -> None:
    """The checks of RFC 6455 section 4.1 (client side, items 1 to 4 of the response)."""
    assert response.status == 101, f"expected 101, got {response.status}: {response.head!r}"
    assert response.version == "HTTP/1.1", response.head
    assert response.headers.get("upgrade", "").lower() == "websocket", response.head
    tokens = [t.strip().lower() for t in response.headers.get("connection", "").split(",")]
    assert "upgrade" in tokens, response.head
    assert response.headers.get("sec-websocket-accept") == accept_for(key), response.head


def http_exchange(port: int, request: bytes, slowly=False) -> Response:
    """Send one request and read the response up to the server closing the connection."""
    with RawConnection(port) as conn:
        if slowly:
            conn.send_slowly(request)
        else:
            conn.send(request)
        return conn.read_http_response()
