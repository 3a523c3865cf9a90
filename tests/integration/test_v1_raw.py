"""Raw clients and chatd.v1 clients in one room, by default (docs/PROTOCOL.md, "Raw clients
and v1 clients"): a raw client's line is a v1 message from raw-<id>, a v1 message is a
"name: text" line to raw clients, raw clients come and go with exact counts and are listed
in welcomes, binary stays raw; a room of raw clients alone is the plain broadcast, byte for
byte; and raw clients cost the v1 handler no memory.

The clients are independent: Python's websockets with and without the subprotocol
"chatd.v1", and raw sockets where the exact bytes on the wire matter."""

import asyncio
import contextlib
import json
import re
import subprocess

import wsclient
import wsraw
from test_v1 import client_memory, expect, raw, say, v1, welcomed


def raw_name(join):
    """The name a join frame gives a raw client, checked against its id."""
    assert join["name"] == f"raw-{join['id']}", join
    return join["name"]


async def test_a_raw_line_is_a_v1_message_with_the_next_id(chatd):
    server = chatd()
    async with v1(server, "/m", "ann") as ann, raw(server, "/m") as r1:
        await welcomed(ann)
        name = raw_name(await expect(ann, "join", count=2))
        async with raw(server, "/m") as r2:
            await expect(ann, "join", count=3)
            ids = []
            for text in ("one", "two", 'three "quoted" \u00e9\n'):
                await r1.send(text)
                assert await wsclient.recv(r2) == text  # unchanged for raw clients
                m = await expect(ann, "message", name=name, text=text)
                assert "history" not in m and m["time"] > 0
                ids.append(m["id"])
            # A v1 message takes the next id, and reaches raw clients as "name: text".
            await say(ann, "hi scripts")
            ids.append((await expect(ann, "message", name="ann", text="hi scripts"))["id"])
            assert ids == [1, 2, 3, 4]
            assert await wsclient.recv(r1) == "ann: hi scripts"
            assert await wsclient.recv(r2) == "ann: hi scripts"
            # The raw sender does not get its own line back (no --echo), nor any JSON.
            await wsclient.assert_nothing_received(r1)
            # The next v1 client finds the raw lines in the history, under raw-<id>.
            async with v1(server, "/m", "bob") as bob:
                _, history = await welcomed(bob)
                assert [(m["id"], m["name"]) for m in history] == [
                    (1, name), (2, name), (3, name), (4, "ann")]


async def test_with_echo_a_raw_sender_gets_its_line_back_as_sent(chatd):
    server = chatd("--echo")
    async with v1(server, "/e", "ann") as ann, raw(server, "/e") as r:
        await welcomed(ann)
        await expect(ann, "join")
        await r.send("mine")
        assert await wsclient.recv(r) == "mine"
        await expect(ann, "message", text="mine")
        await wsclient.assert_nothing_received(r)


async def test_raw_clients_come_and_go_with_exact_counts(chatd):
    server = chatd()
    async with v1(server, "/p", "ann") as ann:
        await welcomed(ann, count=1)
        async with raw(server, "/p") as r1:
            n1 = raw_name(await expect(ann, "join", count=2))
            # One cut off without a close frame leaves too.
            conn = wsraw.open_websocket(server.port, path="/p")
            n2 = raw_name(await expect(ann, "join", count=3))
            async with v1(server, "/p", "bob") as bob:
                welcome, _ = await welcomed(bob, count=4)
                online = welcome["online"]
                assert sorted(p["name"] for p in online if p.get("raw")) == sorted([n1, n2])
                assert all(p["raw"] is True and p["name"] == f"raw-{p['id']}"
                           for p in online if "raw" in p)
                assert sorted(p["name"] for p in online if not p.get("raw")) == ["ann", "bob"]
                await expect(ann, "join", name="bob", count=4)
                conn.sock.close()
                for ws in (ann, bob):
                    await expect(ws, "leave", name=n2, count=3)
            await expect(ann, "leave", name="bob", count=2)
        await expect(ann, "leave", name=n1, count=1)
        # Raw clients heard none of it.
        await wsclient.assert_nothing_received(ann)


