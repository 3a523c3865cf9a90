"""Fan-out to a crowded room: a round of writes that the loop cuts to read what arrived
meanwhile (conn_flush_dirty) loses, doubles and reorders nothing, goes on without new input,
and survives recipients that vanish in the middle of it."""

import asyncio

import wsclient
from test_service import metrics

RECIPIENTS = 400  # a round of 400 writes (1.6 ms and more) is cut: slices of 200 us
SENDERS = 4
PER_SENDER = 25
VANISHING = 60  # recipients that drop their TCP connection during the burst


def open_server(chatd):
    # The test's own senders are fast on purpose, and all its clients share one address.
    return chatd("--rate-limit", "off", "--rate-limit-bytes", "off", "--max-per-ip", "0")


async def receive_all(ws, count):
    return [await wsclient.recv(ws, timeout=10) for _ in range(count)]


async def test_split_rounds_deliver_every_message_once_in_order(chatd):
    server = open_server(chatd)
    everyone = await asyncio.gather(
        *(wsclient.connect(server.url) for _ in range(SENDERS + RECIPIENTS))
    )
    try:
        senders, recipients = everyone[:SENDERS], everyone[SENDERS:]
        before = metrics(server)["chatd_write_rounds_split_total"]
        # The first to join are the last of a round (written most recently delivered to
        # first): they vanish while the round that is writing to them is unfinished,
        # their writes still to come.
        vanishing, staying = recipients[:VANISHING], recipients[VANISHING:]

        async def burst(i, ws):
            for k in range(PER_SENDER):
                await ws.send(f"s{i}-{k}")
                if k % 5 == 4:
                    await asyncio.sleep(0.002)  # keep rounds coming while clients vanish

        async def watch_and_vanish(ws):
            first = await wsclient.recv(ws)  # the burst is being written
            for gone in vanishing:
                gone.transport.abort()  # no close handshake: the server finds out mid-round
            return [first, *await receive_all(ws, SENDERS * PER_SENDER - 1)]

        expected = (SENDERS - 1) * PER_SENDER
        results = await asyncio.gather(
            *(burst(i, ws) for i, ws in enumerate(senders)),
            watch_and_vanish(staying[-1]),  # the last to join, written to first
            *(receive_all(ws, SENDERS * PER_SENDER) for ws in staying[:-1]),
            *(receive_all(ws, expected) for ws in senders),
        )
        heard = [*results[SENDERS + 1 : SENDERS + len(staying)], results[SENDERS]]
        heard += results[SENDERS + len(staying) :]
        for who, messages in enumerate(heard):
            by_sender = {}
            for m in messages:
                s, k = m[1:].split("-")
                by_sender.setdefault(int(s), []).append(int(k))
            own = who - len(staying)  # senders do not hear themselves (no --echo)
            assert sorted(by_sender) == [s for s in range(SENDERS) if s != own], who
            for s, ks in by_sender.items():
                assert ks == list(range(PER_SENDER)), (who, s, ks[:10])

        # One more message with nothing after it: the round must finish without new
        # input waking the loop, or the last recipients would wait forever.
        await senders[0].send("last")
        for ws in staying + senders[1:]:
            assert await wsclient.recv(ws, timeout=5) == "last"
        split = metrics(server)["chatd_write_rounds_split_total"] - before
        assert split > 0, "no round was ever cut: the test did not exercise split rounds"
        print(f"{RECIPIENTS} recipients, {SENDERS * PER_SENDER + 1} messages: {split:.0f} rounds split")
        await wsclient.assert_chatting(senders[1], staying[0])
    finally:
        # Closed all at once: one by one, 400 close handshakes take long under ASan.
        await asyncio.gather(*(ws.close() for ws in everyone if ws.transport is not None and not ws.transport.is_closing()))
    assert server.proc.poll() is None
