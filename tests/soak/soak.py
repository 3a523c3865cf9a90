#!/usr/bin/env python3
"""Soak: churn thousands of connections through a fresh chatd for a bounded time, then
check that its memory came back to the baseline and that no descriptor leaked.

Usage: tests/soak/soak.py [CHATD_BINARY]   (SOAK_SECONDS, default 180; SOAK_WORKERS, 64)
Loopback only. It stops by itself and prints its figures; exit 1 when a check fails.

Each worker loops over random behaviours: a clean chat and close, a reset in the middle of
a frame, a reset in the middle of the handshake, a disconnect without a close frame, a
protocol error, a message in many fragments. Two steady clients chat throughout and must
receive every message.
"""

import asyncio
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import wsraw  # noqa: E402  (frame builders; pure functions)

REPO = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "64"))
RSS_SLACK = 4 * 1024 * 1024  # allocator caches and free lists may keep a little


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def open_ws(port, path="/"):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(wsraw.handshake_request(path=path))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:40]!r}")
    return reader, writer


def reset(writer):
    """Close with RST instead of FIN (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def read_frame(reader):
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return first & 0x0F, await reader.readexactly(length)


async def behave(port, counts):
    kind = random.choice(
        ["chat", "reset_mid_frame", "reset_mid_handshake", "vanish", "protocol_error", "fragments"]
    )
    counts[kind] = counts.get(kind, 0) + 1
    room = random.choice(["/", "/soak1", "/soak2"])
    if kind == "reset_mid_handshake":
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(wsraw.handshake_request(path=room)[:30])
        await writer.drain()
        reset(writer)
        return
    reader, writer = await open_ws(port, room)
    if kind == "chat":
        for i in range(random.randint(1, 5)):
            writer.write(wsraw.text(f"soak {i}".encode()))
        writer.write(wsraw.close(1000))
        await writer.drain()
        try:
            while (await asyncio.wait_for(read_frame(reader), 5))[0] != wsraw.OP_CLOSE:
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
    elif kind == "reset_mid_frame":
        whole = wsraw.binary(os.urandom(random.randint(200, 5000)))
        writer.write(whole[: random.randint(1, len(whole) - 1)])
        await writer.drain()
        reset(writer)
    elif kind == "vanish":
        writer.write(wsraw.text(b"here and gone"))
        await writer.drain()
        writer.close()
    elif kind == "protocol_error":
        writer.write(wsraw.frame(wsraw.OP_TEXT, b"unmasked", mask=False))
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(), 5)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        writer.close()
    else:  # a message in many fragments, then an abrupt end
        writer.write(wsraw.text(b"a", fin=False))
        for _ in range(random.randint(10, 500)):
            writer.write(wsraw.continuation(b"b", fin=False))
        writer.write(wsraw.continuation(b"c"))
        await writer.drain()
        reset(writer)


async def worker(port, deadline, counts, errors):
    while time.monotonic() < deadline:
        try:
            await behave(port, counts)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError) as e:
            errors.append(repr(e))


async def steady_pair(port, deadline):
    """Two clients in their own room that must see every message of each other."""
    ra, wa = await open_ws(port, "/steady")
    rb, wb = await open_ws(port, "/steady")
    sent = 0
    while time.monotonic() < deadline:
        wa.write(wsraw.text(f"steady {sent}".encode()))
        await wa.drain()
        opcode, payload = await asyncio.wait_for(read_frame(rb), 10)
        while opcode == wsraw.OP_PING:  # b only listens, so chatd's keepalive pings it
            wb.write(wsraw.pong(payload))
            opcode, payload = await asyncio.wait_for(read_frame(rb), 10)
        assert (opcode, payload) == (wsraw.OP_TEXT, f"steady {sent}".encode()), payload
        sent += 1
        await asyncio.sleep(0.01)
    for w in (wa, wb):
        w.write(wsraw.close(1000))
        w.close()
    return sent


async def soak(port, pid):
    counts, errors = {}, []
    # Warm-up: a short burst, so allocator arenas and free lists exist before the baseline.
    warm = time.monotonic() + 5
    await asyncio.gather(*(worker(port, warm, {}, []) for _ in range(WORKERS)))
    await asyncio.sleep(3)  # every closing connection has finished its 2 s grace
    base_rss, base_fds = rss(pid), fds(pid)
    print(f"baseline after warm-up: RSS {base_rss / 2**20:.2f} MiB, {base_fds} descriptors")

    deadline = time.monotonic() + SECONDS
    started = time.monotonic()
    peak = base_rss
    sampler_stop = asyncio.Event()

    async def sample():
        nonlocal peak
        while not sampler_stop.is_set():
            peak = max(peak, rss(pid))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    results = await asyncio.gather(
        steady_pair(port, deadline), *(worker(port, deadline, counts, errors) for _ in range(WORKERS))
    )
    sampler_stop.set()
    await sampler
    elapsed = time.monotonic() - started
    await asyncio.sleep(3)
    end_rss, end_fds = rss(pid), fds(pid)
    total = sum(counts.values())
    print(f"ran {elapsed:.0f} s: {total} connections ({total / elapsed:.0f}/s), by kind: {counts}")
    print(f"steady pair: {results[0]} messages, every one received in order")
    print(f"client-side errors (expected for resets): {len(errors)}")
    print(f"RSS: baseline {base_rss / 2**20:.2f} MiB, peak {peak / 2**20:.2f} MiB, "
          f"end {end_rss / 2**20:.2f} MiB")
    print(f"descriptors: baseline {base_fds}, end {end_fds}")
    ok = True
    if end_fds != base_fds:
        print("FAIL: descriptors leaked")
        ok = False
    if end_rss > base_rss + RSS_SLACK:
        print(f"FAIL: RSS did not return to baseline (+{RSS_SLACK / 2**20:.0f} MiB allowed)")
        ok = False
    return ok


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "chatd")
    proc = subprocess.Popen(
        # Every client comes from 127.0.0.1: the per-address limit is lifted. The admin
        # listener is off, so the one listening socket below is the chat port.
        [binary, "--port", "0", "--bind", "127.0.0.1", "-q", "--handshake-timeout", "2s",
         "--max-per-ip", "0", "--admin-listen", "off"],
        stderr=subprocess.PIPE,
    )
    # -q hides the "listening" line: find the port from /proc instead.
    port = None
    for _ in range(100):
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        m = re.search(rf"127\.0\.0\.1:(\d+) .*pid={proc.pid},", out)
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    if port is None:
        proc.kill()
        sys.exit("soak: chatd did not start")
    try:
        ok = asyncio.run(soak(port, proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(10)
        errors = proc.stderr.read().decode(errors="replace")
    if errors.strip():
        print("chatd stderr:\n" + errors)
    print(f"chatd exit status {status}")
    sys.exit(0 if ok and status == 0 else 1)


if __name__ == "__main__":
    main()
