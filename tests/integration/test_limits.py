"""Limits and timeouts: what chatd does with clients that are slow, silent, greedy or many.

Each test names the row of README's "What chatd answers to bad input" table it backs.
"""

import asyncio
import os
import socket
import time

import wsclient
import wsraw


def test_request_head_over_8k_is_431(server):
    request = wsraw.http_request(raw_lines=[f"X-Filler-{i}: {'a' * 100}" for i in range(90)])
    assert len(request) > 8192
    response = wsraw.http_exchange(server.port, request)
    assert response.status == 431


def test_more_than_64_header_lines_is_431(server):
    request = wsraw.http_request(raw_lines=[f"X-{i}: 1" for i in range(65)])
    assert len(request) < 8192
    assert wsraw.http_exchange(server.port, request).status == 431


def test_incomplete_request_gets_408_after_handshake_timeout(chatd):
    server = chatd("--handshake-timeout", "500ms")
    with wsraw.RawConnection(server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        started = time.monotonic()
        response = conn.read_http_response()
        elapsed = time.monotonic() - started
    assert response.status == 408
    assert 0.4 <= elapsed < 3.0, elapsed


def test_silent_connection_is_closed_after_handshake_timeout(chatd):
    server = chatd("--handshake-timeout", "300ms")
    with wsraw.RawConnection(server.port) as conn:
        response = conn.read_http_response()
    assert response.status == 408


async def test_slowloris_does_not_stop_new_clients(chatd):
    """Many connections trickling a request byte by byte: new clients still chat, and the
    tricklers are cut off by the handshake timeout. All come from one address, so the
    per-address limit is lifted: this is about what 1000 stalled handshakes cost."""
    server = chatd("--handshake-timeout", "2s", "--max-per-ip", "0")
    tricklers = []
    try:
        for _ in range(1000):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"G")
            tricklers.append(s)
        for step in (b"E", b"T"):
            for s in tricklers:
                s.sendall(step)
            async with wsclient.clients(server.url, 2) as (a, b):
                await wsclient.assert_chatting(a, b)
        # Past the timeout every trickler got its 408 and was closed.
        await asyncio.sleep(2.5)
        for s in tricklers:
            s.settimeout(3)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 408 "), data[:60]
    finally:
        for s in tricklers:
            s.close()


def test_frame_announcing_2_pow_62_bytes_closes_1009_at_once(server):
    with wsraw.open_websocket(server.port) as conn:
        # The header alone: no payload follows. chatd must answer from the length.
        header = bytes([0x82, 0xFF]) + (1 << 62).to_bytes(8, "big") + b"\x01\x02\x03\x04"
        conn.send(header)
        code, _ = conn.expect_close()
    assert code == 1009


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def test_message_in_a_million_one_byte_fragments_costs_only_its_size(chatd):
    server = chatd("--echo")
    count = 1_000_000  # a 1,000,000-byte message, under the default 1 MiB limit
    one = wsraw.continuation(b"b", fin=False, mask_key=b"\0\0\0\0")
    data = bytearray(wsraw.text(b"a", fin=False)) + one * (count - 2) + wsraw.continuation(b"c")
    with wsraw.open_websocket(server.port) as conn:
        before = _rss_bytes(server.proc.pid)
        conn.send(bytes(data))
        opcode, payload = conn.recv_message()
        grew = _rss_bytes(server.proc.pid) - before
    assert opcode == wsraw.OP_TEXT
    assert payload == b"a" + b"b" * (count - 2) + b"c"
    # The reassembly buffer (up to twice the message while it grows), the echoed frame
    # and the read buffer: a few MiB, nothing proportional to the 7 MB of frames.
    assert grew < 6 * 1024 * 1024, f"RSS grew by {grew / 2**20:.1f} MiB"