async def test_raw_clients_who_came_first_are_counted_and_listed(chatd):
    """The room's v1 state is made by its first v1 client: the raw clients already there
    are counted then, and their earlier lines were plain broadcast, kept nowhere."""
    server = chatd()
    async with wsclient.clients(server.url + "early", 3) as raws:
        await wsclient.assert_chatting(raws[0], raws[1])
        async with v1(server, "/early", "ann") as ann:
            welcome, history = await welcomed(ann, count=4, history=0)
            listed = [p for p in welcome["online"] if p.get("raw")]
            assert len(listed) == 3 and len({p["id"] for p in listed}) == 3
            await raws[2].send("now it counts")
            m = await expect(ann, "message", text="now it counts", id=1)
            assert m["name"] in {p["name"] for p in listed}
            assert await wsclient.recv(raws[0]) == "now it counts"
            assert await wsclient.recv(raws[1]) == "now it counts"
            async with raw(server, "/early") as late:
                await expect(ann, "join", count=5)
                await late.close()
            await expect(ann, "leave", count=4)


async def test_v1_state_goes_with_the_last_v1_client(chatd):
    server = chatd()
    async with raw(server, "/g") as r1, raw(server, "/g") as r2:
        async with v1(server, "/g", "ann") as ann:
            await welcomed(ann, count=3)
            await r1.send("while ann was here")
            await expect(ann, "message", id=1)
            assert await wsclient.recv(r2) == "while ann was here"
        await asyncio.sleep(0.1)
        # Raw clients alone again: the plain broadcast, no history kept.
        await wsclient.assert_chatting(r1, r2)
        async with v1(server, "/g", "bob") as bob:
            await welcomed(bob, count=3, history=0)
            await r2.send("a new start")
            await expect(bob, "message", text="a new start", id=1)


async def test_raw_binary_stays_among_raw_clients(chatd):
    server = chatd()
    async with v1(server, "/b", "ann") as ann, raw(server, "/b") as r1, raw(server, "/b") as r2:
        await welcomed(ann)
        await expect(ann, "join")
        await expect(ann, "join")
        await r1.send(b"\x00\x01\xff")
        assert await wsclient.recv(r2) == b"\x00\x01\xff"
        await r1.send("text after binary")
        await expect(ann, "message", text="text after binary", id=1)


def test_a_room_of_raw_clients_alone_is_the_plain_broadcast_byte_for_byte(chatd):
    """Every frame a raw client gets is exactly what another sent: no presence, no
    history (even when asked), nothing added, in a room no v1 client is in, while a v1
    client chats in another room."""
    server = chatd()
    a = wsraw.open_websocket(server.port, path="/plain?history=5")
    b = wsraw.open_websocket(server.port, path="/plain")
    with a, b:
        other = wsraw.open_websocket(server.port, path="/plain")
        other.sock.close()  # comes and goes: nobody is told
        sent = [wsraw.text("hello"), wsraw.binary(b"\x00\xfe"), wsraw.text(""),
                wsraw.text("x" * 70000)]
        for f in sent:
            a.send(f)
        got = [b.recv_message() for _ in sent]
        assert got == [(wsraw.OP_TEXT, b"hello"), (wsraw.OP_BINARY, b"\x00\xfe"),
                       (wsraw.OP_TEXT, b""), (wsraw.OP_TEXT, b"x" * 70000)]
        b.send(wsraw.close(1000))
        frames = wsraw.parse_frames(b.read_to_close())
        assert [f.opcode for f in frames] == [wsraw.OP_CLOSE], frames
        # a heard nothing at all: not its own lines, not b's arrival or leaving.
        a.send(wsraw.close(1000))
        frames = wsraw.parse_frames(a.read_to_close())
        assert [f.opcode for f in frames] == [wsraw.OP_CLOSE], frames


