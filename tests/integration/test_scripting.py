"""The README's scripting lines, run as written with the client they name: examples/wschat.py
(Python's websockets) and examples/chat.sh, each against a real chatd with a second,
independent client in the room. npm's wscat is run by tests/node."""

import asyncio
import os
import subprocess
import sys

from wsclient import assert_nothing_received, connect, recv

from conftest import REPO

WSCHAT = REPO / "examples" / "wschat.py"
CHAT_SH = REPO / "examples" / "chat.sh"
RUN_TIMEOUT = 10.0
# The interpreter running this test has Debian's websockets; the scripts' own #! line
# names /usr/bin/python3, which is the same one on Debian.
PYTHON = sys.executable


async def start(*args, stdin=subprocess.PIPE):
    return await asyncio.create_subprocess_exec(
        PYTHON, str(WSCHAT), *map(str, args),
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


async def finish(proc, stdin_bytes=None):
    out, err = await asyncio.wait_for(proc.communicate(stdin_bytes), RUN_TIMEOUT)
    return proc.returncode, out.decode(), err.decode()


async def read_line(proc):
    line = await asyncio.wait_for(proc.stdout.readline(), RUN_TIMEOUT)
    return line.decode().rstrip("\n")


async def wait_for_peer_count(server, count):
    """Until chatd has logged `count` connections opened: wschat.py is then in the room."""
    deadline = asyncio.get_running_loop().time() + RUN_TIMEOUT
    while sum(1 for line in server.logs if " opened from " in line) < count:
        assert asyncio.get_running_loop().time() < deadline, "\n".join(server.logs)
        await asyncio.sleep(0.02)


async def test_wschat_interactive_lines_go_out_and_arrivals_are_printed(server):
    # examples/wschat.py ws://localhost:8080/     type lines; see everyone else's
    async with connect(server.url) as peer:
        proc = await start(server.url)
        await wait_for_peer_count(server, 2)
        proc.stdin.write(b"hello from the terminal\n")
        await proc.stdin.drain()
        assert await recv(peer) == "hello from the terminal"
        await peer.send("hello back")
        assert await read_line(proc) == "hello back"
        await peer.send(b"\x00\x01\x02")
        assert await read_line(proc) == "[binary message, 3 bytes]"
        proc.stdin.close()  # Ctrl-D
        status, out, err = await finish(proc)
        assert status == 0, err
        # wschat.py (connection 2; the peer is 1) said goodbye properly.
        server.wait_for_log(r"connection 2 closed: code 1000, closed by the client")


async def test_wschat_in_a_room_reaches_that_room_only(server):
    # examples/wschat.py ws://localhost:8080/lobby
    lobby = server.url + "lobby"
    async with connect(lobby) as in_lobby, connect(server.url) as elsewhere:
        proc = await start(lobby)
        await wait_for_peer_count(server, 3)
        status, _, err = await finish(proc, b"for the lobby\n")
        assert status == 0, err
        assert await recv(in_lobby) == "for the lobby"
        await assert_nothing_received(elsewhere)


async def test_wschat_one_shot_message(server):
    # examples/wschat.py -m hello ws://localhost:8080/     send one message and quit
    async with connect(server.url) as peer:
        proc = await start("-m", "hello", server.url, stdin=subprocess.DEVNULL)
        status, out, err = await finish(proc)
        assert status == 0, err
        assert out == ""
        assert await recv(peer) == "hello"
        await assert_nothing_received(peer)


async def test_wschat_sends_each_line_of_a_file(server, tmp_path):
    # examples/wschat.py ws://localhost:8080/ < lines.txt
    lines = tmp_path / "lines.txt"
    lines.write_text("first line\n\nsecond line\r\nthird line")  # a blank, CRLF, no last \n
    async with connect(server.url) as peer:
        with lines.open("rb") as f:
            proc = await start(server.url, stdin=f)
            status, _, err = await finish(proc)
        assert status == 0, err
        got = [await recv(peer) for _ in range(3)]
        assert got == ["first line", "second line", "third line"]
        await assert_nothing_received(peer)


async def test_wschat_cannot_connect_says_so_and_fails(chatd):
    server = chatd()
    url = server.url
    assert server.terminate() == 0
    proc = await start("-m", "x", url, stdin=subprocess.DEVNULL)
    status, _, err = await finish(proc)
    assert status == 1
    assert f"cannot connect to {url}" in err


async def test_wschat_reports_an_error_close(chatd):
    server = chatd("--max-message", "16")
    proc = await start("-m", "x" * 17, server.url, stdin=subprocess.DEVNULL)
    status, _, err = await finish(proc)
    assert status == 1
    assert "closed with code 1009" in err


async def test_chat_sh_sends_its_lines_and_prints_the_replies(echo_server):
    # examples/chat.sh ws://localhost:8080/    (with --echo, its own lines come back)
    proc = await asyncio.create_subprocess_exec(
        "sh", str(CHAT_SH), echo_server.url,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "CHAT_WAIT": "0.5"},
    )
    status, out, err = await finish(proc)
    assert status == 0, err
    assert out.splitlines() == [
        "hello from chat.sh",
        "the page shows these lines as from raw-<id>",
        "bye",
    ]