def test_flood_of_empty_continuations_keeps_connection_usable(chatd):
    server = chatd("--echo")
    data = bytearray(wsraw.text(b"", fin=False))
    empty = wsraw.continuation(b"", fin=False)
    for _ in range(50_000):
        data += empty
    data += wsraw.continuation(b"done")
    with wsraw.open_websocket(server.port) as conn:
        conn.send(bytes(data))
        assert conn.recv_text() == "done"


async def test_upgrade_past_max_clients_is_503(chatd):
    server = chatd("--max-clients", "2")
    async with wsclient.clients(server.url, 2) as (a, b):
        response = wsraw.http_exchange(server.port, wsraw.handshake_request())
        assert response.status == 503
        await wsclient.assert_chatting(a, b)
    # Once they have left, there is room again.
    await asyncio.sleep(0.2)
    async with wsclient.clients(server.url, 2) as (a, b):
        await wsclient.assert_chatting(a, b)


def test_silent_client_gets_ping_then_is_dropped(chatd):
    server = chatd("--ping-interval", "300ms", "--idle-timeout", "1s")
    with wsraw.open_websocket(server.port) as conn:
        started = time.monotonic()
        first = conn.recv_frame()
        assert first.opcode == wsraw.OP_PING
        assert time.monotonic() - started >= 0.25
        # No pong: pings go on every 300 ms of silence (at 0.6 and 0.9 s), then the server
        # drops the connection at the idle timeout.
        rest = wsraw.parse_frames(conn.read_to_close(timeout=3.0))
        assert [f.opcode for f in rest] == [wsraw.OP_PING, wsraw.OP_PING]
        assert time.monotonic() - started >= 0.9
    server.wait_for_log(r"closed: code 1006, dropped: no frame within --idle-timeout")


def _pings_within(conn, seconds, answer):
    """Counts the pings that arrive within `seconds`, answering each when `answer`."""
    deadline = time.monotonic() + seconds
    pings = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return pings
        try:
            received = conn.recv_frame(timeout=remaining)
        except TimeoutError:
            return pings
        assert received.opcode == wsraw.OP_PING
        pings += 1
        if answer:
            conn.send(wsraw.pong(received.payload))


def test_pings_keep_time_without_an_idle_timeout(chatd):
    """--idle-timeout 0 must not stop the pings: one every --ping-interval of silence."""
    server = chatd("--ping-interval", "300ms", "--idle-timeout", "0")
    with wsraw.open_websocket(server.port) as conn:
        # Pings at 0.3, 0.6, ... 1.8 s; the seventh is due at 2.1 s. The wheel's 50 ms
        # ticks may make each one up to a tick late, never early.
        assert _pings_within(conn, 1.98, answer=False) == 6


def test_pings_keep_time_for_a_client_that_answers(chatd):
    """A pong resets the silence clock; the next ping comes one interval after it."""
    server = chatd("--ping-interval", "400ms", "--idle-timeout", "0")
    with wsraw.open_websocket(server.port) as conn:
        # Answered at once, each ping comes 400 ms (plus under a tick) after the previous:
        # at about 0.4, 0.8, 1.2 and 1.6 s, the fifth not before 2.0 s.
        assert _pings_within(conn, 1.95, answer=True) == 4


def test_client_answering_pings_stays_connected(chatd):
    server = chatd("--ping-interval", "200ms", "--idle-timeout", "600ms", "--echo")
    with wsraw.open_websocket(server.port) as conn:
        deadline = time.monotonic() + 2.0
        pings = 0
        while time.monotonic() < deadline:
            received = conn.recv_frame()
            assert received.opcode == wsraw.OP_PING
            pings += 1
            conn.send(wsraw.pong(received.payload))
        assert pings >= 3
        conn.send(wsraw.text(b"still here"))
        while True:
            received = conn.recv_frame()
            if received.opcode != wsraw.OP_PING:
                break
        assert received.payload == b"still here"


