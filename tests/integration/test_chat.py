"""Broadcast, seen through the `websockets` library as an independent client."""

import asyncio
import os

import pytest

import wsraw
from wsclient import (
    assert_chatting,
    assert_nothing_received,
    clients,
    connect,
    recv,
    recv_many,
    wait_closed,
)

MiB = 1024 * 1024


async def test_message_reaches_every_other_client_but_not_sender(server):
    async with clients(server.url, 3) as (a, b, c):
        await a.send("hello from a")
        assert await recv(b) == "hello from a"
        assert await recv(c) == "hello from a"
        await assert_nothing_received(a)


async def test_echo_flag_sends_message_back_to_sender(echo_server):
    async with connect(echo_server.url) as a:
        await a.send("echo me")
        assert await recv(a) == "echo me"


async def test_echo_flag_still_broadcasts_to_others(echo_server):
    async with clients(echo_server.url, 2) as (a, b):
        await a.send("both")
        assert await recv(a) == "both"
        assert await recv(b) == "both"


async def test_single_client_without_echo_gets_nothing(server):
    async with connect(server.url) as a:
        await a.send("anyone?")
        await assert_nothing_received(a)


async def test_binary_message_keeps_binary_opcode(server):
    payload = bytes(range(256))
    async with clients(server.url, 2) as (a, b):
        await a.send(payload)
        received = await recv(b)
        assert isinstance(received, bytes)
        assert received == payload


async def test_text_message_keeps_text_opcode_and_unicode(server):
    message = "κόσμε – 日本語 – 🎉"
    async with clients(server.url, 2) as (a, b):
        await a.send(message)
        received = await recv(b)
        assert isinstance(received, str)
        assert received == message


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 65537, MiB])
async def test_binary_message_of_size_is_delivered_intact(server, size):
    payload = os.urandom(size)
    async with clients(server.url, 2) as (a, b):
        await a.send(payload)
        assert await recv(b) == payload


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, MiB])
async def test_text_message_of_size_is_delivered_intact(server, size):
    message = "é" * (size // 2) + "x" * (size % 2)  # exactly `size` bytes of UTF-8
    async with clients(server.url, 2) as (a, b):
        await a.send(message)
        assert await recv(b) == message


async def test_message_over_default_limit_closes_sender_1009(server):
    async with clients(server.url, 3) as (a, b, c):
        await a.send(bytes(MiB + 1))
        await wait_closed(a)
        assert a.close_code == 1009
        # Nothing of the oversized message may reach the others.
        await assert_chatting(b, c)


async def test_fragmented_text_message_arrives_whole(server):
    async with clients(server.url, 2) as (a, b):
        await a.send(["frag", "mented ", "", "message"])
        assert await recv(b) == "fragmented message"


async def test_fragmented_binary_message_arrives_whole(server):
    async with clients(server.url, 2) as (a, b):
        await a.send([b"\x00\x01", b"\x02" * 70000, b"\xff"])
        assert await recv(b) == b"\x00\x01" + b"\x02" * 70000 + b"\xff"


async def test_thousand_messages_arrive_in_order(server):
    count = 1000
    async with clients(server.url, 2) as (a, b):
        sent = [f"message {i}" for i in range(count)]
        sender = asyncio.create_task(send_all(a, sent))
        received = await recv_many(b, count)
        await sender
        assert received == sent


async def send_all(ws, messages):
    for message in messages:
        await ws.send(message)


async def test_two_concurrent_senders_keep_their_own_order(server):
    count = 300
    async with clients(server.url, 3) as (a, b, c):
        from_a = [f"a{i}" for i in range(count)]
        from_b = [f"b{i}" for i in range(count)]
        _, _, at_a, at_b, at_c = await asyncio.gather(
            send_all(a, from_a),
            send_all(b, from_b),
            recv_many(a, count),
            recv_many(b, count),
            recv_many(c, 2 * count),
        )
        assert at_a == from_b
        assert at_b == from_a
        assert [m for m in at_c if m.startswith("a")] == from_a
        assert [m for m in at_c if m.startswith("b")] == from_b


async def test_ping_is_answered_with_pong(server):
    async with connect(server.url) as a:
        pong = await a.ping(b"are you there")
        await asyncio.wait_for(pong, 5)


async def test_close_code_from_client_is_echoed(server):
    async with connect(server.url) as a:
        await a.close(code=4001, reason="x")
        assert a.close_code == 4001


async def test_normal_close_is_echoed_1000(server):
    async with connect(server.url) as a:
        await a.close()
        assert a.close_code == 1000


async def test_closed_client_leaves_and_others_keep_chatting(server):
    async with clients(server.url, 2) as (a, b):
        async with connect(server.url) as leaving:
            await a.send("before")
            assert await recv(leaving) == "before"
        await a.send("after")
        assert await recv(b) == "before"
        assert await recv(b) == "after"
        await assert_chatting(a, b)


async def test_abruptly_dropped_clients_do_not_disturb_others(server):
    async with clients(server.url, 2) as (a, b):
        # One drops right after the handshake, one in the middle of a frame.
        wsraw.open_websocket(server.port).sock.close()
        half = wsraw.open_websocket(server.port)
        half.send(wsraw.text("x" * 1000)[:500])
        half.sock.close()
        await assert_chatting(a, b)
        # A message sent to the dropped ones must not break delivery to the living.
        for i in range(20):
            await a.send(f"after drop {i}")
        assert await recv_many(b, 20) == [f"after drop {i}" for i in range(20)]


async def test_client_still_in_handshake_receives_nothing(server):
    key = wsraw.make_key()
    request = wsraw.handshake_request(key)
    async with clients(server.url, 2) as (a, b):
        pending = wsraw.RawConnection(server.port)
        with pending:
            pending.send(request[:-2])  # all but the blank line that ends the request
            await a.send("too early")
            assert await recv(b) == "too early"  # the broadcast has happened
            pending.send(request[-2:])
            wsraw.check_switching_protocols(await asyncio.to_thread(pending.read_http_head), key)
            await a.send("in time")
            assert await asyncio.to_thread(pending.recv_text) == "in time"


async def test_raw_and_library_clients_chat(server):
    async with connect(server.url) as a:
        with wsraw.open_websocket(server.port) as raw:
            raw.send(wsraw.text("from raw"))
            assert await recv(a) == "from raw"
            await a.send(b"from library")
            assert await asyncio.to_thread(raw.recv_message) == (wsraw.OP_BINARY, b"from library")


async def test_many_clients_all_receive(server):
    count = 20
    async with clients(server.url, count) as everyone:
        sender, receivers = everyone[0], everyone[1:]
        await sender.send("to all")
        received = await asyncio.gather(*(recv(r) for r in receivers))
        assert received == ["to all"] * (count - 1)


async def test_client_leaving_with_application_code_does_not_disturb_others(server):
    async with clients(server.url, 2) as (a, b):
        async with connect(server.url) as c:
            await c.close(code=3000, reason="leaving")
            assert c.close_code == 3000
        await assert_chatting(a, b)

