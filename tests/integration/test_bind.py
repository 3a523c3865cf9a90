"""Where chatd listens: dual-stack [::] by default (IPv6 and IPv4 on one socket), or the
one address given with --bind."""

import re
import signal
import socket
import subprocess

import pytest

import wsclient

LISTENING = re.compile(rb"listening on (\S+):(\d+)")


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def start(chatd_bin, *args):
    proc = subprocess.Popen(
        [str(chatd_bin), "--port", "0", "--admin-listen", "off", *args], stderr=subprocess.PIPE
    )
    for _ in range(20):
        line = proc.stderr.readline()
        match = LISTENING.search(line)
        if match:
            return proc, match.group(1).decode(), int(match.group(2))
    proc.kill()
    raise AssertionError("chatd did not say where it listens")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    proc.stderr.close()


@pytest.mark.skipif(not ipv6_available(), reason="IPv6 is off on this machine")
async def test_default_listens_dual_stack_on_ipv6_and_ipv4(chatd_bin):
    proc, host, port = start(chatd_bin)
    try:
        assert host == "[::]"
        async with wsclient.clients(f"ws://127.0.0.1:{port}/", 1) as (a,), wsclient.clients(
            f"ws://[::1]:{port}/", 1
        ) as (b,):
            await wsclient.assert_chatting(a, b)
    finally:
        stop(proc)


@pytest.mark.skipif(not ipv6_available(), reason="IPv6 is off on this machine")
async def test_bind_ipv6_loopback_only(chatd_bin):
    proc, host, port = start(chatd_bin, "--bind", "::1")
    try:
        assert host == "[::1]"
        async with wsclient.clients(f"ws://[::1]:{port}/", 2) as (a, b):
            await wsclient.assert_chatting(a, b)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        stop(proc)


def test_bind_to_an_address_that_is_not_ours_exits_1(chatd_bin):
    result = subprocess.run(
        [str(chatd_bin), "--port", "0", "--bind", "192.0.2.1"], capture_output=True, timeout=5
    )
    assert result.returncode == 1
    assert result.stderr.startswith(b"chatd: cannot listen on 192.0.2.1:0: ")
