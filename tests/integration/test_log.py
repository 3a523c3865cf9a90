"""Logging never blocks the event loop (src/log.c): a stderr that nobody reads costs log
lines, counted and reported, never service; a stderr that is read loses nothing.

These tests start chatd themselves (not with the conftest fixture, which always drains
stderr) so that they choose what stderr is: a pipe left unread, a regular file, /dev/null.
"""

import asyncio
import os
import re
import select
import signal
import subprocess
import threading
import time

import wsclient

STOP_TIMEOUT = 5.0
MESSAGE_LINE = re.compile(r"connection \d+: text message, \d+ bytes")
DROPPED_LINE = re.compile(r"log: (\d+) lines dropped")
# These tests log a line per message by sending thousands of them as fast as they can:
# flood control would slow the sender, which is not what they are about.
NO_RATE_LIMIT = ("--rate-limit", "off")


def start(chatd_bin, stderr, *args):
    return subprocess.Popen(
        [str(chatd_bin), "--port", "0", "--bind", "127.0.0.1", "--admin-listen", "off",
         *NO_RATE_LIMIT, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def read_port(fd, timeout=5.0) -> int:
    """Reads the pipe only up to the "listening on" line, and not a byte more than needed."""
    seen = b""
    deadline = time.monotonic() + timeout
    while True:
        match = re.search(rb"listening on 127\.0\.0\.1:(\d+)\n", seen)
        if match:
            return int(match.group(1))
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"chatd never said its port; stderr so far: {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1)
            assert chunk, f"chatd exited; stderr: {seen!r}"
            seen += chunk


def stop(proc) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"chatd did not exit within {STOP_TIMEOUT} s of SIGTERM")


async def chat(url, count, batch=100):
    """a sends count messages to b in batches; b must get every one, in order."""
    async with wsclient.clients(url, 2) as (a, b):
        for start_at in range(0, count, batch):
            sent = [f"message {i:06d}" for i in range(start_at, min(count, start_at + batch))]
            for text in sent:
                await a.send(text)
            assert await wsclient.recv_many(b, len(sent)) == sent


async def test_unread_stderr_never_stalls_the_server(chatd_bin):
    """Before the log had a buffer, chatd blocked in write(2) once the 64 KiB pipe was full
    (about 900 lines at -v): every client then waited forever."""
    read_end, write_end = os.pipe()
    proc = start(chatd_bin, write_end, "-v")
    os.close(write_end)
    drained = []
    drainer = threading.Thread(
        target=lambda: drained.extend(iter(lambda: os.read(read_end, 65536), b""))
    )
    try:
        port = read_port(read_end)
        url = f"ws://127.0.0.1:{port}/"
        # From here on nobody reads: 6,000 messages make about 450 KB of log at -v, seven
        # times the pipe and the log's buffer together.
        await chat(url, 6000)
        async with wsclient.clients(url, 2) as (c, d):
            started = time.monotonic()
            await wsclient.assert_chatting(c, d)
            # Generous: this asserts "not blocked", not a latency.
            assert time.monotonic() - started < 2.0
        assert proc.poll() is None
    finally:
        # Read again, so that the lines still buffered can be written at shutdown.
        drainer.start()
        status = stop(proc)
        drainer.join(STOP_TIMEOUT)
        os.close(read_end)
    assert status == 0
    log = b"".join(drained).decode("utf-8", "replace")
    lines = log.splitlines()
    messages = sum(1 for line in lines if MESSAGE_LINE.search(line))
    dropped = sum(int(m.group(1)) for m in DROPPED_LINE.finditer(log))
    print(f"message lines written {messages}, lines reported dropped {dropped}")
    assert 0 < messages < 6000, messages
    assert dropped > 0, "no drop was reported"
    # Every message line was either written or counted as dropped (a few lines besides
    # the message lines may have been dropped too: connections opened and closed).
    assert messages + dropped >= 6000
    assert lines[-1].endswith("INFO stopped"), lines[-3:]


async def test_log_read_as_it_comes_loses_nothing(chatd):
    server = chatd("-v", *NO_RATE_LIMIT)
    await chat(server.url, 3000)
    count = 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        count = sum(1 for line in server.logs if MESSAGE_LINE.search(line))
        if count == 3000:
            break
        await asyncio.sleep(0.05)
    assert count == 3000
    assert not server.has_logged(DROPPED_LINE.pattern)


async def test_stderr_a_regular_file_gets_every_line(chatd_bin, tmp_path):
    path = tmp_path / "chatd.log"
    with open(path, "wb") as log_file:
        proc = start(chatd_bin, log_file, "-v")
    try:
        deadline = time.monotonic() + 5
        while not re.search(r"listening on 127\.0\.0\.1:(\d+)", path.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None
            await asyncio.sleep(0.02)
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", path.read_text()).group(1))
        await chat(f"ws://127.0.0.1:{port}/", 1000)
    finally:
        status = stop(proc)
    assert status == 0
    log = path.read_text()
    assert sum(1 for line in log.splitlines() if MESSAGE_LINE.search(line)) == 1000
    assert log.splitlines()[-1].endswith("INFO stopped")


async def test_stderr_dev_null_is_served(chatd_bin):
    """epoll cannot watch /dev/null (EPERM): chatd writes to it directly and still serves."""
    with open(os.devnull, "wb") as null:
        proc = start(chatd_bin, null, "-v")
    try:
        port = await asyncio.to_thread(find_port, proc.pid)
        await chat(f"ws://127.0.0.1:{port}/", 200)
    finally:
        status = stop(proc)
    assert status == 0


def find_port(pid, timeout=5.0) -> int:
    """The TCP port a process listens on, from /proc (its log went to /dev/null)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open("/proc/net/tcp") as tcp:
            for row in tcp.readlines()[1:]:
                fields = row.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    return int(fields[1].split(":")[1], 16)
        time.sleep(0.02)
    raise AssertionError("chatd never listened")
