"""asyncio WebSocket connections for the soak: raw frames (from tests/integration/wsraw.py),
each connection from its own loopback source address.

Every client of the soak comes from a random address in 127.0.0.0/8 (all of it is local on
Linux), so chatd can run with every default limit, --max-per-ip included: a room of a
hundred members is a hundred hosts, as it would be in the wild.
"""

import asyncio
import random
import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import wsraw  # noqa: E402  (frame builders; pure functions)

# A client that never reads: the kernel window it offers stays a few KiB (set before
# connect(), or the window already advertised shrinks under the peer), and asyncio stops
# pulling bytes into Python after NONREADER_LIMIT x 2.
NONREADER_RCVBUF = 4096
NONREADER_LIMIT = 1024


def source_address():
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def connect(port, rcvbuf=None, sndbuf=None, limit=2**16):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if sndbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((source_address(), 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=limit)


async def open_ws(port, path="/", timeout=10, **kwargs):
    """A WebSocket after its 101; kwargs go to connect()."""
    reader, writer = await asyncio.wait_for(connect(port, **kwargs), timeout)
    try:
        writer.write(wsraw.handshake_request(path=path))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"handshake refused: {head[:40]!r}")
    except BaseException:
        writer.transport.abort()
        raise
    return reader, writer


async def open_nonreader(port, path):
    return await open_ws(port, path, rcvbuf=NONREADER_RCVBUF, limit=NONREADER_LIMIT)


def reset(writer):
    """Close with RST instead of FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def read_frame(reader):
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(length)


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
