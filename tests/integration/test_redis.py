"""Rooms across processes: several chatd nodes joined by a real redis-server (--redis).

Each test starts its own redis-server on a free port in a temporary directory, and chatd
nodes with the conftest fixture. A fake Redis (rediskit.FakeRedis) plays the broken
server. Skipped only when redis-server is not installed (tools/deps.sh test installs it).
"""

import asyncio
import contextlib
import re
import socket
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import rediskit
import wsclient
import wsraw

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian package redis-server; tools/deps.sh test)",
)

CONNECTED = r"redis: connected"


@pytest.fixture
def redis(tmp_path):
    servers = []

    def start(**kwargs):
        server = rediskit.RedisServer(tmp_path, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.continue_process() if server.proc.poll() is None else None
        server.kill()


def node(chatd, url, *args):
    """A chatd node on the backplane, once its link to Redis is up."""
    server = chatd("--redis", url, *args)
    server.wait_for_log(CONNECTED)
    return server


def metrics(server) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def healthz(server):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


async def wait_subscribed(port, channel, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while rediskit.numsub(port, channel) != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{channel}: NUMSUB never reached {count}")
        await asyncio.sleep(0.02)


async def join_hear_leave(r, server, room, sender, text):
    """A member joins `room` on `server`: the channel gets its second subscriber and the
    member hears `sender`; once it leaves, the channel is back to one subscriber."""
    async with wsclient.clients(f"{server.url}{room}", 1) as (member,):
        await wait_subscribed(r.port, f"chatd:/{room}", 2)
        await sender.send(text)
        assert await wsclient.recv(member) == text
    await wait_subscribed(r.port, f"chatd:/{room}", 1)


async def test_three_nodes_every_message_once_everywhere_in_sender_order(chatd, redis):
    r = redis()
    nodes = [node(chatd, r.url) for _ in range(3)]
    per_sender = 40
    async with wsclient.clients(f"{nodes[0].url}room", 2) as c0, wsclient.clients(
        f"{nodes[1].url}room", 2
    ) as c1, wsclient.clients(f"{nodes[2].url}room", 2) as c2:
        clients = c0 + c1 + c2
        await wait_subscribed(r.port, "chatd:/room", 3)

        async def send_all(i, ws):
            for n in range(per_sender):
                await ws.send(f"{i}:{n}")

        async def receive_all(i, ws):
            expected = (len(clients) - 1) * per_sender
            got = await wsclient.recv_many(ws, expected)
            await wsclient.assert_nothing_received(ws)
            return got

        receivers = [asyncio.ensure_future(receive_all(i, ws)) for i, ws in enumerate(clients)]
        await asyncio.gather(*(send_all(i, ws) for i, ws in enumerate(clients)))
        results = await asyncio.gather(*receivers)
    for i, got in enumerate(results):
        by_sender = {}
        for message in got:
            sender, n = map(int, message.split(":"))
            by_sender.setdefault(sender, []).append(n)
        assert i not in by_sender, "a client got its own message back"
        assert sorted(by_sender) == [s for s in range(len(clients)) if s != i]
        for sender, numbers in by_sender.items():
            assert numbers == list(range(per_sender)), (i, sender, numbers[:10])
    m = metrics(nodes[0])
    assert m["chatd_redis_published_total"] == 2 * per_sender
    assert m["chatd_redis_received_total"] == 4 * per_sender


async def test_binary_stays_binary_and_text_stays_text_across_nodes(chatd, redis):
    r = redis()
    a, b = node(chatd, r.url), node(chatd, r.url)
    blob = bytes(range(256)) * 300 + b"\x00"
    text = "h\u00e9llo \U0001F600 \u0000 end"
    async with wsclient.clients(f"{a.url}x", 1) as (ca,), wsclient.clients(f"{b.url}x", 1) as (
        cb,
    ):
        await wait_subscribed(r.port, "chatd:/x", 2)
        await ca.send(blob)
        got = await wsclient.recv(cb)
        assert isinstance(got, bytes) and got == blob
        await cb.send(text)
        got = await wsclient.recv(ca)
        assert isinstance(got, str) and got == text
        await ca.send(b"")
        assert await wsclient.recv(cb) == b""


async def test_largest_message_crosses_nodes(chatd, redis):
    r = redis()
    a, b = node(chatd, r.url), node(chatd, r.url)
    largest = bytes(range(256)) * 4096  # 1 MiB, chatd's default --max-message
    async with wsclient.clients(f"{a.url}big", 1) as (ca,), wsclient.clients(
        f"{b.url}big", 1
    ) as (cb,):
        await wait_subscribed(r.port, "chatd:/big", 2)
        for _ in range(3):
            await ca.send(largest)
            assert await wsclient.recv(cb) == largest
        await wsclient.assert_chatting(ca, cb)
    assert metrics(b)["chatd_redis_reconnects_total"] == 0
    assert metrics(b)["chatd_redis_invalid_total"] == 0


async def test_room_served_by_one_node_is_subscribed_by_that_node_only(chatd, redis):
    r = redis()
    a, b = node(chatd, r.url), node(chatd, r.url)
    async with wsclient.clients(f"{a.url}alpha", 2) as (x, y):
        await wait_subscribed(r.port, "chatd:/alpha", 1)
        await x.send("local only")
        assert await wsclient.recv(y) == "local only"
        wait_until(lambda: metrics(a)["chatd_redis_published_total"] == 1, what="published")
        assert metrics(b)["chatd_redis_received_total"] == 0
        assert metrics(a)["chatd_redis_subscribed_rooms"] == 1
        assert metrics(b)["chatd_redis_subscribed_rooms"] == 0
        # b's last member leaves: b unsubscribes, a stays.
        await join_hear_leave(r, b, "alpha", x, "now both")
        assert metrics(b)["chatd_redis_subscribed_rooms"] == 0
    await wait_subscribed(r.port, "chatd:/alpha", 0)


async def test_prefix_separates_sites_sharing_one_redis(chatd, redis):
    r = redis()
    a = node(chatd, r.url, "--redis-prefix", "site1:")
    b = node(chatd, r.url, "--redis-prefix", "site2:")
    async with wsclient.clients(f"{a.url}x", 1) as (ca,), wsclient.clients(f"{b.url}x", 1) as (
        cb,
    ):
        await wait_subscribed(r.port, "site1:/x", 1)
        await wait_subscribed(r.port, "site2:/x", 1)
        await ca.send("site1 only")
        await wsclient.assert_nothing_received(cb)


async def test_redis_outage_local_chat_goes_on_then_delivery_resumes(chatd, redis):
    r = redis()
    a, b = node(chatd, r.url), node(chatd, r.url)
    async with wsclient.clients(f"{a.url}room", 2) as (a1, a2), wsclient.clients(
        f"{b.url}room", 1
    ) as (b1,):
        await wait_subscribed(r.port, "chatd:/room", 2)
        await a1.send("before")
        assert await wsclient.recv(a2) == "before"
        assert await wsclient.recv(b1) == "before"

        r.kill()
        wait_until(lambda: healthz(a)[0] == 503, what="/healthz 503")
        status, body = healthz(a)
        assert "redis" in body and "down" in body, body
        assert metrics(a)["chatd_redis_up"] == 0
        for n in range(5):
            await a1.send(f"during {n}")
            assert await wsclient.recv(a2) == f"during {n}"
        await wsclient.assert_nothing_received(b1)
        wait_until(lambda: metrics(a)["chatd_redis_dropped_total{reason=\"down\"}"] >= 5,
                   what="drops counted")
        assert len([line for line in a.logs if "WARN redis" in line]) == 1, a.logs

        r.start()
        restarted = time.monotonic()
        # Cross-node delivery resumes by itself: probe until b1 hears a1.
        n = 0
        while True:
            await a1.send(f"after {n}")
            assert await wsclient.recv(a2) == f"after {n}"
            try:
                got = await asyncio.wait_for(b1.recv(), 0.1)
                break
            except asyncio.TimeoutError:
                n += 1
                assert time.monotonic() - restarted < 5, "no delivery 5 s after restart"
        resumed = time.monotonic() - restarted
        assert got.startswith("after "), got
        assert resumed < 2.0, f"delivery resumed {resumed:.2f} s after the restart"
        assert healthz(a) == (200, "ok\n")
        assert metrics(a)["chatd_redis_reconnects_total"] >= 1
        assert metrics(b)["chatd_redis_reconnects_total"] >= 1
        assert metrics(a)["chatd_redis_up"] == 1
    a.wait_for_log(r"redis: connected again")


async def test_node_started_while_redis_is_down_connects_later(chatd, redis, tmp_path):
    port = rediskit.free_port()
    a = chatd("--redis", f"redis://127.0.0.1:{port}")
    assert healthz(a)[0] == 503
    r = redis(port=port)
    a.wait_for_log(CONNECTED, timeout=5)
    b = node(chatd, r.url)
    async with wsclient.clients(f"{a.url}r", 1) as (ca,), wsclient.clients(f"{b.url}r", 1) as (
        cb,
    ):
        await wait_subscribed(r.port, "chatd:/r", 2)
        await wsclient.assert_chatting(ca, cb)


async def test_unix_socket_url(chatd, tmp_path):
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(sock.exists, what="redis socket")
        a = node(chatd, f"unix://{sock}")
        b = node(chatd, f"unix://{sock}")
        async with wsclient.clients(f"{a.url}u", 1) as (ca,), wsclient.clients(
            f"{b.url}u", 1
        ) as (cb,):
            await asyncio.sleep(0.3)
            await wsclient.assert_chatting(ca, cb)
    finally:
        proc.kill()
        proc.wait()


async def test_password_right_and_wrong(chatd, chatd_bin, redis):
    r = redis(password="s3cret pass")
    a = node(chatd, r.url)
    b = node(chatd, f"redis://default:s3cret%20pass@127.0.0.1:{r.port}")
    async with wsclient.clients(f"{a.url}p", 1) as (ca,), wsclient.clients(f"{b.url}p", 1) as (
        cb,
    ):
        await asyncio.sleep(0.3)
        await wsclient.assert_chatting(ca, cb)
    for url, said in [
        (f"redis://:wrong@127.0.0.1:{r.port}", "refused the password"),
        (f"redis://127.0.0.1:{r.port}", "wants a password"),
    ]:
        done = subprocess.run(
            [str(chatd_bin), "--port", "0", "--bind", "127.0.0.1", "--redis", url],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
        )
        assert done.returncode == 1, done
        err = done.stderr.decode()
        assert said in err, err
        assert "wrong" not in err.replace("wrong password", ""), "the password was printed"


@pytest.mark.parametrize(
    "args, named",
    [
        (["--redis", "http://x"], "--redis"),
        (["--redis", "rediss://x:1"], "TLS"),
        (["--redis", "redis://x:99999"], "port"),
        (["--redis", "unix://relative"], "absolute"),
        (["--redis-prefix", "a b"], "--redis-prefix"),
    ],
)
def test_redis_usage_errors_exit_2(chatd_bin, args, named):
    done = subprocess.run([str(chatd_bin), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=10)
    assert done.returncode == 2
    assert named in done.stderr.decode()


def test_without_redis_nothing_changes(server):
    assert not any(k.startswith("chatd_redis") for k in metrics(server))
    assert healthz(server) == (200, "ok\n")


def test_prefix_without_redis_is_a_warning(chatd):
    server = chatd("--redis-prefix", "x:")
    server.wait_for_log(r"WARN --redis-prefix has no effect without --redis")


def bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


# Each case: which connection gets it, and what is sent (a function of the channel the
# connection subscribed first, so that hiredis finds that channel's callback and runs the
# checks it asserts on).
SCRIPTS = {
    "not RESP": ("subscribe", lambda ch: b"this is not RESP\r\n"),
    "closed mid-reply": ("subscribe", lambda ch: b"*3\r\n$7\r\nmessage\r\n$100\r\nabc"),
    "push of one element": ("subscribe", lambda ch: b"*1\r\n$7\r\nmessage\r\n"),
    "push kind not a string": ("subscribe", lambda ch: b"*3\r\n:1\r\n:2\r\n:3\r\n"),
    "push channel not a string": (
        "subscribe", lambda ch: b"*3\r\n$7\r\nmessage\r\n*0\r\n" + bulk(b"x")),
    "unsubscribe without count": (
        "subscribe", lambda ch: b"*2\r\n" + bulk(b"unsubscribe") + bulk(ch)),
    "unsubscribe count not integer": (
        "subscribe", lambda ch: b"*3\r\n" + bulk(b"unsubscribe") + bulk(ch) + bulk(b"y")),
    "unsubscribe with a NUL in its kind": (
        "subscribe", lambda ch: b"*3\r\n" + bulk(b"Unsubscribe\x00x") + bulk(ch) + bulk(b"y")),
    "reply to nothing": ("ping", lambda ch: b"+OK\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    "huge bulk": ("subscribe", lambda ch: b"*3\r\n$7\r\nmessage\r\n$6\r\nchatd:\r\n"
                  + b"$999999999\r\n" + b"x" * (3 << 20)),
    "deep nesting": ("subscribe", lambda ch: b"*1\r\n" * 20),
    # hiredis allocates what an array header announces: 2.8 GB for this one, before the
    # guard refused arrays larger than any reply chatd asks for (fuzz_redis_guard).
    "huge array": ("subscribe", lambda ch: b"*355555555\r\n$7\r\nmessage\r\n"),
}


@pytest.mark.parametrize("case", sorted(SCRIPTS))
async def test_broken_redis_gives_a_clean_reconnect(chatd, case):
    where, payload = SCRIPTS[case]

    def script(kind, conn, channel):
        if kind == where:
            conn.sendall(payload(channel))
            return True
        return False

    fake = rediskit.FakeRedis(script)
    try:
        a = chatd("--redis", fake.url)
        assert fake.wait_connections(5), f"no reconnect: {fake.connections} connections"
        assert a.proc.poll() is None
        status, body = healthz(a)
        assert status in (200, 503)
        async with wsclient.clients(f"{a.url}room", 2) as (x, y):
            await wsclient.assert_chatting(x, y)
    finally:
        fake.close()


async def test_bad_envelopes_from_redis_are_counted_and_dropped(chatd, redis):
    r = redis()
    a = node(chatd, r.url)
    async with wsclient.clients(f"{a.url}e", 1) as (ca,):
        await wait_subscribed(r.port, "chatd:/e", 1)
        bad = [b"", b"short", b"\x00" * 10 + b"x", b"\xc1\x09" + b"\x00" * 8 + b"x",
               b"\xc1\x01" + b"\x01" * 8 + b"\xff\xfe"]
        for payload in bad:
            assert rediskit.command(r.port, "PUBLISH", "chatd:/e", payload) == 1
        good = b"\xc1\x01" + b"\x07" * 8 + "from outside".encode()
        rediskit.command(r.port, "PUBLISH", "chatd:/e", good)
        assert await wsclient.recv(ca) == "from outside"
        await wsclient.assert_nothing_received(ca)
        m = metrics(a)
        assert m["chatd_redis_invalid_total"] == len(bad)
        assert m["chatd_redis_received_total"] == 1
        assert m["chatd_redis_up"] == 1


async def test_slow_redis_bounded_pending_and_counted_drops(chatd, redis):
    r = redis()
    # Flood control off: this sender must outrun Redis, not be slowed by chatd.
    a = node(chatd, r.url, "--rate-limit", "off", "--rate-limit-bytes", "off")
    b = node(chatd, r.url)
    big = "x" * (256 << 10)
    async with wsclient.clients(f"{a.url}s", 2) as (a1, a2), wsclient.clients(
        f"{b.url}s", 1
    ) as (b1,):
        await wait_subscribed(r.port, "chatd:/s", 2)
        r.stop_process()
        try:
            # 64 x 256 KiB = 16 MiB, twice the 8 MiB that may wait for Redis.
            for n in range(64):
                await a1.send(big)
                assert await wsclient.recv(a2) == big  # local delivery goes on
            m = metrics(a)
            assert m["chatd_redis_pending_bytes"] <= 8 << 20
            dropped = m['chatd_redis_dropped_total{reason="backlog"}']
            assert dropped > 0, m
            # A Redis that stays silent is declared down after 3 s.
            wait_until(lambda: healthz(a)[0] == 503, timeout=6, what="/healthz 503")
        finally:
            r.continue_process()
        a.wait_for_log(r"redis: connected again", timeout=6)
        # b may hold stale messages from before; drain them, then chat again.
        while True:
            try:
                await asyncio.wait_for(b1.recv(), 0.5)
            except asyncio.TimeoutError:
                break
        await wait_subscribed(r.port, "chatd:/s", 2)
        await wsclient.assert_chatting(a1, b1)


def test_reuseport_lets_two_nodes_share_a_port(chatd, chatd_bin):
    port = rediskit.free_port()
    chatd("--reuseport", port=port)
    chatd("--reuseport", port=port)
    done = subprocess.run(
        [str(chatd_bin), "--port", str(port), "--bind", "127.0.0.1"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
    )
    assert done.returncode == 1 and re.search(r"Address already in use", done.stderr.decode())


async def test_reuseport_nodes_on_one_port_share_rooms(chatd, redis):
    r = redis()
    port = rediskit.free_port()
    nodes = [chatd("--reuseport", "--redis", r.url, port=port) for _ in range(2)]
    for n in nodes:
        n.wait_for_log(CONNECTED)
        n.admin_port = int(n.wait_for_log(r"admin listening on 127\.0\.0\.1:(\d+)").group(1))
    url = f"ws://127.0.0.1:{port}/shared"
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        # Until the kernel has given both nodes a client (one in 2^39 it never does).
        while len(clients) < 4 or any(metrics(n)["chatd_clients_open"] == 0 for n in nodes):
            assert len(clients) < 40, "the kernel sent every connection to one node"
            clients.append(await stack.enter_async_context(wsclient.connect(url)))
        await wait_subscribed(r.port, "chatd:/shared", 2)
        for i, sender in enumerate(clients[:4]):
            await sender.send(f"from {i}")
            for j, receiver in enumerate(clients):
                if j != i:
                    assert await wsclient.recv(receiver) == f"from {i}"


async def test_handlers_hear_the_backplane_lost_and_stay_open(program, redis):
    """The handler API's on_error(CHATD_ERROR_BACKPLANE_LOST): once per open client, per
    outage, and the clients stay open and keep chatting locally."""
    r = redis()
    server = program("recorder", "--redis", r.url)
    server.wait_for_log(CONNECTED)
    async with wsclient.clients(server.url, 2) as (a, b):
        ids = [int(line.split()[1]) for line in server.out if line.startswith("open ")]
        r.kill()
        for conn_id in ids:
            server.wait_for_out(rf"^error {conn_id} backplane_lost ")
        await a.send("still local")
        assert await wsclient.recv(b) == "still local"
    for conn_id in ids:
        lost = [line for line in server.out if line.startswith(f"error {conn_id} ")]
        assert len(lost) == 1, server.out
        server.wait_for_out(rf"^close {conn_id} 1000 ")


async def test_join_leave_churn_leaves_subscriptions_right(chatd, redis):
    """A room opened and closed over and over (SUBSCRIBE, UNSUBSCRIBE, SUBSCRIBE... in
    flight together): at the end the channel is subscribed exactly when the room has local
    members, and messages from the other node arrive."""
    r = redis()
    a, b = node(chatd, r.url), node(chatd, r.url)
    async with wsclient.clients(f"{b.url}churn", 1) as (sender,):
        await wait_subscribed(r.port, "chatd:/churn", 1)
        # The upgrade and a close in one write: join and leave in one loop pass, so the
        # SUBSCRIBE and the UNSUBSCRIBE go out together; many such clients at once.
        for _ in range(10):
            socks = []
            for _ in range(5):
                sock = socket.create_connection(("127.0.0.1", a.port), timeout=5)
                sock.sendall(wsraw.handshake_request(path="/churn") + wsraw.close(1000))
                socks.append(sock)
            for sock in socks:
                while sock.recv(4096):
                    pass
                sock.close()
        # The log reaches us through a pipe and a drain thread: wait for its lines.
        def opened():
            return len([line for line in a.logs if "opened" in line and "room /churn" in line])

        wait_until(lambda: opened() >= 50, what="50 opened lines")
        assert opened() == 50, opened()
        await wait_subscribed(r.port, "chatd:/churn", 1)  # b only
        await join_hear_leave(r, a, "churn", sender, "after the churn")
    assert metrics(a)["chatd_redis_reconnects_total"] == 0
    assert metrics(a)["chatd_redis_up"] == 1
    assert not a.has_logged(r"WARN redis")
