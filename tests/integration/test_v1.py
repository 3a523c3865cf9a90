"""chatd.v1 (docs/PROTOCOL.md): every frame type, the name rules, history replay, raw and v1
clients in one room, and hostile v1 input.

The clients are independent: Python's websockets asking for the subprotocol "chatd.v1",
websockets asking for none (a raw client, as websocat is), and raw sockets for what a
library refuses to send."""

import asyncio
import json
import re
import time
import urllib.request

import pytest

import wsclient
import wsraw

V1 = ["chatd.v1"]
NAME_MAX = 24
TEXT_MAX = 4096
ERRORS_MAX = 10


def v1(server, room="/", name=None, **kwargs):
    url = server.url.rstrip("/") + room
    if name is not None:
        url += "?name=" + name
    return wsclient.connect(url, subprotocols=V1, **kwargs)


def raw(server, room="/", query=""):
    return wsclient.connect(server.url.rstrip("/") + room + query)


async def frame(ws):
    return json.loads(await wsclient.recv(ws))


async def expect(ws, type_, **fields):
    """The next frame: of this type, with these fields."""
    got = await frame(ws)
    assert got["type"] == type_, got
    for key, value in fields.items():
        assert got.get(key) == value, (key, got)
    return got


async def welcomed(ws, **fields):
    """The welcome and the history after it; returns (welcome, history)."""
    welcome = await expect(ws, "welcome", **fields)
    history = [await expect(ws, "message", history=True) for _ in range(welcome["history"])]
    return welcome, history


async def say(ws, text):
    await ws.send(json.dumps({"type": "message", "text": text}))


