"""Command line: --help, --version, usage errors (exit 2), cannot-run errors (exit 1),
size suffixes, the verbosity flags and the log line format."""

import asyncio
import re
import socket
import subprocess

import pytest

import wsraw
from wsclient import assert_chatting, clients

RUN_TIMEOUT = 5


def run(chatd_bin, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(chatd_bin), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )


def test_help_prints_usage_to_stdout_and_exits_0(chatd_bin):
    result = run(chatd_bin, "--help")
    assert result.returncode == 0, result.stderr
    assert re.search(r"usage", result.stdout, re.IGNORECASE), result.stdout
    for flag in ("--port", "--bind", "--echo", "--max-message", "--max-clients", "--version"):
        assert flag in result.stdout, f"{flag} missing from --help"


def test_version_prints_name_and_version_and_exits_0(chatd_bin):
    result = run(chatd_bin, "--version")
    assert result.returncode == 0, result.stderr
    assert re.match(r"chatd \d+\.\d+\.\d+\b", result.stdout), result.stdout


@pytest.mark.parametrize(
    "args, named",
    [
        (["--bogus"], "--bogus"),
        (["--port", "70000"], "70000"),
        (["--port", "65536"], "65536"),
        (["--port", "-1"], "-1"),
        (["--port", "abc"], "abc"),
        (["--port"], "--port"),
        (["--max-message", "12Q"], "12Q"),
        (["--max-message", "abc"], "abc"),
        (["--max-message", "0"], "0"),
        (["--max-message"], "--max-message"),
        (["--max-clients", "many"], "many"),
        (["--bind"], "--bind"),
        (["--admin-listen", "9181"], "9181"),
        (["--admin-listen", "127.0.0.1:65536"], "127.0.0.1:65536"),
        (["--admin-listen", ":9181"], ":9181"),
        (["--admin-listen", "::1:9181"], "::1:9181"),
        (["--admin-listen", "on"], "on"),
        (["--max-per-ip", "-1"], "-1"),
        (["--max-per-ip", "lots"], "lots"),
        (["--max-handshakes", "1k"], "1k"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_usage_error_exits_2_with_one_line_naming_the_problem(chatd_bin, args, named):
    result = run(chatd_bin, *args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    assert lines[0].startswith("chatd: "), lines[0]
    assert named in lines[0], f"message does not name {named!r}: {lines[0]!r}"


def test_listen_failure_exits_1_naming_address_and_error(chatd_bin):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(chatd_bin, "--port", str(port), "--bind", "127.0.0.1")
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Address already in use" in result.stderr, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr, result.stderr


def test_admin_listen_failure_exits_1_naming_the_flag(chatd_bin):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            chatd_bin, "--port", "0", "--bind", "127.0.0.1", "--admin-listen", f"127.0.0.1:{port}"
        )
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert f"127.0.0.1:{port}" in result.stderr, result.stderr
    assert "--admin-listen" in result.stderr, result.stderr
    assert "Address already in use" in result.stderr, result.stderr


def test_size_suffix_G_M_accepted(chatd):
    for size in ("16M", "1G"):
        server = chatd("--max-message", size)
        response = wsraw.http_exchange(server.port, wsraw.http_request())
        assert response.status == 200


def test_size_suffix_K_means_1024(chatd):
    server = chatd("--echo", "--max-message", "1K")
    with wsraw.open_websocket(server.port) as conn:
        conn.send(wsraw.binary(b"k" * 1024))
        assert conn.recv_message() == (wsraw.OP_BINARY, b"k" * 1024)
        conn.send(wsraw.binary(b"k" * 1025))
        assert conn.expect_close()[0] == 1009


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_verbose_flag_runs_server(chatd, flag):
    server = chatd(flag, "--echo")
    with wsraw.open_websocket(server.port) as conn:
        conn.send(wsraw.text("loud"))
        assert conn.recv_text() == "loud"


@pytest.mark.parametrize("flag", ["-q", "--quiet"])
def test_quiet_flag_runs_server(chatd, flag):
    # Quiet may drop the "listening on" line, so the port is chosen here instead of by
    # the kernel; the small window in which another process could take it is acceptable.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = chatd(flag, "--echo", port=port)
    with wsraw.open_websocket(server.port) as conn:
        conn.send(wsraw.text("hush"))
        assert conn.recv_text() == "hush"
    assert not [line for line in server.logs if " INFO " in line or " DEBUG " in line]


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z [A-Z]+ \S.*$")


def test_every_log_line_has_timestamp_level_message(chatd):
    server = chatd("-v")
    with wsraw.open_websocket(server.port) as conn:
        conn.send(wsraw.close(1000))
        conn.expect_close()
    wsraw.http_exchange(server.port, b"garbage\r\n\r\n")
    assert server.terminate() == 0
    assert server.logs, "chatd logged nothing"
    bad = [line for line in server.logs if not LOG_LINE.match(line)]
    assert not bad, f"log lines not in '<timestamp> <LEVEL> <message>' form: {bad}"


async def test_max_clients_refuses_extra_websocket_with_503(chatd):
    server = chatd("--max-clients", "2")
    async with clients(server.url, 2) as (a, b):
        refused = await asyncio.to_thread(
            wsraw.http_exchange, server.port, wsraw.handshake_request()
        )
        assert refused.status == 503, refused.head
        await assert_chatting(a, b)
        await a.close()
    # Both slots are free again.
    async with clients(server.url, 2) as (a, b):
        await assert_chatting(a, b)
