"""Slow consumers: a client that stops reading is cut off with 1008 once its queue passes
--max-backlog; memory stays bounded and everyone else still gets every message, in order."""

import asyncio
import os
import socket
import struct
import threading

import wsclient
import wsraw

TOTAL = 200 * 1024 * 1024
CHUNK = 64 * 1024
# chatd's own footprint is a few MiB; one client's backlog is bounded by 4 MiB, each live
# reader's by what it has not read yet. The sanitizer build keeps freed memory in
# quarantine (make check caps it), so it gets a looser bound.
RSS_BOUND = (160 if os.environ.get("CHATD_SANITIZED") else 48) * 1024 * 1024


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


async def test_non_reading_client_is_cut_off_and_memory_stays_bounded(chatd):
    # The senders here are the test's own and fast on purpose: lift the flood limits.
    server = chatd("--rate-limit", "off", "--rate-limit-bytes", "off")
    # The slow client: a raw socket that completes the handshake and then never reads.
    slow = wsraw.open_websocket(server.port, rcvbuf=4096)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_bytes(server.proc.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        async with wsclient.clients(server.url, 2, max_size=2 * CHUNK) as (sender, reader):
            count = TOTAL // CHUNK
            filler = b"x" * (CHUNK - 4)
            # Sender and reader share this process's event loop: a window keeps the
            # sender from outrunning the reader, as a real healthy reader would not be
            # outrun, so only the non-reading client can fill its queue.
            window = asyncio.Semaphore(16)

            async def send_all():
                for i in range(count):
                    await window.acquire()
                    await sender.send(struct.pack("!I", i) + filler)

            async def receive_all():
                for i in range(count):
                    message = await wsclient.recv(reader, timeout=10)
                    window.release()
                    assert len(message) == CHUNK
                    assert struct.unpack("!I", message[:4])[0] == i, "out of order"

            await asyncio.gather(send_all(), receive_all())
            await wsclient.assert_chatting(sender, reader)
    finally:
        stop.set()
        sampler.join()
        slow.sock.close()
    server.wait_for_log(r"cut off: \d+ bytes unsent holding \d+ bytes of memory: cut off for backpressure")
    print(f"200 MiB through chatd with a non-reading client: peak RSS {peak / 2**20:.1f} MiB")
    assert peak < RSS_BOUND, f"peak RSS {peak / 2**20:.1f} MiB over {RSS_BOUND / 2**20:.0f} MiB"


def test_cut_off_client_receives_close_1008_once_it_reads(chatd):
    server = chatd("--max-message", "1K", "--max-backlog", "64K")
    slow = wsraw.open_websocket(server.port, rcvbuf=4096)
    try:
        with wsraw.open_websocket(server.port) as sender:
            # Kernel buffers on both sides absorb several MiB before chatd's own queue
            # grows, so send in batches until chatd says it cut the reader off.
            batch = wsraw.binary(b"m" * 1000) * 500
            for _ in range(100):
                sender.send(batch)
                if server.has_logged(r"cut off"):
                    break
            server.wait_for_log(r"cut off", timeout=10)
        # Reading now: whatever was already on its way, then the close frame.
        code, _ = slow.expect_close()
        assert code == 1008
    finally:
        slow.sock.close()