def client_memory(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics", timeout=5) as r:
        body = r.read().decode()
    return int(re.search(r"^chatd_client_memory_bytes (\d+)", body, re.M).group(1))


# --- every frame type ------------------------------------------------------------------


async def test_welcome_then_history_then_live(chatd):
    server = chatd()
    async with v1(server, "/lobby", "ann") as ann:
        welcome, history = await welcomed(ann, name="ann", room="/lobby", count=1)
        assert history == []
        assert welcome["online"] == [{"id": welcome["id"], "name": "ann"}]
        assert welcome["max_text"] == TEXT_MAX
        assert "requested" not in welcome
        for i in range(3):
            await say(ann, f"before {i}")
            await expect(ann, "message", text=f"before {i}", name="ann", id=i + 1)
        async with v1(server, "/lobby", "bob") as bob:
            welcome, history = await welcomed(bob, name="bob", room="/lobby", count=2)
            assert sorted(p["name"] for p in welcome["online"]) == ["ann", "bob"]
            assert [m["text"] for m in history] == ["before 0", "before 1", "before 2"]
            assert [m["id"] for m in history] == [1, 2, 3]
            assert all(m["name"] == "ann" for m in history)
            await expect(ann, "join", name="bob", count=2, id=welcome["id"])
            await say(ann, "live")
            live = await expect(bob, "message", text="live", name="ann", id=4)
            assert "history" not in live
            await expect(ann, "message", text="live", id=4)


async def test_message_fields_are_the_servers(chatd):
    server = chatd()
    async with v1(server, "/a", "ann") as ann, v1(server, "/b", "bob") as bob:
        await welcomed(ann)
        await welcomed(bob)
        before = int(time.time() * 1000)
        # A client cannot choose its name, id or time in a message.
        await ann.send(json.dumps({"type": "message", "text": "x", "name": "bob", "id": 99,
                                   "time": 0}))
        got = await expect(ann, "message", name="ann", id=1, text="x")
        assert before - 5000 <= got["time"] <= int(time.time() * 1000) + 5000
        # Ids count per room.
        await say(bob, "y")
        await expect(bob, "message", name="bob", id=1)
        await say(ann, "z")
        await expect(ann, "message", id=2)
        # Unicode and escapes arrive as sent; JSON escapes are decoded.
        await ann.send('{"type":"message","text":"caf\\u00e9 \\ud83d\\ude00 \\"q\\"\\n"}')
        await expect(ann, "message", text='café 😀 "q"\n')
        await say(ann, "Grüße 👋🏽")
        await expect(ann, "message", text="Grüße 👋🏽")


async def test_join_and_leave_with_counts(chatd):
    server = chatd()
    async with v1(server, "/r", "ann") as ann:
        await welcomed(ann, count=1)
        async with v1(server, "/r", "bob") as bob:
            await welcomed(bob, count=2)
            await expect(ann, "join", name="bob", count=2)
            async with v1(server, "/r", "cy") as cy:
                await welcomed(cy, count=3)
                await expect(ann, "join", name="cy", count=3)
                await expect(bob, "join", name="cy", count=3)
            await expect(ann, "leave", name="cy", count=2)
            await expect(bob, "leave", name="cy", count=2)
            # A client cut off without a close frame leaves too.
            conn = wsraw.RawConnection(server.port)
            key = wsraw.make_key()
            conn.send(wsraw.handshake_request(key, "/r?name=dee").replace(
                b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chatd.v1\r\n\r\n", 1))
            assert conn.read_http_head().status == 101
            await expect(ann, "join", name="dee", count=3)
            await expect(bob, "join", name="dee", count=3)
            conn.sock.close()
            await expect(ann, "leave", name="dee", count=2)
        await expect(ann, "leave", name="bob", count=1)


async def test_hello_names_a_client_that_gave_no_name(chatd):
    server = chatd()
    async with v1(server, "/h", "ann") as ann, v1(server, "/h") as anon:
        await welcomed(ann)
        # Until its hello it is nobody: no welcome, no traffic, not counted.
        await wsclient.assert_nothing_received(anon)
        await say(ann, "before hello")
        await expect(ann, "message", text="before hello")
        await wsclient.assert_nothing_received(anon)
        await say(anon, "too early")
        await expect(anon, "error", code="not_named")
        await anon.send(json.dumps({"type": "hello", "name": "zed"}))
        welcome, history = await welcomed(anon, name="zed", count=2)
        assert [m["text"] for m in history] == ["before hello"]
        await expect(ann, "join", name="zed", count=2)
        await anon.send(json.dumps({"type": "hello", "name": "zed2"}))
        await expect(anon, "error", code="already_named")
        await say(anon, "now")
        await expect(ann, "message", name="zed", text="now")


# --- names -----------------------------------------------------------------------------


BAD_NAMES = ["", "a" * (NAME_MAX + 1), "two words", "zoë", "raw-7", "RAW-x", "a/b", "<b>",
             "tab\t", "nul\u0000"]


async def test_invalid_names_are_refused(chatd):
    server = chatd()
    half = len(BAD_NAMES) // 2  # fewer than ERRORS_MAX in a row on each connection
    for names in (BAD_NAMES[:half], BAD_NAMES[half:]):
        async with v1(server, "/n") as c:
            for name in names:
                await c.send(json.dumps({"type": "hello", "name": name}))
                await expect(c, "error", code="bad_name")
            await c.send(json.dumps({"type": "hello", "name": 42}))
            await expect(c, "error", code="bad_frame")
            await c.send(json.dumps({"type": "hello", "name": "ok_name-1.x"}))
            await welcomed(c, name="ok_name-1.x")
    # In the URL: an error, and the client may still say hello.
    async with v1(server, "/n", "two%20words") as c:
        await expect(c, "error", code="bad_name")
        await c.send(json.dumps({"type": "hello", "name": "fine"}))
        await welcomed(c, name="fine")
    async with v1(server, "/n", "%zz") as c:
        await expect(c, "error", code="bad_name")
    async with v1(server, "/n", "a" * 100) as c:
        await expect(c, "error", code="bad_name")
    # Percent-encoded valid names are decoded; the longest name is accepted.
    async with v1(server, "/n", "%61nn") as c:
        await welcomed(c, name="ann")
    async with v1(server, "/n", "x" * NAME_MAX) as c:
        await welcomed(c, name="x" * NAME_MAX)


async def test_names_are_unique_in_a_room(chatd):
    server = chatd()
    async with v1(server, "/u", "ann") as a1, v1(server, "/u", "ann") as a2, \
            v1(server, "/u", "ANN") as a3, v1(server, "/other", "ann") as elsewhere:
        await welcomed(a1, name="ann")
        await welcomed(a2, name="ann2", requested="ann")
        # Without regard to case: "ANN" cannot pass for "ann".
        await welcomed(a3, name="ANN3", requested="ANN")
        await welcomed(elsewhere, name="ann")  # another room, another namespace
        long = "y" * NAME_MAX
        async with v1(server, "/u", long) as l1, v1(server, "/u", long) as l2:
            await welcomed(l1, name=long)
            w, _ = await welcomed(l2, requested=long)
            assert w["name"] == "y" * (NAME_MAX - 1) + "2"
        # Ten of one name: 2 to 9, then numbers from the connection id, all distinct.
        async with wsclient.clients(server.url.rstrip("/") + "/u?name=bo", 10,
                                    subprotocols=V1) as bos:
            names = [(await welcomed(b))[0]["name"] for b in bos]
            assert len(set(n.lower() for n in names)) == 10
            assert names[:8] == ["bo"] + [f"bo{k}" for k in range(2, 9)]
            assert all(re.fullmatch(r"bo\d*", n) for n in names)
        # A name is free again once its holder leaves.
    async with v1(server, "/u", "ann") as again:
        await welcomed(again, name="ann")


# --- errors ----------------------------------------------------------------------------


async def test_errors_answer_and_keep_the_connection(chatd):
    server = chatd()
    async with v1(server, "/e", "ann") as ann:
        await welcomed(ann)
        cases = [
            ("not json", "bad_json"),
            ("{\"type\":\"message\",\"text\":\"x\"", "bad_json"),
            ("[1,2]", "bad_frame"),
            ("{\"text\":\"no type\"}", "bad_frame"),
            ("{\"type\":3}", "bad_frame"),
            ("{\"type\":\"dance\"}", "unknown_type"),
            ("{\"type\":\"message\"}", "bad_frame"),
            ("{\"type\":\"message\",\"text\":5}", "bad_frame"),
            ("{\"type\":\"message\",\"text\":\"\"}", "bad_frame"),
            (json.dumps({"type": "message", "text": "é" * (TEXT_MAX // 2 + 1)}), "too_long"),
        ]
        for sent, code in cases:
            await ann.send(sent)
            got = await expect(ann, "error", code=code)
            assert got["message"]
            # Still up, and a good frame is handled (and resets the count of errors).
            await say(ann, "still here")
            await expect(ann, "message", text="still here")
        await ann.send(b"\x00binary")
        await expect(ann, "error", code="bad_frame")
        # Exactly the limit is fine.
        await say(ann, "é" * (TEXT_MAX // 2))
        await expect(ann, "message", text="é" * (TEXT_MAX // 2))


async def test_errors_in_a_row_close_1008(chatd):
    server = chatd()
    async with v1(server, "/e", "ann") as ann:
        await welcomed(ann)
        for _ in range(ERRORS_MAX - 1):
            await ann.send("{")
            await expect(ann, "error", code="bad_json")
        await say(ann, "reset")
        await expect(ann, "message", text="reset")
        for _ in range(ERRORS_MAX - 1):
            await ann.send("{")
            await expect(ann, "error", code="bad_json")
        await ann.send("{")
        await expect(ann, "error", code="bad_json")
        await wsclient.wait_closed(ann)
        assert ann.close_code == 1008


# --- hostile input ---------------------------------------------------------------------


async def test_hostile_json(chatd):
    server = chatd()
    async with v1(server, "/x", "ann") as ann, v1(server, "/x", "bob") as bob:
        await welcomed(ann)
        await welcomed(bob)
        await expect(ann, "join", name="bob")
        hostile = [
            ("[" * 100000 + "]" * 100000, "too_long"),      # deep, and longer than a frame
            ("[" * 5000 + "]" * 5000, "bad_json"),           # deep, within a frame's size
            ('{"type":"message","text":' + "[" * 9 + "]" * 9 + "}", "bad_json"),
            ('{"type":"message","text":"' + "x" * 900000 + '"}', "too_long"),
            ('{"type":"message","text":"\\ud800"}', "bad_json"),
            ('{"type":"message","text":"\\udc00\\ud800"}', "bad_json"),
            ('{"type":"message","text":"a\\ud83dz"}', "bad_json"),
            ('{"type":"message","text":"\\u00"}', "bad_json"),
            ('{"type":"hello","name":"\\ud800"}', "bad_json"),
            ("[" + ",".join(["1"] * 1000) + "]", "bad_json"),  # too many values
        ]
        for sent, code in hostile:
            await ann.send(sent)
            await expect(ann, "error", code=code)
            await say(ann, "ok")
            await expect(ann, "message", text="ok")
            await expect(bob, "message", text="ok")  # the others saw nothing else


async def test_a_thousand_hellos(chatd):
    server = chatd("--rate-limit", "off")
    async with v1(server, "/t", "ann") as ann, v1(server, "/t", "bob") as bob:
        await welcomed(ann)
        await welcomed(bob)
        await expect(ann, "join", name="bob")
        for i in range(1000):
            try:
                await bob.send(json.dumps({"type": "hello", "name": f"n{i}"}))
            except Exception:
                break
        codes = []
        while True:
            try:
                codes.append((await frame(bob))["code"])
            except Exception:
                break
        assert codes == ["already_named"] * ERRORS_MAX
        await wsclient.wait_closed(bob)
        assert bob.close_code == 1008
        await expect(ann, "leave", name="bob", count=1)
        # The room still works, and ann's name was never touched.
        await say(ann, "after")
        await expect(ann, "message", name="ann", text="after")


def test_invalid_utf8_in_a_text_frame_is_closed_1007(chatd):
    server = chatd()
    key = wsraw.make_key()
    conn = wsraw.RawConnection(server.port)
    with conn:
        request = wsraw.handshake_request(key, "/?name=ann").replace(
            b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chatd.v1\r\n\r\n", 1)
        conn.send(request)
        assert conn.read_http_head().status == 101
        conn.send(wsraw.text(b'{"type":"message","text":"\xff"}'))
        data = conn.read_to_close()
        frames = wsraw.parse_frames(data)
        close = [f for f in frames if f.opcode == wsraw.OP_CLOSE]
        assert close and close[0].payload[:2] == (1007).to_bytes(2, "big"), frames


# --- raw and v1 clients in one room ----------------------------------------------------


async def test_raw_and_v1_clients_see_each_other(chatd):
    server = chatd()
    async with v1(server, "/mix", "ann") as ann:
        welcome, _ = await welcomed(ann)
        async with raw(server, "/mix") as r1, raw(server, "/mix") as r2:
            j1 = await expect(ann, "join", count=2)
            j2 = await expect(ann, "join", count=3)
            assert re.fullmatch(r"raw-\d+", j1["name"]) and j1["name"] == f"raw-{j1['id']}"
            # A raw client's text: unchanged to raw clients, a message from raw-<id> to v1.
            await r1.send("hello from a script")
            assert await wsclient.recv(r2) == "hello from a script"
            await expect(ann, "message", name=j1["name"], text="hello from a script")
            # A v1 message: "name: text" to raw clients.
            await say(ann, "hi scripts")
            await expect(ann, "message", text="hi scripts")
            assert await wsclient.recv(r1) == "ann: hi scripts"
            assert await wsclient.recv(r2) == "ann: hi scripts"
            # Raw clients get no JSON: no welcome, no presence, no errors.
            async with v1(server, "/mix", "bob") as bob:
                w, history = await welcomed(bob, count=4)
                raws = sorted(p["name"] for p in w["online"] if p.get("raw"))
                assert raws == sorted([j1["name"], j2["name"]])
                assert [m["text"] for m in history] == ["hello from a script", "hi scripts"]
                await expect(ann, "join", name="bob")
            await expect(ann, "leave", name="bob")
            await wsclient.assert_nothing_received(r1)
            # Binary from a raw client stays among raw clients.
            await r1.send(b"\x01\x02")
            assert await wsclient.recv(r2) == b"\x01\x02"
            await wsclient.assert_nothing_received(ann)
        left = [await expect(ann, "leave") for _ in range(2)]
        assert sorted(m["name"] for m in left) == sorted([j1["name"], j2["name"]])
        assert [m["count"] for m in left] == [2, 1]


async def test_raw_clients_alone_chat_as_before(chatd):
    server = chatd()
    async with raw(server, "/") as a, raw(server, "/") as b:
        await wsclient.assert_chatting(a, b)
        await wsclient.assert_nothing_received(a)


async def test_raw_history_only_when_asked(chatd):
    server = chatd()
    async with v1(server, "/rh", "ann") as ann:
        await welcomed(ann)
        for i in range(5):
            await say(ann, f"m{i}")
            await expect(ann, "message", text=f"m{i}")
        async with raw(server, "/rh") as plain:
            await wsclient.assert_nothing_received(plain)
        async with raw(server, "/rh", "?history=2") as asked:
            assert await wsclient.recv_many(asked, 2) == ["ann: m3", "ann: m4"]
            await wsclient.assert_nothing_received(asked)
        async with raw(server, "/rh", "?x=1&history=100") as all_of_it:
            assert await wsclient.recv_many(all_of_it, 5) == [f"ann: m{i}" for i in range(5)]


# --- history ---------------------------------------------------------------------------


async def test_history_keeps_the_latest_n(chatd):
    server = chatd("--history", "3")
    async with v1(server, "/hn", "ann") as ann:
        await welcomed(ann)
        for i in range(5):
            await say(ann, f"m{i}")
            await expect(ann, "message", text=f"m{i}")
        async with v1(server, "/hn", "bob") as bob:
            w, history = await welcomed(bob, history=3)
            assert [(m["id"], m["text"]) for m in history] == [(3, "m2"), (4, "m3"), (5, "m4")]


async def test_history_off(chatd):
    server = chatd("--history", "0")
    async with v1(server, "/h0", "ann") as ann:
        await welcomed(ann)
        await say(ann, "gone")
        await expect(ann, "message", text="gone")
        async with v1(server, "/h0", "bob") as bob:
            await welcomed(bob, history=0)
            await say(bob, "next")
            await expect(bob, "message", id=2)  # ids go on without history


async def test_history_byte_bound(chatd):
    server = chatd("--history", "100", "--history-bytes", "2K")
    async with v1(server, "/hb", "ann") as ann:
        await welcomed(ann)
        for i in range(20):
            await say(ann, f"{i:03d}" + "z" * 297)
            await expect(ann, "message", id=i + 1)
        await say(ann, "w" * 3000)  # larger than the bound alone: not kept
        await expect(ann, "message", id=21)
        await say(ann, "last")
        await expect(ann, "message", id=22)
        async with v1(server, "/hb", "bob") as bob:
            _, history = await welcomed(bob)
            texts = [m["text"] for m in history]
            assert texts[-1] == "last"
            kept = texts[:-1]
            # The most recent of the 300-byte messages, as many as fit 2 KiB with "last".
            assert 3 <= len(kept) <= 6, texts
            assert sum(len(t) for t in texts) <= 2048
            assert kept == [f"{i:03d}" + "z" * 297 for i in range(20 - len(kept), 20)]
            assert [m["id"] for m in history] == list(range(21 - len(kept), 21)) + [22]


async def test_history_goes_with_the_room(chatd):
    server = chatd()
    baseline = client_memory(server)
    async with v1(server, "/gone", "ann") as ann:
        await welcomed(ann)
        for i in range(50):
            await say(ann, "h" * 1000)
            await expect(ann, "message", id=i + 1)
        # Charged to the memory budget: 50 messages of 1000 bytes at least.
        assert client_memory(server) - baseline >= 50 * 1000
    await asyncio.sleep(0.2)
    # The room emptied: its history is freed with it, and a new room starts afresh.
    assert client_memory(server) - baseline < 50 * 1000
    async with v1(server, "/gone", "bob") as bob:
        await welcomed(bob, history=0, count=1)
        await say(bob, "first again")
        await expect(bob, "message", id=1)


async def test_pending_client_gets_no_live_traffic_before_its_welcome(chatd):
    server = chatd()
    async with v1(server, "/p", "ann") as ann, v1(server, "/p") as late:
        await welcomed(ann)
        for i in range(3):
            await say(ann, f"while pending {i}")
            await expect(ann, "message", text=f"while pending {i}")
        await late.send(json.dumps({"type": "hello", "name": "late"}))
        _, history = await welcomed(late, name="late")
        assert [m["text"] for m in history] == [f"while pending {i}" for i in range(3)]
        await say(ann, "live")
        await expect(late, "message", text="live", id=4)


async def test_a_long_raw_message_reaches_v1_clients_whole(chatd):
    server = chatd()
    big = 'a "quoted"\n' + "x" * 300000
    async with v1(server, "/big", "ann") as ann, raw(server, "/big") as r:
        await welcomed(ann)
        await expect(ann, "join")
        await r.send(big)
        await expect(ann, "message", text=big)
        # Past the byte bound: not kept, and the next joiner gets no history of it.
        async with v1(server, "/big", "bob") as bob:
            await welcomed(bob, history=0)
