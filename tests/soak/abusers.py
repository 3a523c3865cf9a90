"""The abusive clients the soak mixes into its churn (issue 8; docs/BAD_INPUT.md, "The
resource model"), each an episode of bounded length that a worker repeats until the soak
ends:

  ping_flood   a client that never reads floods pings (empty, or of 125 bytes);
  flood        a sender floods 64 KiB messages into a room of readers, which must get
               every message it got in, in order, and never be cut off (half the
               rooms, and the first, also hold a client that never reads);
  stall        512 KiB of tiny messages in one write into a room of 100 non-readers and
               one reader, which must get them in order;
  nonreader    a client that never reads sits in a busy room (a flood room when there is
               one); the first, when there is time, in a room where a bot posts 100 KB/s
               for 90 s, which meets --send-timeout.

chatd runs at its default limits, so a flooder is slowed (50 messages/s, 1 MiB/s), and one
kept over its rate for --flood-timeout (60 s) is closed with 1008: the first flood, stall
and ping flood that fit in the time left last longer than that, on purpose (the ping
flooder, whose queue of pongs stops moving, meets --send-timeout first). Anything that
breaks a promise of the resource model is a violation, and fails the soak.
"""

import asyncio
import itertools
import random
import struct
import time
from collections import Counter

import wsasync
from wsasync import wsraw

CHURN_ROOMS = ["/", "/soak1", "/soak2"]
FLOOD_TIMEOUT = 60.0  # chatd's default --flood-timeout
LONG_EPISODE = FLOOD_TIMEOUT + 10  # outlasts it, so the flood close is seen
# A room where a bot posts 5,000-byte messages 20 times a second (100 KB/s, within every
# default limit): a member that never reads fills the kernel's buffers (4 MB on loopback
# here) in about 30 s; its queue then stops moving, still under --max-backlog, and
# --send-timeout (30 s) cuts it off.
BUSY_EPISODE = 90.0
BUSY_MESSAGE = 5000
BUSY_RATE = 20
FLOOD_READERS = 3
FLOOD_PAYLOAD = 64 * 1024
FLOODER_SNDBUF = 128 * 1024  # keeps what waits in kernel buffers after a flood small
FLOODS_AT_ONCE = 3
STALL_MEMBERS = 100
STALL_BYTES = 512 * 1024
STALLS_AT_ONCE = 2
DRAIN_TIMEOUT = 45.0  # a flooder's last frames pass at 1 MiB/s once it stops
KINDS = ["ping_flood", "flood", "stall", "nonreader"]
WEIGHTS = [2, 2, 1, 3]


def flood_frame(seq):
    """A masked 64 KiB binary frame numbered seq. The zero masking key is legal on the wire
    (chatd cannot tell it from a random one) and makes masking the identity, so building
    a megabyte a second costs the soak nothing."""
    return (b"\x82\xff" + struct.pack("!Q", FLOOD_PAYLOAD) + b"\0\0\0\0" + struct.pack("!I", seq)
            + b"f" * (FLOOD_PAYLOAD - 4))


class RoomReader:
    """Reads a room in order: numbered binary messages, a text "done" at the end. Answers
    chatd's keepalive pings; a Close from chatd means it was cut off."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.received, self.in_order, self.done, self.close = 0, True, False, None

    async def run(self):
        try:
            while True:
                opcode, payload = await wsasync.read_frame(self.reader)
                if opcode == wsraw.OP_PING:
                    self.writer.write(wsraw.pong(payload))
                elif opcode == wsraw.OP_CLOSE:
                    self.close = wsasync.close_code(payload)
                    return
                elif opcode == wsraw.OP_TEXT and payload == b"done":
                    self.done = True
                    return
                elif opcode == wsraw.OP_BINARY:
                    if struct.unpack("!I", payload[:4])[0] != self.received:
                        self.in_order = False
                        return
                    self.received += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close = "eof"


async def watch_for_close(reader, writer):
    """For a sender: answers pings, returns chatd's close code (or "eof")."""
    try:
        while True:
            opcode, payload = await wsasync.read_frame(reader)
            if opcode == wsraw.OP_PING:
                writer.write(wsraw.pong(payload))
            elif opcode == wsraw.OP_CLOSE:
                return wsasync.close_code(payload)
    except (asyncio.IncompleteReadError, ConnectionError):
        return "eof"


