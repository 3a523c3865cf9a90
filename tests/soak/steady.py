"""The soak's steady pair, run as its own process so the round trips it times measure
chatd, not the soak's busy event loop: a sends "steady N" to b, b answers "ack N", a waits
for it; both must see every message in order. 20 round trips a second, well under the
default --rate-limit (50 messages a second): a chatty person or a bot, never slowed.

Usage: steady.py PORT SECONDS. Prints one JSON object: round trips, p50/p99/max in ms,
and the first error (null when every message arrived in order).
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import wsraw  # noqa: E402

INTERVAL = 0.05
FRAME_TIMEOUT = 10.0


def next_data(conn):
    """The next data frame, answering chatd's keepalive pings on the way."""
    while True:
        frame = conn.recv_frame(timeout=FRAME_TIMEOUT)
        if frame.opcode == wsraw.OP_PING:
            conn.send(wsraw.pong(frame.payload))
            continue
        return frame


def run(port, seconds):
    a = wsraw.open_websocket(port, "/steady")
    b = wsraw.open_websocket(port, "/steady")
    rtts, error = [], None
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            n = len(rtts)
            started = time.perf_counter()
            a.send(wsraw.text(f"steady {n}"))
            frame = next_data(b)
            if (frame.opcode, frame.payload) != (wsraw.OP_TEXT, f"steady {n}".encode()):
                error = f"b expected 'steady {n}', got {frame.opcode} {frame.payload[:40]!r}"
                break
            b.send(wsraw.text(f"ack {n}"))
            frame = next_data(a)
            if (frame.opcode, frame.payload) != (wsraw.OP_TEXT, f"ack {n}".encode()):
                error = f"a expected 'ack {n}', got {frame.opcode} {frame.payload[:40]!r}"
                break
            rtts.append(time.perf_counter() - started)
            time.sleep(INTERVAL)
    except (OSError, AssertionError, TimeoutError) as e:
        error = f"after {len(rtts)} round trips: {e!r}"
    for conn in (a, b):
        try:
            conn.send(wsraw.close(1000))
        except OSError:
            pass
        conn.sock.close()
    ordered = sorted(rtts)

    def at(q):
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else None

    return {"round_trips": len(rtts), "p50_ms": at(0.50), "p99_ms": at(0.99),
            "max_ms": ordered[-1] * 1000 if ordered else None, "error": error}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), float(sys.argv[2]))), flush=True)
