"""The operator's endpoints off the public port: /metrics and /stats on --admin-listen only,
the public port keeps /healthz, the page and a per-room count that names no other room."""

import json
import re
import socket
import time
import urllib.error
import urllib.request

import pytest

import wsclient
import wsraw
from conftest import ADMIN_LISTENING


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_metrics_and_stats_are_served_on_the_admin_port_only(server):
    assert server.admin_port not in (None, server.port)
    for path in ["/metrics", "/stats"]:
        status, _, body = get(server.port, path)
        assert status == 404, (path, status)
        assert b"admin" in body
        status, _, body = get(server.admin_port, path)
        assert status == 200, (path, status)
    assert get(server.port, "/healthz")[::2] == (200, b"ok\n")
    assert get(server.admin_port, "/healthz")[::2] == (200, b"ok\n")


def test_admin_port_serves_nothing_else(server):
    for path in ["/", "/lobby", "/online/", "/metrics/x", "/Stats"]:
        assert get(server.admin_port, path)[0] == 404, path
    # No WebSocket on the admin port: the upgrade headers are ignored there.
    response = wsraw.http_exchange(server.admin_port, wsraw.handshake_request(path="/metrics"))
    assert response.status == 200 and response.body.startswith(b"# HELP")
    response = wsraw.http_exchange(server.admin_port, wsraw.handshake_request(path="/"))
    assert response.status == 404
    response = wsraw.http_exchange(server.admin_port, wsraw.http_request("POST", "/metrics"))
    assert response.status == 405


def test_admin_listen_off_opens_no_second_port(chatd):
    server = chatd("--admin-listen", "off")
    assert not server.has_logged(r"admin listening")
    pid = server.proc.pid
    # Exactly one listening socket: read the process's sockets from /proc.
    inodes = set()
    for fd in __import__("os").listdir(f"/proc/{pid}/fd"):
        try:
            target = __import__("os").readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    listening = 0
    for table in ["/proc/net/tcp", "/proc/net/tcp6"]:
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    listening += 1
    assert listening == 1
    assert get(server.port, "/metrics")[0] == 404


def test_admin_port_zero_is_logged_like_the_main_port(chatd):
    server = chatd("--admin-listen", "127.0.0.1:0")
    port = int(server.wait_for_log(ADMIN_LISTENING).group(1))
    assert port == server.admin_port and port != server.port
    assert get(port, "/healthz")[0] == 200


async def test_online_count_answers_for_the_room_asked_only(server):
    base = f"ws://127.0.0.1:{server.port}"
    status, headers, body = get(server.port, "/online/secret-room")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"room": "/secret-room", "clients": 0}
    async with wsclient.clients(f"{base}/secret-room", 3), wsclient.clients(f"{base}/", 2):
        assert json.loads(get(server.port, "/online/secret-room")[2]) == {
            "room": "/secret-room",
            "clients": 3,
        }
        assert json.loads(get(server.port, "/online/")[2]) == {"room": "/", "clients": 2}
        assert json.loads(get(server.port, "/online/other")[2]) == {"room": "/other", "clients": 0}
        # Nothing on the public port names a room that was not asked for.
        for path in ["/online", "/online/", "/online/other", "/stats", "/metrics", "/healthz"]:
            assert b"secret-room" not in get(server.port, path)[2], path
    for path in ["/online/a/b", "/online//", "/online/" + "x" * 64, "/onlinex"]:
        status, _, body = get(server.port, path)
        # /onlinex and /online are rooms like any other: their page.
        assert status == (200 if path == "/onlinex" else 404), path


def _fd_count(pid):
    return len(__import__("os").listdir(f"/proc/{pid}/fd"))


def test_metrics_gauges_follow_connections_without_walking_them(chatd):
    """process_open_fds and chatd_connections_open move by one per connection, kept up to
    date as connections come and go rather than counted on each scrape."""
    from test_service import metrics

    server = chatd()
    before = metrics(server)
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    try:
        deadline = time.monotonic() + 5
        while True:
            during = metrics(server)
            if during["chatd_connections_open"] - before["chatd_connections_open"] == 20:
                break
            assert time.monotonic() < deadline, during
            time.sleep(0.02)
        assert during["process_open_fds"] - before["process_open_fds"] == 20
        assert during["chatd_connections_handshaking"] == 20
        assert during["chatd_source_addresses"] == 1
        # The gauge agrees with the kernel's count (the scrape's own connection included).
        assert abs(during["process_open_fds"] - _fd_count(server.proc.pid)) <= 1
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 5
    while metrics(server)["chatd_connections_handshaking"] != 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    after = metrics(server)
    assert after["chatd_source_addresses"] == 0  # admin connections are not counted by address
    assert after["process_open_fds"] == before["process_open_fds"]


def test_admin_listener_has_its_own_small_allowance(chatd):
    """16 connections at once on the admin listener, counted apart from the chat port's
    limits: the 17th is closed at once, and neither port's limits touch the other."""
    server = chatd("--max-per-ip", "2")
    held = [socket.create_connection(("127.0.0.1", server.admin_port)) for _ in range(16)]
    try:
        extra = socket.create_connection(("127.0.0.1", server.admin_port), timeout=5)
        extra.settimeout(1.0)
        try:
            assert extra.recv(100) == b""
        except ConnectionResetError:
            pass
        extra.close()
        # The chat port's own allowance for 127.0.0.1 is untouched by the 16.
        with wsraw.open_websocket(server.port) as a, wsraw.open_websocket(server.port) as b:
            a.send(wsraw.text(b"hi"))
            assert b.recv_text() == "hi"
    finally:
        for s in held:
            s.close()
    from test_service import metrics

    deadline = time.monotonic() + 5
    while True:
        try:
            m = metrics(server)
            break
        except (OSError, urllib.error.URLError):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert m["chatd_connections_refused_total{limit=admin}"] == 1
    assert m["chatd_connections_refused_total{limit=max_per_ip}"] == 0
