"""The handler API (include/chatd.h) through the public header only: tests/api/recorder.c is
a program built on libchatd that prints a line per callback and obeys commands sent as
messages. Every way a connection can end must give exactly one on_close after its on_open,
with on_error first where there is an error to report, and nothing for it afterwards.

The clients are independent: Python's websockets and raw sockets."""

import asyncio
import re
import socket
import time

import websockets

import wsclient
import wsraw


def events(server, conn_id):
    """The callback lines for one connection, in order (the words after the id)."""
    out = []
    for line in list(server.out):
        words = line.split(" ")
        if len(words) >= 2 and words[1] == str(conn_id):
            out.append(words[0])
    return out


def assert_one_life(server, conn_id, errors=()):
    """open, then messages, then the listed errors, then exactly one close."""
    seen = events(server, conn_id)
    assert seen.count("open") == 1 and seen[0] == "open", seen
    assert seen.count("close") == 1 and seen[-1] == "close", seen
    got_errors = [line.split(" ")[2] for line in server.out
                  if line.startswith(f"error {conn_id} ")]
    assert got_errors == list(errors), (got_errors, server.out)
    if errors:
        assert seen.index("error") < seen.index("close")


def close_line(server, conn_id):
    return server.wait_for_out(rf"^close {conn_id} (\d+) send=(-?\d+)$", timeout=8)


