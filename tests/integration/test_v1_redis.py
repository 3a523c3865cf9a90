"""chatd.v1 across nodes (--redis): one chat however many chatd nodes share a Redis.

docs/PROTOCOL.md, "With --redis": v1 messages cross nodes as the same frame (one id
sequence per room, given by Redis), the history lives in Redis and every node replays it
on join, raw and v1 clients of every node hear each other, and a Redis outage is told to
v1 senders. Each test starts its own redis-server (rediskit) and chatd nodes."""

import asyncio
import json
import shutil
import time

import pytest

import rediskit
import wsclient
from test_v1 import expect, frame, raw, say, v1, welcomed

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian package redis-server; tools/deps.sh test)",
)


@pytest.fixture
def redis(tmp_path):
    servers = []

    def start(**kwargs):
        server = rediskit.RedisServer(tmp_path, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


def node(chatd, r, *args):
    server = chatd("--redis", r.url, *args)
    server.wait_for_log(r"redis: connected")
    return server


async def subscribed(r, room, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while rediskit.numsub(r.port, f"chatd:{room}") != count:
        assert time.monotonic() < deadline, f"{room}: never {count} subscribers"
        await asyncio.sleep(0.02)


def essence(m):
    return (m["id"], m["time"], m["name"], m["text"])


async def test_v1_messages_cross_nodes_with_one_id_sequence(chatd, redis):
    r = redis()
    a, b = node(chatd, r), node(chatd, r)
    async with v1(a, "/x", "ann") as ann:
        await welcomed(ann)
        bob = await v1(b, "/x", "bob")
        await welcomed(bob)
        await expect(ann, "join", name="bob")
        await subscribed(r, "/x", 2)
        await say(ann, "one")
        await say(bob, "two")
        await say(ann, "three")
        got_ann = [await expect(ann, "message") for _ in range(3)]
        got_bob = [await expect(bob, "message") for _ in range(3)]
        # The same frames, in the same order, on both nodes; one id sequence.
        assert [essence(m) for m in got_ann] == [essence(m) for m in got_bob]
        ids = [m["id"] for m in got_ann]
        assert ids == list(range(ids[0], ids[0] + 3)), ids
        assert sorted(m["text"] for m in got_ann) == ["one", "three", "two"]
        assert {m["name"] for m in got_ann} == {"ann", "bob"}
        assert all("history" not in m for m in got_ann)
        await wsclient.assert_nothing_received(bob)
        await bob.close()


async def test_joiner_on_another_node_gets_the_history_in_order(chatd, redis):
    r = redis()
    a, b = node(chatd, r), node(chatd, r)
    async with v1(a, "/h", "ann") as ann:
        await welcomed(ann)
        for i in range(5):
            await say(ann, f"m{i}")
        said = [await expect(ann, "message") for _ in range(5)]
        async with v1(b, "/h", "carl") as carl:
            welcome, history = await welcomed(carl, history=5)
            assert [essence(m) for m in history] == [essence(m) for m in said]
            # Then live traffic, from either node.
            await say(ann, "live")
            live = await expect(carl, "message", text="live", name="ann")
            assert live["id"] == said[-1]["id"] + 1
            assert "history" not in live
        # A node that had nobody in the room replays it too, and so does the first.
        c = node(chatd, r)
        for server in (a, c):
            async with v1(server, "/h", "dora") as dora:
                _, history = await welcomed(dora, history=6)
                assert [m["text"] for m in history] == [f"m{i}" for i in range(5)] + ["live"]


async def test_history_in_redis_is_bounded_by_count_and_bytes(chatd, redis):
    r = redis()
    a = node(chatd, r, "--history", "3")
    async with v1(a, "/n", "ann") as ann:
        await welcomed(ann)
        for i in range(6):
            await say(ann, f"n{i}")
        for _ in range(6):
            await expect(ann, "message")
    assert rediskit.command(r.port, "LLEN", "chatd:/n#log") == 3
    b = node(chatd, r, "--history", "3")
    async with v1(b, "/n", "bob") as bob:
        _, history = await welcomed(bob, history=3)
        assert [m["text"] for m in history] == ["n3", "n4", "n5"]

    c = node(chatd, r, "--history-bytes", "1000")
    async with v1(c, "/b", "ann") as ann:
        await welcomed(ann)
        for i in range(8):
            await say(ann, f"{i}" + "x" * 200)
        for _ in range(8):
            await expect(ann, "message")
    stored = rediskit.command(r.port, "LRANGE", "chatd:/b#log", 0, -1)
    assert 1 <= len(stored) <= 4 and sum(len(e) for e in stored) <= 1000, len(stored)
    async with v1(c, "/b", "bob") as bob:
        _, history = await welcomed(bob)
        assert [m["text"][0] for m in history] == [str(i) for i in range(8 - len(stored), 8)]
    # A reader bounds what it takes by its own settings, whatever the list holds.
    d = node(chatd, r, "--history-bytes", "300")
    async with v1(d, "/b", "cy") as cy:
        _, history = await welcomed(cy, history=1)
        assert history[0]["text"][0] == "7"


async def test_no_message_lost_or_doubled_while_joining_under_traffic(chatd, redis):
    """Joiners on B while A's sender keeps talking: each joiner's history and live traffic
    together are every message from its first on, once each, in id order."""
    r = redis()
    a, b = node(chatd, r, "--history", "1000"), node(chatd, r, "--history", "1000")
    total = 300
    async with v1(a, "/busy", "ann") as ann:
        await welcomed(ann)

        async def talk():
            for i in range(total):
                await say(ann, f"t{i}")
                if i % 10 == 0:
                    await asyncio.sleep(0.005)

        async def join(k):
            await asyncio.sleep(0.01 * k)
            async with v1(b, "/busy", f"j{k}") as j:
                welcome, history = await welcomed(j)
                seen = [m["id"] for m in history]
                done = any(m["text"] == f"t{total - 1}" for m in history)
                while not done:
                    m = json.loads(await wsclient.recv(j))
                    if m["type"] in ("join", "leave"):
                        continue
                    assert m["type"] == "message" and "history" not in m, m
                    seen.append(m["id"])
                    done = m["text"] == f"t{total - 1}"
                return seen

        sender = asyncio.create_task(talk())
        joiners = [asyncio.create_task(join(k)) for k in range(8)]
        mine = []
        while len(mine) < total:
            m = json.loads(await wsclient.recv(ann))
            if m["type"] == "message":
                mine.append(m)
        await sender
        for seen in await asyncio.gather(*joiners):
            first = seen[0]
            assert seen == list(range(first, mine[-1]["id"] + 1)), seen[:20]
            assert first == mine[0]["id"], "the history began after the first message"


async def test_raw_and_v1_clients_hear_each_other_across_nodes(chatd, redis):
    r = redis()
    a, b, c = node(chatd, r), node(chatd, r), node(chatd, r)
    async with v1(a, "/m", "ann") as ann:
        await welcomed(ann)
        bob = await v1(b, "/m", "bob")
        await welcomed(bob)
        await expect(ann, "join", name="bob")
        async with raw(a, "/m") as ra, raw(b, "/m") as rb, raw(c, "/m") as rc:
            # ra's and rb's joins reach both nodes' v1 clients, in one order, with the
            # cluster's count; rc, on a node where the room has raw clients alone, is
            # not counted (docs/PROTOCOL.md).
            seen_ann = [await expect(ann, "join") for _ in range(2)]
            seen_bob = [await expect(bob, "join") for _ in range(2)]
            assert seen_ann == seen_bob
            assert [m["count"] for m in seen_ann] == [3, 4]
            assert all(m["name"] == f"raw-{m['id']}" for m in seen_ann)
            await subscribed(r, "/m", 3)
            # A raw line on B, where the room has a v1 client: the raw clients of every
            # node get it as it was, the v1 clients of every node as a message under the
            # raw client's name, with one id.
            await rb.send("from b")
            assert await wsclient.recv(ra) == "from b"
            assert await wsclient.recv(rc) == "from b"
            m = await expect(ann, "message", text="from b")
            assert m["name"].startswith("raw-")
            assert (await expect(bob, "message", text="from b"))["id"] == m["id"]
            # A v1 message reaches raw clients everywhere as a line.
            await say(ann, "hi")
            await expect(ann, "message", text="hi")
            await expect(bob, "message", text="hi")
            for w in (ra, rb, rc):
                assert await wsclient.recv(w) == "ann: hi"
        await bob.close()


async def test_redis_down_v1_senders_are_told_and_ids_keep_rising_after(chatd, redis):
    r = redis()
    a, b = node(chatd, r), node(chatd, r)
    async with v1(a, "/d", "ann") as ann:
        await welcomed(ann)
        bob = await v1(b, "/d", "bob")
        await welcomed(bob)
        await expect(ann, "join", name="bob")
        await subscribed(r, "/d", 2)
        await say(ann, "before")
        before = await expect(ann, "message", text="before")
        await expect(bob, "message", text="before")

        r.kill()
        a.wait_for_log(r"WARN redis")
        await say(ann, "during")
        err = await expect(ann, "error", code="unavailable")
        assert "Redis" in err["message"]
        await wsclient.assert_nothing_received(bob)
        # A client joining meanwhile is welcomed without history and is not stuck.
        async with v1(a, "/d", "cy") as cy:
            await welcomed(cy, history=0)
        await expect(ann, "join", name="cy")
        await expect(ann, "leave", name="cy")

        r.start()  # an empty Redis: the room's log and its counter are gone
        a.wait_for_log(r"redis: connected again")
        b.wait_for_log(r"redis: connected again")
        await subscribed(r, "/d", 2)
        await say(bob, "after")

        async def message_after(ws, other):
            # Each node registers its people again in the empty Redis: the other may be
            # heard joining again first (if this node's subscription was back in time),
            # nothing else.
            got = await frame(ws)
            if got["type"] == "join":
                assert got["name"] == other, got
                got = await frame(ws)
            assert got["type"] == "message" and got["text"] == "after", got
            return got

        after = await message_after(ann, "bob")
        assert (await message_after(bob, "ann"))["id"] == after["id"]
        assert after["id"] > before["id"], "ids went back after Redis lost its data"
        await bob.close()


async def test_entries_not_ours_from_redis_are_dropped(chatd, redis):
    r = redis()
    a = node(chatd, r)
    async with v1(a, "/e", "ann") as ann:
        await welcomed(ann)
        await subscribed(r, "/e", 1)
        header = b"\xc1\x41" + b"\0" * 8 + b"\0" * 7 + b"\x09"
        for entry in [b"not json", b'{"type":"welcome"}', b'{"type":"message","id":9}',
                      b"\xff\xfe", b"[" * 100 + b"]" * 100]:
            assert rediskit.command(r.port, "PUBLISH", "chatd:/e", header + entry) == 1
        await wsclient.assert_nothing_received(ann)
        await say(ann, "still fine")
        await expect(ann, "message", text="still fine")


def logged(id_, payload: bytes) -> bytes:
    """An entry of a room's log as roomlog's script writes it."""
    return b"\xc1\x41" + b"\x07" * 8 + id_.to_bytes(8, "big") + payload


async def test_a_poisoned_history_in_redis_gives_only_what_is_valid_and_bounded(chatd, redis):
    """Whatever another program left in a room's list: only our frames reach clients, and a
    read takes no more than the reader's --history-bytes however large the list is."""
    r = redis()
    good = [json.dumps({"type": "message", "id": i, "time": 1, "name": "ann",
                        "text": f"ok{i}"}).encode() for i in (1, 2)]
    poison = [
        logged(10, b"x" * 200_000),  # the oldest: beyond the byte bound, stops the read there
        logged(1, good[0]),
        b"not an envelope",
        logged(11, b'{"type":"welcome","id":1}'),
        logged(12, b"\xff\xfe"),
        b"\xc1\x41" + b"\x07" * 8 + b"\x01",  # too short for its id
        logged(2, good[1]),
    ]
    for entry in poison:
        rediskit.command(r.port, "RPUSH", "chatd:/p#log", entry)
    a = node(chatd, r)
    async with v1(a, "/p", "bob") as bob:
        _, history = await welcomed(bob, history=2)
        assert [m["text"] for m in history] == ["ok1", "ok2"]
        await wsclient.assert_nothing_received(bob)
        # Ids go on above what the room's counter says (none here: from 1).
        await say(bob, "next")
        assert (await expect(bob, "message", text="next"))["id"] >= 1


async def test_a_join_while_redis_hangs_is_welcomed_once_the_link_is_given_up(chatd, redis):
    """A history read in flight when Redis stops answering: the node gives the session up
    (3 s without an answer), the joiner gets its welcome without history and chats once
    Redis is back; nothing leaks (the sanitizer build checks)."""
    r = redis()
    a = node(chatd, r)
    async with v1(a, "/s", "ann") as ann:
        await welcomed(ann)
        await say(ann, "kept")
        await expect(ann, "message", text="kept")
        r.stop_process()
        try:
            async with v1(a, "/s", "bob") as bob:
                welcome = json.loads(await wsclient.recv(bob, timeout=10))
                assert welcome["type"] == "welcome" and welcome["history"] == 0, welcome
                await expect(ann, "join", name="bob")
                r.continue_process()
                a.wait_for_log(r"redis: connected again")
                await subscribed(r, "/s", 1)
                await say(bob, "back")
                await expect(bob, "message", text="back")
                await expect(ann, "message", text="back")
        finally:
            r.continue_process()
        async with v1(a, "/s", "cy") as cy:
            _, history = await welcomed(cy, history=2)
            assert [m["text"] for m in history] == ["kept", "back"]


async def test_a_crowd_joining_at_once_waits_its_turn_and_gets_its_history(chatd, redis):
    """Reads in flight are bounded (what may wait for Redis: 8 MiB, each read counted at
    the largest reply it may bring, here 3 MiB): a crowd joining at once is served in
    turn, every client with its history, none refused."""
    r = redis()
    a = node(chatd, r, "--history-bytes", "3M")
    async with v1(a, "/c", "ann") as ann:
        await welcomed(ann)
        for i in range(5):
            await say(ann, f"c{i}")
        for _ in range(5):
            await expect(ann, "message")

        async def join(k):
            async with v1(a, "/c", f"j{k}") as j:
                _, history = await welcomed(j)
                return [m["text"] for m in history]

        got = await asyncio.gather(*[join(k) for k in range(12)])
        assert all(h == [f"c{i}" for i in range(5)] for h in got), got


# --- presence across nodes ---------------------------------------------------------------


def online(welcome):
    return sorted(p["name"] for p in welcome["online"])


async def test_counts_and_online_lists_are_the_clusters(chatd, redis):
    """Joins and leaves on three nodes: every welcome lists everyone, every node's v1
    clients hear every join and leave with the same count, and ids do not clash."""
    r = redis()
    a, b, c = node(chatd, r), node(chatd, r), node(chatd, r)
    async with v1(a, "/p", "ann") as ann:
        w_ann, _ = await welcomed(ann, count=1)
        assert online(w_ann) == ["ann"]
        async with v1(b, "/p", "bob") as bob:
            w_bob, _ = await welcomed(bob, count=2)
            assert online(w_bob) == ["ann", "bob"]
            assert (await expect(ann, "join", name="bob", count=2))["id"] == w_bob["id"]
            async with v1(c, "/p", "cy") as cy:
                w_cy, _ = await welcomed(cy, count=3)
                assert online(w_cy) == ["ann", "bob", "cy"]
                ids = {p["name"]: p["id"] for p in w_cy["online"]}
                assert ids == {"ann": w_ann["id"], "bob": w_bob["id"], "cy": w_cy["id"]}
                for ws in (ann, bob):
                    await expect(ws, "join", name="cy", count=3, id=w_cy["id"])
            for ws in (ann, bob):
                await expect(ws, "leave", name="cy", count=2)
            # A joiner on any node sees the same list and count.
            for server in (a, c):
                async with v1(server, "/p", "dora") as dora:
                    w, _ = await welcomed(dora, count=3)
                    assert online(w) == ["ann", "bob", "dora"]
                for ws in (ann, bob):
                    await expect(ws, "join", name="dora", count=3)
                    await expect(ws, "leave", name="dora", count=2)
        await expect(ann, "leave", name="bob", count=1)
        await wsclient.assert_nothing_received(ann)


async def test_a_name_taken_on_another_node_is_adjusted(chatd, redis):
    r = redis()
    a, b = node(chatd, r), node(chatd, r)
    async with v1(a, "/n", "ann") as ann:
        await welcomed(ann)
        async with v1(b, "/n", "ANN") as other:
            w, _ = await welcomed(other, name="ANN2", requested="ANN", count=2)
            assert online(w) == ["ANN2", "ann"]
            await expect(ann, "join", name="ANN2", count=2)
            # By hello too, and a name freed on one node is free on the others.
        await expect(ann, "leave", name="ANN2")
        async with v1(b, "/n") as late:
            await late.send(json.dumps({"type": "hello", "name": "ANN2"}))
            await welcomed(late, name="ANN2", count=2)


async def test_a_killed_nodes_people_leave_the_others_lists(chatd, chatd_bin, redis):
    """SIGKILL a node: within its liveness (5 s) and a sweep (2 s), the other nodes' v1
    clients hear its people leave, and joiners no longer see them."""
    import conftest

    r = redis()
    a = node(chatd, r)
    victim = conftest.Chatd(chatd_bin, ["--redis", r.url])
    try:
        victim.wait_for_log(r"redis: connected")
        async with v1(a, "/k", "ann") as ann:
            await welcomed(ann)
            bob = await v1(victim, "/k", "bob")
            await welcomed(bob, count=2)
            await expect(ann, "join", name="bob", count=2)
            victim.proc.kill()
            victim.proc.wait()
            start = time.monotonic()
            left = json.loads(await wsclient.recv(ann, timeout=15))
            assert left["type"] == "leave" and left["name"] == "bob", left
            assert left["count"] == 1
            assert time.monotonic() - start < 12
            async with v1(a, "/k", "cy") as cy:
                w, _ = await welcomed(cy, count=2)
                assert online(w) == ["ann", "cy"]
    finally:
        if victim.proc.poll() is None:
            victim.proc.kill()
            victim.proc.wait()


async def test_a_raw_line_from_a_node_without_v1_clients_reaches_v1_clients_elsewhere(
    chatd, redis
):
    """With no v1 client anywhere a raw line is the plain broadcast (nothing logged); once a
    node has one, a node where the room has raw clients alone learns it (from the join, or
    within two seconds from the word nodes repeat) and sends its raw lines through the log."""
    r = redis()
    a, c = node(chatd, r), node(chatd, r)
    async with raw(c, "/r") as rc, raw(a, "/r") as ra:
        await subscribed(r, "/r", 2)
        await rc.send("plain")
        assert await wsclient.recv(ra) == "plain"
        assert rediskit.command(r.port, "EXISTS", "chatd:/r#log") == 0
        async with v1(a, "/r", "ann") as ann:
            welcome, _ = await welcomed(ann, count=2)
            deadline = time.monotonic() + 6
            got = None
            for i in range(100):
                await rc.send(f"try{i}")
                assert await wsclient.recv(ra) == f"try{i}"
                try:
                    got = json.loads(await wsclient.recv(ann, timeout=0.3))
                    break
                except AssertionError:
                    assert time.monotonic() < deadline, "C never sent its raw lines to the log"
            assert got["type"] == "message" and got["name"].startswith("raw-"), got
            assert got["text"].startswith("try")
            # The other way too, and the raw client on C is in the count now.
            await say(ann, "hi")
            await expect(ann, "message", text="hi")
            assert await wsclient.recv(rc) == "ann: hi"
            async with v1(a, "/r", "bob") as bob:
                await welcomed(bob, count=4)


async def test_presence_from_redis_is_checked(chatd, redis):
    """What another program left in a room's presence keys, or publishes as presence:
    only well-formed entries reach clients."""
    r = redis()
    alive = "chatd:@node:00000000000000aa#alive"
    who = "chatd:/q#who@00000000000000aa"
    rediskit.command(r.port, "SET", alive, "1", "PX", "60000")
    rediskit.command(r.port, "SADD", "chatd:/q#nodes", "00000000000000aa")
    for field, value in [("7", "zed"), ("x9", "bad-id"), ("8", 'q"uote'), ("9", "n" * 40),
                         ("10", "")]:
        rediskit.command(r.port, "HSET", who, field, value)
    a = node(chatd, r)
    async with v1(a, "/q", "zed") as ann:
        welcome, _ = await welcomed(ann, name="zed2", requested="zed")
        assert online(welcome) == ["zed", "zed2"], welcome["online"]
        assert {"id": 7, "name": "zed"} in welcome["online"]
        await subscribed(r, "/q", 1)
        header = b"\xc1\x41" + b"\0" * 8 + b"\0" * 8  # a log entry of id 0: presence
        for entry in [b"not json", b'{"type":"join","id":"1","name":"a","count":1}',
                      b'{"type":"join","id":1,"name":"' + b"n" * 30 + b'","count":1}',
                      b'{"type":"message","id":1,"name":"a","count":1}',
                      b'{"type":"leave","id":1,"name":"a"}', b"\xff"]:
            assert rediskit.command(r.port, "PUBLISH", "chatd:/q", header + entry) == 1
        await wsclient.assert_nothing_received(ann)
        rediskit.command(r.port, "PUBLISH", "chatd:/q",
                         header + b'{"type":"leave","id":7,"name":"zed","count":1}')
        await expect(ann, "leave", name="zed", count=1)


async def test_presence_is_registered_again_when_redis_comes_back_empty(chatd, redis):
    """Redis restarted empty: each node registers its people again as its session comes
    up, so a joiner elsewhere lists them, counts them and cannot take their names."""
    r = redis()
    a, b = node(chatd, r), node(chatd, r)
    async with v1(a, "/back", "ann") as ann:
        await welcomed(ann)
        async with raw(a, "/back") as ra:
            joined = await expect(ann, "join")
            assert joined["name"].startswith("raw-") and joined["count"] == 2
            r.kill()
            a.wait_for_log(r"WARN redis")
            r.start()
            a.wait_for_log(r"redis: connected again")
            b.wait_for_log(r"redis: connected again")
            # Connected is not yet registered: a's people are written by a script that
            # follows the connection; until then a name is free to claim (PROTOCOL.md).
            deadline = time.monotonic() + 5
            while rediskit.command(r.port, "SCARD", "chatd:/back#nodes") < 1:
                assert time.monotonic() < deadline, "node a did not register its people again"
                await asyncio.sleep(0.02)
            async with v1(b, "/back", "ann") as other:
                w, _ = await welcomed(other, name="ann2", requested="ann", count=3)
                assert online(w) == ["ann", "ann2"]
                await expect(ann, "join", name="ann2", count=3)
            await expect(ann, "leave", name="ann2", count=2)
            await wsclient.assert_nothing_received(ann)


async def test_joiners_at_once_on_two_nodes_all_end_up_knowing_each_other(chatd, redis):
    """Sixteen clients joining at once on two nodes: what each one's welcome lists, then the
    joins and leaves it hears (those that came while it joined are held for it), add up
    to everyone."""
    r = redis()
    a, b = node(chatd, r), node(chatd, r)
    async with v1(a, "/crowd", "ann") as ann, raw(b, "/crowd") as rb:
        await welcomed(ann)
        names = {"ann"} | {f"j{k}" for k in range(16)}
        clients = await asyncio.gather(
            *[v1(b if k % 2 else a, "/crowd", f"j{k}") for k in range(16)]
        )

        async def view(ws):
            welcome, _ = await welcomed(ws)
            seen = {p["name"] for p in welcome["online"] if not p.get("raw")}
            while seen != names:
                try:
                    m = await frame(ws)
                except AssertionError:
                    raise AssertionError((welcome["name"], sorted(seen), welcome))
                if m["name"].startswith("raw-"):
                    continue
                (seen.add if m["type"] == "join" else seen.discard)(m["name"])
            return seen

        views = await asyncio.gather(*[view(ws) for ws in clients])
        assert all(seen == names for seen in views)
        heard = {(await expect(ann, "join"))["name"] for _ in range(16)}
        assert heard == names - {"ann"}
        for ws in clients:
            await ws.close()
