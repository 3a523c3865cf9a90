"""Graceful shutdown: on SIGTERM chatd sends Close 1001 to every client, waits at most 2 s
for them, and exits 0."""

import asyncio
import signal

import wsraw
from wsclient import clients, wait_closed

GOING_AWAY = 1001
EXIT_WITHIN = 5.0  # 2 s of grace in the spec, plus margin for a loaded machine


def test_sigterm_without_clients_exits_0(server):
    assert server.terminate(EXIT_WITHIN) == 0


async def test_sigterm_sends_1001_to_library_clients_and_exits_0(server):
    async with clients(server.url, 2) as (a, b):
        server.proc.send_signal(signal.SIGTERM)
        for ws in (a, b):
            await wait_closed(ws)
            assert ws.close_code == GOING_AWAY
    assert await asyncio.to_thread(server.terminate, EXIT_WITHIN) == 0


def test_sigterm_sends_1001_to_raw_client_that_never_answers(server):
    # The raw client does not send its own Close: chatd must still give up and exit.
    with wsraw.open_websocket(server.port) as conn:
        server.proc.send_signal(signal.SIGTERM)
        code, _ = conn.expect_close()
        assert code == GOING_AWAY
    assert server.terminate(EXIT_WITHIN) == 0


def test_sigterm_with_idle_and_half_handshaken_connections_exits_0(server):
    with wsraw.RawConnection(server.port) as idle, wsraw.RawConnection(server.port) as half:
        half.send(wsraw.handshake_request()[:30])
        server.proc.send_signal(signal.SIGTERM)
        assert server.terminate(EXIT_WITHIN) == 0
        # Neither ever became a WebSocket, so they get no Close frame, only the end of TCP.
        idle.assert_closed_by_server()
        half.assert_closed_by_server()


def test_sigterm_during_message_exchange_exits_0(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(wsraw.text("partial", fin=False))
        echo_server.proc.send_signal(signal.SIGTERM)
        code, _ = conn.expect_close()
        assert code == GOING_AWAY
    assert echo_server.terminate(EXIT_WITHIN) == 0
