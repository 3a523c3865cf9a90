"""Limits that count every connection, not only WebSocket clients: --max-per-ip (per source
address), --max-handshakes (process-wide), what a refused connection sees, the log and the
metrics, and what connections that never finish their request cost in memory."""

import os
import signal
import socket
import time

import pytest

import wsraw
from test_service import metrics

SANITIZED = bool(os.environ.get("CHATD_SANITIZED"))
# Refused means closed at once: well before any timeout of chatd's.
CLOSED_AT_ONCE = 1.0


def connect(port, source=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                 source_address=(source, 0) if source else None)
    return s


def assert_closed_at_once(s):
    """The server closes (or resets) the connection without a byte, within CLOSED_AT_ONCE."""
    s.settimeout(CLOSED_AT_ONCE)
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        raise AssertionError(f"connection still open after {CLOSED_AT_ONCE} s") from None
    assert data == b"", data[:80]


def wait_for(server, key, value, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(server)
        if m.get(key) == value:
            return m
        assert time.monotonic() < deadline, f"{key} = {m.get(key)}, want {value}"
        time.sleep(0.02)


def test_sixth_connection_from_one_address_is_closed_while_another_address_chats(chatd):
    server = chatd("--max-per-ip", "5", "--echo")
    held = [wsraw.open_websocket(server.port) for _ in range(3)]
    held += [connect(server.port) for _ in range(2)]  # still in their handshake: they count
    try:
        wait_for(server, "chatd_connections_handshaking", 2)
        sixth = connect(server.port)
        assert_closed_at_once(sixth)
        sixth.close()
        # Another address is not affected (loopback answers on all of 127/8).
        with wsraw.open_websocket(server.port, "/other", source="127.0.0.2") as other:
            other.send(wsraw.text(b"from 127.0.0.2"))
            assert other.recv_text() == "from 127.0.0.2"
        # The five already in are not disturbed.
        held[0].send(wsraw.text(b"still here"))
        assert held[0].recv_text() == "still here"
        # One goes, one more may come.
        held.pop().close()
        wait_for(server, "chatd_connections_handshaking", 1)
        with wsraw.open_websocket(server.port) as again:
            again.send(wsraw.text(b"back in"))
            assert again.recv_text() == "back in"
    finally:
        for c in held:
            (c.sock if hasattr(c, "sock") else c).close()
    m = metrics(server)
    assert m['chatd_connections_refused_total{limit=max_per_ip}'] == 1
    assert m['chatd_connections_refused_total{limit=max_handshakes}'] == 0
    assert server.has_logged(r"refused: 5 connections from this address \(--max-per-ip\)")


def test_over_the_limit_with_a_request_already_sent_gets_503(chatd):
    server = chatd("--max-per-ip", "1")
    with connect(server.port) as first:
        wait_for(server, "chatd_connections_handshaking", 1)
        # Stop chatd so the request is in the socket before chatd accepts the connection.
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            second = wsraw.RawConnection(server.port)
            second.send(wsraw.handshake_request())
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        with second:
            response = second.read_http_response()
        assert response.status == 503, response.head
        assert response.headers.get("retry-after") == "5"
        assert b"--max-per-ip" in response.body
        assert first.fileno() >= 0
    m = metrics(server)
    assert m['chatd_connections_refused_total{limit=max_per_ip}'] == 1
    assert m['chatd_handshakes_failed_total{status=503}'] == 1


def test_handshake_cap_closes_new_connections_at_once_and_frees_on_upgrade(chatd):
    server = chatd("--max-handshakes", "3", "--max-per-ip", "0", "--echo")
    with wsraw.open_websocket(server.port) as chatting:
        silent = [connect(server.port) for _ in range(3)]
        try:
            wait_for(server, "chatd_connections_handshaking", 3)
            for _ in range(3):
                extra = connect(server.port, source="127.0.0.3")  # any address: process-wide
                assert_closed_at_once(extra)
                extra.close()
            # An open client is not in its handshake: it keeps chatting.
            chatting.send(wsraw.text(b"unaffected"))
            assert chatting.recv_text() == "unaffected"
            silent.pop().close()
            wait_for(server, "chatd_connections_handshaking", 2)
            # A handshake that completes gives its slot back at once.
            with wsraw.open_websocket(server.port, "/a") as a, wsraw.open_websocket(
                server.port, "/b"
            ) as b:
                a.send(wsraw.text(b"a"))
                assert a.recv_text() == "a"
                b.send(wsraw.text(b"b"))
                assert b.recv_text() == "b"
        finally:
            for s in silent:
                s.close()
    m = metrics(server)
    assert m['chatd_connections_refused_total{limit=max_handshakes}'] == 3
    assert server.has_logged(r"refused: 3 connections in their handshake \(--max-handshakes\)")


def test_refusals_are_logged_at_most_once_a_second(chatd):
    server = chatd("--max-per-ip", "1")
    with connect(server.port):
        wait_for(server, "chatd_connections_handshaking", 1)
        start = time.monotonic()
        for _ in range(200):
            s = connect(server.port)
            s.close()
        m = wait_for(server, "chatd_connections_refused_total{limit=max_per_ip}", 200)
        elapsed = time.monotonic() - start
        lines = [line for line in server.logs if "refused: 1 connections" in line]
        assert len(lines) <= 1 + int(elapsed), (elapsed, lines)
        # The next line, a second later, says how many went unlogged.
        time.sleep(1.1)
        connect(server.port).close()
        line = server.wait_for_log(r"refused: .*and (\d+) more refused, not logged")
        assert int(line.group(1)) >= 200 - len(lines) - int(elapsed)
    assert m["chatd_connections_refused_total{limit=max_per_ip}"] == 200


def _rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize(
    "sent, per_conn_bound",
    [(b"", 1024), (b"GET /lob", 1536)],
    ids=["nothing sent", "half a request line"],
)
def test_memory_of_a_thousand_stalled_handshakes(chatd, sent, per_conn_bound):
    """1000 connections that sent nothing, or half a request line, then wait: chatd holds
    no 8 KiB request buffer for them (a buffer grows with what arrived). Prints the figure."""
    n = 1000
    server = chatd("--max-per-ip", "0", "--max-handshakes", "0", "--handshake-timeout", "30s")
    pid = server.proc.pid
    # A few connections first, so the allocator's first arenas are not counted.
    warm = [connect(server.port) for _ in range(20)]
    wait_for(server, "chatd_connections_handshaking", 20)
    before = _rss_kib(pid)
    socks = []
    try:
        for _ in range(n):
            s = connect(server.port)
            if sent:
                s.sendall(sent)
            socks.append(s)
        wait_for(server, "chatd_connections_handshaking", n + 20)
        time.sleep(0.2)  # the half lines are read
        metrics(server)
        grown = _rss_kib(pid) - before
        per_conn = grown * 1024 / n
        print(f"\nRSS growth for {n} connections that sent {sent!r}: {grown} KiB, "
              f"{per_conn:.0f} bytes each")
        if not SANITIZED:  # ASan's redzones and quarantine change every figure
            assert per_conn < per_conn_bound, f"{per_conn:.0f} bytes per connection"
    finally:
        for s in socks + warm:
            s.close()


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_available(), reason="IPv6 is off on this machine")
def test_ipv4_through_a_dual_stack_socket_counts_per_ipv4_address(chatd_bin):
    """On the default dual-stack [::] socket IPv4 peers arrive as ::ffff:a.b.c.d: each must
    count as its own IPv4 address (not all of IPv4 as one /64), and ::1 apart from them."""
    import re
    import subprocess

    proc = subprocess.Popen(
        [str(chatd_bin), "--port", "0", "--admin-listen", "off", "--max-per-ip", "2"],
        stderr=subprocess.PIPE,
    )
    held = []
    try:
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, "chatd exited"
            m = re.search(rb"listening on \[::\]:(\d+)", line)
            port = int(m.group(1)) if m else None
        held = [connect(port) for _ in range(2)]
        third = connect(port)
        assert_closed_at_once(third)
        third.close()
        # Another IPv4 address, and IPv6 loopback, each have their own allowance.
        with wsraw.open_websocket(port, "/a", source="127.0.0.2"), wsraw.open_websocket(port, "/b", source="127.0.0.2"):
            pass
        with wsraw.RawConnection(port, host="::1") as v6:
            v6.send(wsraw.handshake_request())
            assert v6.read_http_head().status == 101
    finally:
        for s in held:
            s.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        proc.stderr.close()


def test_one_address_cannot_hold_hundreds_of_connections_by_default(chatd):
    """The issue's figure: with --max-clients 1 one address held 801 connections. Now the
    default --max-per-ip (64) counts every connection, WebSocket or not, and --max-clients
    still refuses a second client with 503."""
    server = chatd("--max-clients", "1")
    with wsraw.open_websocket(server.port) as client:
        socks = []
        try:
            for _ in range(100):
                socks.append(connect(server.port))
            m = wait_for(server, "chatd_connections_refused_total{limit=max_per_ip}", 37)
            assert m["chatd_connections_handshaking"] == 63
            assert m["chatd_source_addresses"] == 1
            # Another address may connect, and --max-clients still answers its upgrade.
            with wsraw.RawConnection(server.port, source="127.0.0.2") as second:
                second.send(wsraw.handshake_request())
                response = second.read_http_response()
            assert response.status == 503 and b"--max-clients" in response.body
            client.send(wsraw.text(b"still open"))
        finally:
            for s in socks:
                s.close()
