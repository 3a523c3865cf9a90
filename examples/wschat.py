#!/usr/bin/python3
"""wschat: a small command-line WebSocket client for chatd, on Python's websockets library
(Debian 12: apt-get install python3-websockets; version 10.4 or later).

    examples/wschat.py ws://localhost:8080/              type lines; see everyone else's
    examples/wschat.py ws://localhost:8080/lobby         the same, in the room /lobby
    examples/wschat.py -m hello ws://localhost:8080/     send one message and quit
    examples/wschat.py ws://localhost:8080/ < lines.txt  one message per line of a file

Each line of standard input (or each -m) is sent as one text message, without its line
end; blank lines are skipped. Every message that arrives is printed on a line of its own
(a binary one as "[binary message, N bytes]"). When the input ends, wschat keeps printing
for --wait seconds (default 1), then closes the connection with code 1000 and exits 0. It
exits 1 if it cannot connect or the server closes the connection with an error code.
"""

import argparse
import asyncio
import sys
import threading

import websockets

# Larger than chatd's default --max-message (1 MiB), so the server is the one to decide.
MAX_MESSAGE = 64 * 1024 * 1024


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="wschat.py",
        description="Send lines to a chatd room and print what arrives.",
        epilog="Without -m, standard input is read: one message per line.",
    )
    parser.add_argument("url", help="ws://host:port/room")
    parser.add_argument(
        "-m", "--message", action="append", metavar="TEXT",
        help="send TEXT instead of reading standard input (repeatable)",
    )
    parser.add_argument(
        "-w", "--wait", type=float, default=1.0, metavar="SECONDS",
        help="after the input ends, keep printing for SECONDS (default: 1)",
    )
    return parser.parse_args(argv)


def read_lines(loop, queue):
    """Runs in a thread: the event loop cannot wait on a regular file, and a blocking read
    of a terminal must not stop incoming messages from being printed. None marks the end."""
    try:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)
    except RuntimeError:
        pass  # the loop has closed: wschat is exiting


async def print_incoming(ws):
    try:
        async for message in ws:
            if isinstance(message, bytes):
                message = f"[binary message, {len(message)} bytes]"
            print(message, flush=True)
    except websockets.exceptions.ConnectionClosed:
        pass  # chat() reports the close code


async def send_outgoing(ws, args):
    try:
        if args.message is not None:
            for text in args.message:
                await ws.send(text)
            return
        queue = asyncio.Queue()
        threading.Thread(
            target=read_lines, args=(asyncio.get_running_loop(), queue), daemon=True
        ).start()
        while (line := await queue.get()) is not None:
            if line.strip():
                await ws.send(line)
    except websockets.exceptions.ConnectionClosed:
        pass  # chat() reports the close code


async def chat(args):
    try:
        ws = await websockets.connect(
            args.url, max_size=MAX_MESSAGE, compression=None, open_timeout=10
        )
    except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as e:
        print(f"wschat: cannot connect to {args.url}: {e}", file=sys.stderr)
        return 1
    reader = asyncio.create_task(print_incoming(ws))
    writer = asyncio.create_task(send_outgoing(ws, args))
    # Whichever ends first: the input (then linger for --wait), or the connection.
    await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    if writer.done() and not reader.done():
        await asyncio.wait({reader}, timeout=args.wait)
    writer.cancel()
    reader.cancel()
    await ws.close()
    code = ws.close_code
    if code not in (1000, 1001):
        reason = f": {ws.close_reason}" if ws.close_reason else ""
        print(f"wschat: connection closed with code {code}{reason}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    args = parse_args(argv)
    try:
        return asyncio.run(chat(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
