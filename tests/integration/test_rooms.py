"""Rooms: the request path names the room; clients hear only their own room."""

import json
import urllib.request

import wsclient
import wsraw


def stats(server) -> dict:
    """/stats, on the admin listener (the public port never lists rooms)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.admin_port}/stats", timeout=5) as r:
        assert r.headers["Content-Type"] == "application/json"
        return json.loads(r.read())


async def test_rooms_are_separate(server):
    base = f"ws://127.0.0.1:{server.port}"
    async with wsclient.clients(f"{base}/lobby", 2) as (a, b), wsclient.clients(
        f"{base}/", 1
    ) as (c,), wsclient.clients(f"{base}/other", 1) as (d,):
        await a.send("for the lobby")
        assert await wsclient.recv(b) == "for the lobby"
        await wsclient.assert_nothing_received(c)
        await wsclient.assert_nothing_received(d)
        await c.send("for the root room")
        await wsclient.assert_nothing_received(a)
        await wsclient.assert_nothing_received(d)


async def test_query_string_is_not_part_of_the_room(server):
    base = f"ws://127.0.0.1:{server.port}"
    async with wsclient.clients(f"{base}/lobby?x=1", 1) as (a,), wsclient.clients(
        f"{base}/lobby", 1
    ) as (b,):
        await wsclient.assert_chatting(a, b)


async def test_room_names_are_case_sensitive(server):
    base = f"ws://127.0.0.1:{server.port}"
    async with wsclient.clients(f"{base}/Lobby", 1) as (a,), wsclient.clients(
        f"{base}/lobby", 1
    ) as (b,):
        await a.send("x")
        await wsclient.assert_nothing_received(b)


def test_invalid_room_names_get_400(server):
    for path in ["/a/b", "/" + "x" * 64, "/sp%20ace", "/a%"]:
        request = wsraw.handshake_request(path=path)
        response = wsraw.http_exchange(server.port, request)
        assert response.status == 400, (path, response.status)
        assert b"room" in response.body


def test_longest_room_name_is_accepted(server):
    with wsraw.open_websocket(server.port, path="/" + "x" * 63):
        pass


async def test_stats_lists_rooms_and_empty_rooms_disappear(server):
    base = f"ws://127.0.0.1:{server.port}"
    assert stats(server) == {"clients": 0, "rooms_open": 0, "rooms": []}
    async with wsclient.clients(f"{base}/big", 3), wsclient.clients(f"{base}/small", 1):
        s = stats(server)
        assert s["clients"] == 4
        assert s["rooms_open"] == 2
        assert s["rooms"] == [{"name": "/big", "clients": 3}, {"name": "/small", "clients": 1}]
    # Closing is asynchronous on the server side: poll briefly.
    for _ in range(50):
        if stats(server)["rooms_open"] == 0:
            break
        await __import__("asyncio").sleep(0.05)
    assert stats(server) == {"clients": 0, "rooms_open": 0, "rooms": []}


async def test_stats_is_bounded_to_the_largest_rooms(server):
    base = f"ws://127.0.0.1:{server.port}"
    async with wsclient.clients(f"{base}/crowd", 2):
        conns = [wsraw.open_websocket(server.port, path=f"/r{i}") for i in range(60)]
        try:
            s = stats(server)
            assert s["rooms_open"] == 61
            assert len(s["rooms"]) == 50
            assert s["rooms"][0] == {"name": "/crowd", "clients": 2}
        finally:
            for c in conns:
                c.sock.close()
