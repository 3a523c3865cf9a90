"""Running chatd as a service: health, metrics and stats (on the admin listener), systemd
notification, JSON logs."""

import json
import os
import socket
import tempfile
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import wsclient
import wsraw


def get(server, path, port=None):
    port = port or server.port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.status, r.headers, r.read()


def metrics(server) -> dict:
    """The samples of /metrics, from the admin listener, read with Prometheus' own parser."""
    status, headers, body = get(server, "/metrics", server.admin_port)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body.decode("utf-8")):
        assert family.documentation, f"{family.name} has no HELP"
        for s in family.samples:
            key = s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items()))
            samples[key] = s.value
    return samples


def test_healthz_says_ok(server):
    status, headers, body = get(server, "/healthz")
    assert (status, body) == (200, b"ok\n")


def test_metrics_parse_and_count(chatd):
    server = chatd("--echo")
    before = metrics(server)
    for name in [
        "chatd_connections_open",
        "chatd_connections_accepted_total",
        "chatd_messages_received_total",
        "chatd_bytes_received_total",
        "chatd_frames_delivered_total",
        "chatd_bytes_sent_total",
        "chatd_backpressure_drops_total",
        "chatd_write_rounds_split_total",
        "chatd_rooms_open",
        "process_resident_memory_bytes",
        "process_open_fds",
        "chatd_close_codes_sent_total{code=1002}",
        "chatd_handshakes_failed_total{status=400}",
        "chatd_handshakes_failed_total{status=500}",
        "chatd_log_lines_dropped_total",
        "chatd_handshakes_failed_total{status=503}",
        "chatd_connections_handshaking",
        "chatd_source_addresses",
        "chatd_connections_refused_total{limit=max_per_ip}",
        "chatd_connections_refused_total{limit=max_handshakes}",
        "chatd_connections_refused_total{limit=admin}",
        "chatd_connections_refused_total{limit=out_of_memory}",
    ]:
        assert name in before, name
    # The scrape's own connection is on the admin listener: no public connection yet.
    assert before["chatd_connections_handshaking"] == 0
    assert before["chatd_source_addresses"] == 0
    assert before["process_resident_memory_bytes"] > 1_000_000
    assert before["process_open_fds"] >= 4

    assert wsraw.http_exchange(server.port, wsraw.http_request(headers={})).status == 400
    with wsraw.open_websocket(server.port, path="/m") as conn:
        conn.send(wsraw.text(b"hello"))
        assert conn.recv_text() == "hello"
        during = metrics(server)
        conn.send(wsraw.frame(wsraw.OP_TEXT, b"x", mask=False))
        assert conn.expect_close()[0] == 1002
    after = metrics(server)

    assert during["chatd_rooms_open"] == 1
    assert during["chatd_clients_open"] == 1
    assert during["chatd_messages_received_total"] == before["chatd_messages_received_total"] + 1
    assert during["chatd_frames_delivered_total"] >= before["chatd_frames_delivered_total"] + 1
    assert after["chatd_handshakes_failed_total{status=400}"] == 1
    assert after["chatd_close_codes_sent_total{code=1002}"] == 1
    assert after["chatd_rooms_open"] == 0
    assert during["chatd_source_addresses"] == 1  # the open client, from 127.0.0.1
    # Counters never go down.
    for key, value in before.items():
        if key.endswith("_total") or "_total{" in key:
            assert after[key] >= value, key


def test_head_on_endpoints_sends_no_body(server):
    for port, path in [
        (server.port, "/healthz"),
        (server.port, "/online/"),
        (server.admin_port, "/healthz"),
        (server.admin_port, "/metrics"),
        (server.admin_port, "/stats"),
    ]:
        response = wsraw.http_exchange(port, wsraw.http_request("HEAD", path))
        assert response.status == 200
        assert int(response.headers["content-length"]) > 0
        assert response.body == b""


def test_notify_socket_gets_ready_and_stopping(chatd):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(5)
        os.environ["NOTIFY_SOCKET"] = path
        try:
            server = chatd()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        assert sock.recv(256) == b"READY=1"
        assert server.terminate() == 0
        assert sock.recv(256) == b"STOPPING=1"
        sock.close()


def test_notify_socket_abstract_namespace(chatd):
    name = f"@chatd-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.settimeout(5)
    os.environ["NOTIFY_SOCKET"] = name
    try:
        chatd()
    finally:
        del os.environ["NOTIFY_SOCKET"]
    assert sock.recv(256) == b"READY=1"
    sock.close()


async def test_json_logs_are_one_object_per_line(chatd):
    server = chatd("--log-format", "json")
    async with wsclient.clients(server.url, 2) as (a, b):
        await wsclient.assert_chatting(a, b)
    server.terminate()
    assert server.logs
    for line in server.logs:
        record = json.loads(line)
        assert set(record) == {"ts", "level", "msg"}
        assert record["level"] in {"error", "warn", "info", "debug"}
        assert record["ts"].endswith("Z")
    messages = [json.loads(line)["msg"] for line in server.logs]
    assert any(m.startswith("connection 1 opened from 127.0.0.1:") for m in messages)
    assert any(m.startswith("connection 1 closed: code 1000") for m in messages)


@pytest.mark.parametrize(
    "flag", ["--log-format=xml", "--handshake-timeout=0", "--ping-interval=abc", "--busy-poll=20000"]
)
def test_service_flags_reject_bad_values(chatd_bin, flag):
    import subprocess

    result = subprocess.run([str(chatd_bin), flag], capture_output=True, timeout=5)
    assert result.returncode == 2
    assert result.stderr.startswith(b"chatd: ")
    assert result.stderr.count(b"\n") == 1


def test_refused_head_request_has_no_body(server):
    for path, status in [("/a/b", 404), ("/x%20y", 404)]:
        response = wsraw.http_exchange(server.port, wsraw.http_request("HEAD", path))
        assert response.status == status
        assert int(response.headers["content-length"]) > 0
        assert response.body == b""


async def test_busy_poll_serves_as_usual(chatd):
    server = chatd("--busy-poll", "50")
    async with wsclient.clients(server.url, 2) as (a, b):
        for _ in range(20):
            await wsclient.assert_chatting(a, b)