def opened_id(server, nth=1):
    """The id of the nth connection opened (1-based)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        opens = [line for line in list(server.out) if line.startswith("open ")]
        if len(opens) >= nth:
            return int(opens[nth - 1].split(" ")[1])
        time.sleep(0.01)
    raise AssertionError(f"fewer than {nth} opens: {server.out}")


async def test_messages_flow_and_close_is_reported_once(program):
    server = program("recorder")
    async with wsclient.clients(server.url, 2) as (a, b):
        await a.send("hello")
        assert await wsclient.recv(b) == "hello"
        await a.send("!echo to myself")
        assert await wsclient.recv(a) == "to myself"
        await a.send("!all everyone")
        assert await wsclient.recv(a) == "everyone"
        assert await wsclient.recv(b) == "everyone"
        await a.send("!data")
        first = opened_id(server, 1)
        server.wait_for_out(rf"^data {first} ok$")
    for n in (1, 2):
        conn_id = opened_id(server, n)
        match = close_line(server, conn_id)
        assert match.group(1) == "1000" and match.group(2) == "-1"  # no send after close
        assert_one_life(server, conn_id)
    assert re.match(r"open \d+ rec / - 127\.0\.0\.1:\d+$", server.out[0])


async def test_subprotocol_picks_the_handler(program):
    server = program("recorder")
    async with wsclient.connect(server.url, subprotocols=["nope", "rec.v2"]) as ws:
        assert ws.subprotocol == "rec.v2"
        server.wait_for_out(r"^open \d+ rec\.v2 / rec\.v2 ")
    async with wsclient.connect(server.url, subprotocols=["unknown"]) as ws:
        assert ws.subprotocol is None
        server.wait_for_out(r"^open \d+ rec / - ")


async def test_handler_close_with_code_and_reason(program):
    server = program("recorder")
    async with wsclient.connect(server.url) as ws:
        await ws.send("!close 4001 bye now")
        await wsclient.wait_closed(ws)
        assert ws.close_code == 4001 and ws.close_reason == "bye now"
    conn_id = opened_id(server)
    assert close_line(server, conn_id).group(1) == "4001"
    assert_one_life(server, conn_id)


async def test_join_moves_between_rooms(program):
    server = program("recorder")
    async with wsclient.connect(server.url.rstrip("/") + "/a") as a, \
            wsclient.connect(server.url.rstrip("/") + "/b") as b:
        await a.send("!join /b")
        server.wait_for_out(r"^join \d+ 0 /b$")
        await a.send("now in b")
        assert await wsclient.recv(b) == "now in b"
        await a.send("!join not a room")
        server.wait_for_out(r"^join \d+ -1 /b$")


async def test_room_each_walks_the_open_clients_of_one_room(program):
    """chatd_room_each: every open client of the room once (both handlers' clients), none
    of another room's, none that has closed, and it stops when the callback says so."""
    server = program("recorder")
    url = server.url.rstrip("/")
    async with wsclient.connect(url + "/w") as a, wsclient.connect(url + "/w") as b, \
            wsclient.connect(url + "/w", subprotocols=["rec.v2"]) as c, \
            wsclient.connect(url + "/other"):
        ids = [opened_id(server, n) for n in (1, 2, 3)]
        async with wsclient.connect(url + "/w"):
            pass
        close_line(server, opened_id(server, 5))
        await a.send("!who 0")
        line = server.wait_for_out(rf"^who {ids[0]} (\d+)((?: \d+)*)$")
        assert int(line.group(1)) == 3
        assert sorted(int(x) for x in line.group(2).split()) == sorted(ids)
        await b.send("!who 2")
        line = server.wait_for_out(rf"^who {ids[1]} (\d+)((?: \d+)*)$")
        assert int(line.group(1)) == 2 and len(line.group(2).split()) == 2
        await c.close()


def test_reset_protocol_error_and_too_large(program):
    server = program("recorder", "--max-message", "1K")
    # A reset: the peer vanishes without a close frame.
    conn = wsraw.open_websocket(server.port)
    reset_id = opened_id(server, 1)
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    conn.sock.close()
    assert close_line(server, reset_id).group(1) == "1006"
    # A protocol error: an unmasked frame.
    conn = wsraw.open_websocket(server.port)
    proto_id = opened_id(server, 2)
    conn.send(wsraw.text(b"x", mask=False))
    conn.read_to_close()
    assert close_line(server, proto_id).group(1) == "1002"
    assert_one_life(server, proto_id, errors=["protocol"])
    # Too large.
    conn = wsraw.open_websocket(server.port)
    big_id = opened_id(server, 3)
    conn.send(wsraw.binary(b"y" * 2000))
    conn.read_to_close()
    assert close_line(server, big_id).group(1) == "1009"
    assert_one_life(server, big_id, errors=["too_large"])
    # The reset one: a connection error or none, but exactly one close.
    seen = events(server, reset_id)
    assert seen[0] == "open" and seen.count("close") == 1 and seen[-1] == "close", seen


def test_slow_reader_cut_off_reports_too_slow(program):
    server = program("recorder", "--max-backlog", "64K", "--max-message", "8K",
                     "--rate-limit", "off", "--rate-limit-bytes", "off")
    slow = wsraw.open_websocket(server.port, rcvbuf=4096)
    slow_id = opened_id(server, 1)
    sender = wsraw.open_websocket(server.port)
    payload = wsraw.binary(b"z" * 8000)
    deadline = time.monotonic() + 15
    while not any(line.startswith(f"close {slow_id} ") for line in server.out):
        assert time.monotonic() < deadline, "never cut off"
        sender.send(payload * 16)
    assert close_line(server, slow_id).group(1) == "1008"
    assert_one_life(server, slow_id, errors=["too_slow"])
    slow.sock.close()
    sender.sock.close()


def test_idle_timeout_reports_idle(program):
    server = program("recorder", "--ping-interval", "200ms", "--idle-timeout", "500ms")
    conn = wsraw.open_websocket(server.port)
    conn_id = opened_id(server)
    assert close_line(server, conn_id).group(1) == "1006"
    assert_one_life(server, conn_id, errors=["idle"])
    conn.sock.close()


async def test_shutdown_closes_every_client_once(program):
    server = program("recorder")
    async with wsclient.clients(server.url, 3):
        ids = [opened_id(server, n) for n in (1, 2, 3)]
        assert server.terminate() == 0
    for conn_id in ids:
        assert close_line(server, conn_id).group(1) == "1001"
        assert_one_life(server, conn_id)
    server.wait_for_out(r"^exit 0$")


async def test_chatd_stop_from_a_handler(program):
    server = program("recorder")
    async with wsclient.connect(server.url) as ws:
        await ws.send("!stop")
        await wsclient.wait_closed(ws)
        assert ws.close_code == 1001
    server.wait_for_out(r"^exit 0$")
    assert_one_life(server, opened_id(server))


async def test_tutorial_mychat_example(program):
    server = program("mychat")
    async with wsclient.clients(server.url, 3) as (a, b, c):
        await a.send("hello from a")
        assert await wsclient.recv(b) == "hello from a"
        assert await wsclient.recv(c) == "hello from a"
        await wsclient.assert_nothing_received(a)


async def test_commands_example(program):
    server = program("commands")
    async with wsclient.connect(server.url) as a:
        assert (await wsclient.recv(a)).startswith("* welcome, guest")
        async with wsclient.connect(server.url) as b:
            assert (await wsclient.recv(b)).startswith("* welcome, guest")
            assert re.match(r"\* guest\d+ joined /$", await wsclient.recv(a))
            await a.send("/nick alice")
            assert re.match(r"\* guest\d+ is now known as alice$", await wsclient.recv(b))
            assert re.match(r"\* guest\d+ is now known as alice$", await wsclient.recv(a))
            await b.send("/nick alice")
            assert await wsclient.recv(b) == "* alice is taken in this room"
            await b.send("/nick bob")
            await wsclient.recv(a)
            await wsclient.recv(b)
            await a.send("/me waves")
            assert await wsclient.recv(b) == "* alice waves"
            assert await wsclient.recv(a) == "* alice waves"
            await a.send("hi bob")
            assert await wsclient.recv(b) == "alice: hi bob"
            await b.send("/who")
            assert sorted((await wsclient.recv(b)).split(":")[1].split()) == ["alice", "bob"]
            await b.send("/nick bad name!")
            assert (await wsclient.recv(b)).startswith("* a name is")
        assert await wsclient.recv(a) == "* bob left"