class Abuse:
    def __init__(self, port, deadline):
        self.port, self.deadline = port, deadline
        self.episodes = Counter()
        self.figures = Counter()
        self.violations, self.errors = [], []
        self.flood_rooms, self.big_rooms = set(), set()
        self.flood_slots = asyncio.Semaphore(FLOODS_AT_ONCE)
        self.stall_slots = asyncio.Semaphore(STALLS_AT_ONCE)
        self.long_flood_done = self.long_stall_done = self.long_ping_flood_done = False
        self.busy_room_done = False
        self.room_ids = itertools.count()
        # Empty pings (6 bytes each), and pings of 125 bytes, whose pongs fill a non-reader's
        # window within seconds even at the rate limit, so its queue stops moving.
        self.ping_chunks = [b"".join(wsraw.ping(b"") for _ in range(10_000)),
                            b"".join(wsraw.ping(b"p" * 125) for _ in range(500))]
        count = STALL_BYTES // 10  # a 4-byte payload makes a 10-byte client frame
        self.burst = b"".join(wsraw.binary(struct.pack("!I", i)) for i in range(count))

    def violation(self, text):
        self.violations.append(text)
        print(f"VIOLATION: {text}", flush=True)

    def _length(self, low, high, long_wanted):
        """An episode's length in seconds, within the time left; whether it is long."""
        left = self.deadline - time.monotonic()
        if long_wanted and left >= LONG_EPISODE + 5:
            return LONG_EPISODE, True
        return max(0.5, min(random.uniform(low, high), left)), False

    async def worker(self):
        while time.monotonic() < self.deadline:
            kind = random.choices(KINDS, WEIGHTS)[0]
            if kind == "flood" and self.flood_slots.locked():
                kind = "ping_flood"
            if kind == "stall" and self.stall_slots.locked():
                kind = "nonreader"
            self.episodes[kind] += 1
            try:
                await getattr(self, kind)()
            except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, OSError) as e:
                self.errors.append(f"{kind}: {e!r}")

    async def ping_flood(self):
        _, writer = await wsasync.open_nonreader(self.port, random.choice(CHURN_ROOMS))
        seconds, long = self._length(10, 50, not self.long_ping_flood_done)
        self.long_ping_flood_done |= long
        chunk = self.ping_chunks[1] if long else random.choice(self.ping_chunks)
        until = time.monotonic() + seconds
        try:
            while time.monotonic() < until and not writer.is_closing():
                writer.write(chunk)
                await asyncio.wait_for(writer.drain(), max(0.01, until - time.monotonic()))
                self.figures["ping flood bytes written"] += len(chunk)
        except TimeoutError:
            pass  # chatd stopped reading us: the flood ran its time
        except (ConnectionError, OSError):
            self.figures["ping flooders ended by chatd"] += 1
        finally:
            wsasync.reset(writer)

    async def nonreader(self):
        if not self.busy_room_done and self.deadline - time.monotonic() >= BUSY_EPISODE + 5:
            self.busy_room_done = True
            return await self.busy_room()
        room = random.choice(sorted(self.flood_rooms) or sorted(self.big_rooms) or CHURN_ROOMS)
        _, writer = await wsasync.open_nonreader(self.port, room)
        seconds, _ = self._length(10, 45, False)
        await asyncio.sleep(seconds)
        wsasync.reset(writer)

    async def busy_room(self):
        room = f"/busy{next(self.room_ids)}"
        conns = [await wsasync.open_ws(self.port, room)]
        reader = RoomReader(*conns[0])
        tasks = [asyncio.create_task(reader.run())]
        try:
            conns.append(await wsasync.open_nonreader(self.port, room))
            conns.append(await wsasync.open_ws(self.port, room))
            bot_reader, bot = conns[-1]
            closed = asyncio.create_task(watch_for_close(bot_reader, bot))
            tasks.append(closed)
            filler = b"b" * (BUSY_MESSAGE - 4)
            sent, started = 0, time.monotonic()
            while time.monotonic() < started + BUSY_EPISODE and not closed.done():
                bot.write(wsraw.binary(struct.pack("!I", sent) + filler))
                sent += 1
                await asyncio.sleep(1 / BUSY_RATE)
            bot.write(wsraw.text(b"done"))
            await asyncio.wait([tasks[0]], timeout=10)
            if closed.done() or not (reader.done and reader.in_order and reader.received == sent):
                self.violation(f"{room}: a bot within the limits was closed ({closed.done()}), or "
                               f"its reader got {reader.received} of {sent}, in order "
                               f"{reader.in_order}, closed by chatd {reader.close}")
            self.figures["busy room messages delivered in order"] += reader.received
        finally:
            for task in tasks:
                task.cancel()
            for _, writer in conns:
                wsasync.reset(writer)

    async def flood(self):
        async with self.flood_slots:
            room = f"/flood{next(self.room_ids)}"
            seconds, long = self._length(5, 20, not self.long_flood_done)
            self.long_flood_done |= long
            conns, readers, tasks = [], [], []
            try:
                for _ in range(FLOOD_READERS):
                    conns.append(await wsasync.open_ws(self.port, room))
                    readers.append(RoomReader(*conns[-1]))
                    tasks.append(asyncio.create_task(readers[-1].run()))
                if random.random() < 0.5 or not self.figures["flood rooms with a non-reader"]:
                    self.figures["flood rooms with a non-reader"] += 1
                    conns.append(await wsasync.open_nonreader(self.port, room))
                conns.append(await wsasync.open_ws(self.port, room, sndbuf=FLOODER_SNDBUF))
                await self._flood(room, seconds, long, conns[-1], readers, tasks)
            finally:
                for task in tasks:
                    task.cancel()
                for _, writer in conns:
                    wsasync.reset(writer)

    async def _flood(self, room, seconds, long, flooder, readers, tasks):
        reader, writer = flooder
        closed = asyncio.create_task(watch_for_close(reader, writer))
        self.flood_rooms.add(room)
        started = time.monotonic()
        until, sent = started + seconds, 0
        try:
            while time.monotonic() < until and not closed.done():
                writer.write(flood_frame(sent))
                sent += 1
                await asyncio.wait_for(writer.drain(), max(0.01, until - time.monotonic()))
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self.flood_rooms.discard(room)
        self.figures["flood messages written"] += sent
        if not closed.done():
            writer.write(wsraw.text(b"done"))
            readers_done = asyncio.gather(*tasks)
            await asyncio.wait([readers_done, closed], timeout=DRAIN_TIMEOUT,
                               return_when=asyncio.FIRST_COMPLETED)
        if closed.done():  # the flooder was closed: its readers get what chatd had read
            code = closed.result()
            lasted = time.monotonic() - started
            if code != 1008 or lasted < FLOOD_TIMEOUT - 1:
                self.violation(f"{room}: flooder closed with {code} after {lasted:.1f} s")
            else:
                self.figures["flooders closed for flooding (1008)"] += 1
            await asyncio.sleep(3)
            counts = {r.received for r in readers}
            if len(counts) != 1 or any(not r.in_order or r.close is not None for r in readers):
                self.violation(f"{room}: readers after the flood close: "
                               f"{[(r.received, r.in_order, r.close) for r in readers]}")
            self.figures["flood messages delivered to every reader"] += min(counts)
            return
        closed.cancel()
        for index, r in enumerate(readers):
            if not (r.done and r.in_order and r.received == sent):
                self.violation(f"{room}: reader {index} got {r.received} of {sent}, in order "
                               f"{r.in_order}, done {r.done}, closed by chatd {r.close}")
        self.figures["flood messages delivered to every reader"] += sent
        if long:
            self.violation(f"{room}: a flood of {seconds:.0f} s was never closed")

    async def stall(self):
        async with self.stall_slots:
            room = f"/big{next(self.room_ids)}"
            seconds, long = self._length(15, 45, not self.long_stall_done)
            self.long_stall_done |= long
            conns, tasks = [], []
            try:
                for _ in range(STALL_MEMBERS):
                    conns.append(await wsasync.open_nonreader(self.port, room))
                conns.append(await wsasync.open_ws(self.port, room))
                reader = RoomReader(*conns[-1])
                tasks.append(asyncio.create_task(reader.run()))
                conns.append(await wsasync.open_ws(self.port, room))
                await self._stall(room, seconds, long, conns[-1], reader, tasks)
            finally:
                for task in tasks:
                    task.cancel()
                for _, writer in conns:
                    wsasync.reset(writer)

    async def _stall(self, room, seconds, long, sender, reader, tasks):
        closed = asyncio.create_task(watch_for_close(*sender))
        tasks.append(closed)
        self.big_rooms.add(room)
        started = time.monotonic()
        sender[1].write(self.burst)  # one write; chatd takes it in at its own pace
        try:
            await asyncio.wait_for(asyncio.shield(closed), seconds)
        except TimeoutError:
            pass
        finally:
            self.big_rooms.discard(room)
        lasted = time.monotonic() - started
        await asyncio.sleep(0.5)  # what is on its way to the reader arrives
        if not reader.in_order or reader.close is not None or reader.received == 0:
            self.violation(f"{room}: reader got {reader.received}, in order {reader.in_order}, "
                           f"closed by chatd {reader.close}")
        self.figures["stall messages delivered in order"] += reader.received
        self.figures["stall seconds"] += lasted
        if closed.done():
            code = closed.result()
            if code != 1008 or lasted < FLOOD_TIMEOUT - 1:
                self.violation(f"{room}: stall sender closed with {code} after {lasted:.1f} s")
            else:
                self.figures["stall senders closed for flooding (1008)"] += 1
        elif long:
            self.violation(f"{room}: a stall of {seconds:.0f} s was never closed")
