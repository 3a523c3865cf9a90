"""Helpers around the `websockets` library (10.x asyncio API), the independent client.

Every wait is bounded: a missing message fails the test after STEP_TIMEOUT instead of
hanging it.
"""

import asyncio
import contextlib
import itertools

import websockets

STEP_TIMEOUT = 5.0
QUIET_PERIOD = 0.3  # how long "nothing arrives" is watched for
CLIENT_MAX_SIZE = 4 * 1024 * 1024  # above chatd's default 1 MiB limit, so chatd decides

_probe_numbers = itertools.count()


def connect(url: str, **kwargs):
    """websockets.connect with extensions off (chatd negotiates none) and short timeouts."""
    kwargs.setdefault("compression", None)
    kwargs.setdefault("max_size", CLIENT_MAX_SIZE)
    kwargs.setdefault("open_timeout", STEP_TIMEOUT)
    kwargs.setdefault("close_timeout", STEP_TIMEOUT)
    return websockets.connect(url, **kwargs)


@contextlib.asynccontextmanager
async def clients(url: str, count: int, **kwargs):
    """`count` open connections, closed (with a close handshake) on exit."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(connect(url, **kwargs)) for _ in range(count)]


async def recv(ws, timeout=STEP_TIMEOUT):
    try:
        return await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"no message within {timeout} s") from None


async def recv_many(ws, count: int, timeout=STEP_TIMEOUT) -> list:
    """The next `count` messages; `timeout` bounds each one, not the whole batch."""
    return [await recv(ws, timeout) for _ in range(count)]


async def assert_nothing_received(ws, period=QUIET_PERIOD) -> None:
    # Cancelling recv() is safe in websockets 10: no message is lost.
    try:
        message = await asyncio.wait_for(ws.recv(), period)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"unexpected message: {message[:80]!r}")


async def wait_closed(ws, timeout=STEP_TIMEOUT) -> None:
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"connection still open after {timeout} s") from None


async def assert_chatting(a, b) -> None:
    """a and b each get the other's next message, and it is the first thing they get."""
    for sender, receiver in ((a, b), (b, a)):
        probe = f"probe {next(_probe_numbers)}"
        await sender.send(probe)
        assert await recv(receiver) == probe