def test_client_that_never_answers_our_close_is_dropped_after_2s(chatd):
    server = chatd()
    with wsraw.open_websocket(server.port) as conn:
        conn.send(wsraw.frame(wsraw.OP_TEXT, b"x", mask=False))  # a protocol error
        started = time.monotonic()
        received = conn.recv_frame()
        assert received.opcode == wsraw.OP_CLOSE
        # The server shuts its side at once (we read EOF) but keeps reading ours, waiting
        # for our close; we never send it, so it lets go after its 2 s grace.
        assert conn.read_to_close(timeout=1.0) == b""
        server.wait_for_log(r"connection \d+ closed: code 1002", timeout=4.0)
        elapsed = time.monotonic() - started
    assert 1.8 <= elapsed < 3.5, elapsed


def test_ping_flood_from_a_client_that_does_not_read_is_bounded(chatd):
    """A client pinging a server it never reads from is owed one pong however many pings it
    sends, and is cut off as a slow reader once its queue stops moving (--send-timeout).
    Rate limits are off so that the pong path alone is what bounds it."""
    server = chatd("--rate-limit", "off", "--rate-limit-bytes", "off", "--send-timeout", "2s")
    conn = wsraw.open_websocket(server.port, rcvbuf=4096)
    try:
        pings = wsraw.ping(b"") * 100_000
        conn.sock.settimeout(0.5)
        try:
            for _ in range(200):
                conn.send(pings)
                if server.has_logged(r"cut off"):
                    break
        except OSError:
            pass  # our send buffer is full, or the server cut us off and closed
        server.wait_for_log(r"cut off: .*--send-timeout", timeout=15)
    finally:
        conn.sock.close()
    assert not server.has_logged(r"--max-backlog")


async def test_origin_not_allowed_is_403(chatd):
    server = chatd("--allow-origin", "https://chat.example.com")
    headers = wsraw.upgrade_headers()
    headers["Origin"] = "https://evil.example.net"
    response = wsraw.http_exchange(server.port, wsraw.http_request(headers=headers))
    assert response.status == 403
    headers = wsraw.upgrade_headers()  # no Origin at all
    assert wsraw.http_exchange(server.port, wsraw.http_request(headers=headers)).status == 403
    async with wsclient.clients(server.url, 2, origin="https://chat.example.com") as (a, b):
        await wsclient.assert_chatting(a, b)


async def test_any_origin_allowed_without_allow_origin(server):
    async with wsclient.clients(server.url, 2, origin="https://anything.example") as (a, b):
        await wsclient.assert_chatting(a, b)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_descriptor_exhaustion_neither_spins_nor_stops_service(chatd_bin):
    """With RLIMIT_NOFILE at 48, a flood of 150 connections exhausts chatd's descriptors:
    it must shed the excess without busy-looping, and serve normally once they go."""
    import resource
    import subprocess

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    proc = subprocess.Popen(
        [str(chatd_bin), "--port", "0", "--bind", "127.0.0.1", "--admin-listen", "off",
         "--max-per-ip", "0"],
        stderr=subprocess.PIPE,
        preexec_fn=low_limit,
    )
    try:
        line = b""
        while b"listening on" not in line:
            line = proc.stderr.readline()
            assert line, "chatd exited"
        port = int(line.rsplit(b":", 1)[1])
        flood = []
        for _ in range(150):
            try:
                flood.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                break
        await asyncio.sleep(0.3)
        before = _cpu_seconds(proc.pid)
        await asyncio.sleep(1.0)
        spent = _cpu_seconds(proc.pid) - before
        assert spent < 0.3, f"chatd used {spent:.2f} s of CPU in 1 s while out of descriptors"
        for s in flood:
            s.close()
        await asyncio.sleep(0.5)
        async with wsclient.clients(f"ws://127.0.0.1:{port}/", 2) as (a, b):
            await wsclient.assert_chatting(a, b)
    finally:
        proc.send_signal(2)
        assert proc.wait(5) == 0
        proc.stderr.close()