async def test_raw_clients_cost_the_v1_handler_nothing(chatd):
    """Idle raw clients in a room with v1 clients hold no memory of the handler's: each
    costs what its connection does, a person record (about 100 bytes) less than a v1
    client that has not said hello yet, and the count comes back when they leave."""
    server = chatd()
    count = 50

    async def cost_of(make, room):
        before = client_memory(server)
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(count):
                await stack.enter_async_context(make(server, room))
            await asyncio.sleep(0.3)
            return (client_memory(server) - before) / count

    async with v1(server, "/mem", "ann") as ann:
        await welcomed(ann)
        await asyncio.sleep(0.1)
        base = client_memory(server)
        raw_each = await cost_of(raw, "/mem")
        pending_each = await cost_of(v1, "/mem")
        for kind in ("join", "leave"):
            for _ in range(count):
                await expect(ann, kind)
        await asyncio.sleep(0.2)
        after = client_memory(server) - base
        alone_each = await cost_of(raw, "/alone")
    assert raw_each < pending_each - 64, (raw_each, pending_each)
    assert abs(raw_each - alone_each) < 16, (raw_each, alone_each)
    assert abs(after) < 1000, after


async def test_v1_interop_is_accepted_and_changes_nothing(chatd, chatd_bin):
    server = chatd("--v1-interop")
    async with v1(server, "/i", "ann") as ann, raw(server, "/i") as r:
        await welcomed(ann)
        raw_name(await expect(ann, "join", count=2))
        await r.send("same as ever")
        await expect(ann, "message", text="same as ever", id=1)
    usage = subprocess.run([str(chatd_bin), "--help"], capture_output=True, text=True,
                           timeout=10).stdout
    assert re.search(r"--v1-interop\s+accepted and ignored", usage), usage


async def test_a_v1_client_pending_its_name_is_not_counted_by_raw_presence(chatd):
    server = chatd()
    async with v1(server, "/q", "ann") as ann, v1(server, "/q") as pending:
        await welcomed(ann, count=1)
        async with raw(server, "/q") as r:
            await expect(ann, "join", count=2)
            await r.send("before the hello")
            await expect(ann, "message", id=1)
            await wsclient.assert_nothing_received(pending)
            await pending.send(json.dumps({"type": "hello", "name": "late"}))
            welcome, history = await welcomed(pending, count=3)
            assert [m["text"] for m in history] == ["before the hello"]
            assert sum(1 for p in welcome["online"] if p.get("raw")) == 1


async def post_history(ann, count):
    for i in range(count):
        await say(ann, f"{i:02d}" + "h" * 998)
        await expect(ann, "message", id=i + 1)


async def test_a_raw_client_cut_off_while_history_is_replayed_comes_and_goes_once(chatd):
    """?history=N larger than --max-backlog: the raw client is cut off inside its own
    on_open. v1 clients see it join and leave once, and the counts stay exact."""
    server = chatd("--max-message", "4K", "--max-backlog", "16K")
    async with v1(server, "/cut", "ann") as ann:
        await welcomed(ann)
        await post_history(ann, 40)
        conn = wsraw.RawConnection(server.port)
        conn.send(wsraw.handshake_request(path="/cut?history=40"))
        name = raw_name(await expect(ann, "join", count=2))
        await expect(ann, "leave", name=name, count=1)
        server.wait_for_log(r"cut off for backpressure")
        conn.sock.close()
        # (A v1 newcomer would be cut off by this history too: raw clients count here.)
        async with raw(server, "/cut") as r:
            await expect(ann, "join", count=2)
            await r.send("still counted right")
            await expect(ann, "message", id=41)
        await expect(ann, "leave", count=1)


async def test_a_client_cut_off_in_its_on_open_gets_its_101_then_1008(chatd):
    server = chatd("--max-message", "4K", "--max-backlog", "16K")
    async with v1(server, "/cut", "ann") as ann:
        await welcomed(ann)
        await post_history(ann, 40)
        conn = wsraw.RawConnection(server.port)
        conn.send(wsraw.handshake_request(path="/cut?history=40"))
        assert conn.read_http_head().status == 101
        frames = wsraw.parse_frames(conn.read_to_close())
        assert [f.opcode for f in frames] == [wsraw.OP_CLOSE], frames
        assert frames[0].payload[:2] == (1008).to_bytes(2, "big")
