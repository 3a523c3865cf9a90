"""Frames written by hand (RFC 6455 sections 5 and 7): protocol errors and the close code
each one earns, control frames, close codes, UTF-8 checking and the message size limit.

Every protocol error is provoked on a raw connection while two `websockets` clients stay
connected; afterwards those two must still chat, and must not have received anything of
the faulty connection's traffic.
"""

import asyncio

import pytest

import wsraw
from wsclient import assert_chatting, clients
from wsraw import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    binary,
    close,
    continuation,
    frame,
    ping,
    pong,
    text,
)

PROTOCOL_ERROR = 1002
INVALID_PAYLOAD = 1007
MESSAGE_TOO_BIG = 1009

# The fail-fast sample of the Autobahn test suite (case 6.4.1): "κόσμε" up to an encoded
# surrogate U+D800, which no later byte can make valid.
KOSME_THEN_SURROGATE = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"


def provoke(port: int, data: bytes):
    """Open a raw connection, send `data` in one write, return the server's (code, reason)."""
    with wsraw.open_websocket(port) as conn:
        conn.send(data)
        return conn.expect_close()


async def assert_fails_with(server, data: bytes, expected_code: int):
    async with clients(server.url, 2) as (a, b):
        code, _ = await asyncio.to_thread(provoke, server.port, data)
        assert code == expected_code, f"expected close {expected_code}, got {code}"
        await assert_chatting(a, b)


def echo_roundtrip(conn, data: bytes):
    """Send frames to an --echo server and return the message that comes back."""
    conn.send(data)
    return conn.recv_message()


# --- framing errors: 1002 ----------------------------------------------------------------


async def test_unmasked_frame_closes_1002(server):
    await assert_fails_with(server, text("naked", mask=False), PROTOCOL_ERROR)


@pytest.mark.parametrize("bit", ["rsv1", "rsv2", "rsv3"])
async def test_rsv_bit_closes_1002(server, bit):
    await assert_fails_with(server, text("reserved", **{bit: True}), PROTOCOL_ERROR)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
async def test_reserved_opcode_closes_1002(server, opcode):
    await assert_fails_with(server, frame(opcode, b"x"), PROTOCOL_ERROR)


async def test_64bit_length_with_top_bit_set_closes_1002(server):
    header_only = frame(OP_BINARY, b"", length_bytes=8, declared_length=1 << 63)
    await assert_fails_with(server, header_only, PROTOCOL_ERROR)


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
async def test_control_frame_without_fin_closes_1002(server, opcode):
    await assert_fails_with(server, frame(opcode, b"", fin=False), PROTOCOL_ERROR)


@pytest.mark.parametrize("opcode", [OP_PING, OP_PONG, OP_CLOSE])
async def test_control_frame_over_125_bytes_closes_1002(server, opcode):
    payload = wsraw.close_payload(1000, "r" * 124) if opcode == OP_CLOSE else b"p" * 126
    await assert_fails_with(server, frame(opcode, payload), PROTOCOL_ERROR)


async def test_continuation_without_message_closes_1002(server):
    await assert_fails_with(server, continuation("orphan"), PROTOCOL_ERROR)


@pytest.mark.parametrize("second", [text, binary], ids=["text", "binary"])
async def test_new_message_during_fragmented_message_closes_1002(server, second):
    data = text("first half", fin=False) + second("intruder")
    await assert_fails_with(server, data, PROTOCOL_ERROR)


# --- UTF-8: 1007 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"\x80",
        b"\xc0\xaf",  # overlong "/"
        b"\xe0\x80\xaf",  # overlong, 3 bytes
        b"\xed\xa0\x80",  # surrogate U+D800
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"\xf8\x88\x80\x80\x80",  # 5-byte form
        b"hello \xce",  # message ends inside a sequence
        b"\xe1\xbd",
        KOSME_THEN_SURROGATE,
    ],
    ids=lambda p: p.hex(),
)
async def test_invalid_utf8_text_closes_1007(server, payload):
    await assert_fails_with(server, text(payload), INVALID_PAYLOAD)


async def test_invalid_utf8_in_last_fragment_closes_1007(server):
    data = text("fine so far ", fin=False) + continuation(b"\xff")
    await assert_fails_with(server, data, INVALID_PAYLOAD)


async def test_fragmented_text_ending_inside_sequence_closes_1007(server):
    data = text(b"\xce", fin=False) + continuation(b"", fin=True)
    await assert_fails_with(server, data, INVALID_PAYLOAD)


async def test_invalid_utf8_fails_before_message_is_complete(server):
    # Only the first fragment is sent; the close must come without the rest (section 8.1).
    await assert_fails_with(server, text(KOSME_THEN_SURROGATE, fin=False), INVALID_PAYLOAD)


def test_utf8_sequences_split_across_fragments_are_accepted(echo_server):
    word = "κόσμε 🎉".encode("utf-8")
    # Cut inside the 2-byte "κ", the 3-byte "ό" and the 4-byte emoji.
    cuts = [1, 3, 4, len(word) - 3, len(word) - 1]
    pieces = [word[i:j] for i, j in zip([0] + cuts, cuts + [len(word)])]
    data = text(pieces[0], fin=False)
    data += b"".join(continuation(p, fin=False) for p in pieces[1:-1])
    data += continuation(pieces[-1])
    with wsraw.open_websocket(echo_server.port) as conn:
        assert echo_roundtrip(conn, data) == (OP_TEXT, word)


def test_binary_message_is_not_checked_as_utf8(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        assert echo_roundtrip(conn, binary(b"\xff\xfe\xed\xa0\x80")) == (OP_BINARY, b"\xff\xfe\xed\xa0\x80")


# --- message size limit: 1009 -----------------------------------------------------------------


@pytest.fixture
def limited_server(chatd):
    return chatd("--max-message", "1000")


@pytest.fixture
def limited_echo_server(chatd):
    return chatd("--echo", "--max-message", "1000")


async def test_message_over_max_message_closes_1009(limited_server):
    await assert_fails_with(limited_server, binary(b"b" * 1001), MESSAGE_TOO_BIG)


async def test_text_message_over_max_message_closes_1009(limited_server):
    await assert_fails_with(limited_server, text("t" * 1001), MESSAGE_TOO_BIG)


async def test_fragmented_message_over_max_message_closes_1009(limited_server):
    data = binary(b"b" * 500, fin=False) + continuation(b"b" * 501)
    await assert_fails_with(limited_server, data, MESSAGE_TOO_BIG)


async def test_many_small_fragments_over_max_message_close_1009(limited_server):
    data = text("x" * 100, fin=False)
    data += b"".join(continuation("x" * 100, fin=False) for _ in range(9))
    data += continuation("x")  # byte 1001
    await assert_fails_with(limited_server, data, MESSAGE_TOO_BIG)


@pytest.mark.parametrize(
    "data",
    [
        binary(b"m" * 1000),
        binary(b"m" * 400, fin=False) + continuation(b"m" * 600),
        binary(b"m" * 999, fin=False) + continuation(b"m") + ping(b"m" * 125),
    ],
    ids=["single frame", "two fragments", "fragments and a ping"],
)
def test_message_of_exactly_max_message_passes(limited_echo_server, data):
    with wsraw.open_websocket(limited_echo_server.port) as conn:
        assert echo_roundtrip(conn, data) == (OP_BINARY, b"m" * 1000)


# --- control frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(125))], ids=["empty", "short", "125 bytes"])
def test_ping_is_answered_with_pong_with_same_payload(server, payload):
    with wsraw.open_websocket(server.port) as conn:
        conn.send(ping(payload))
        answer = conn.recv_frame()
        assert (answer.opcode, answer.fin, answer.payload) == (OP_PONG, True, payload)


def test_several_pings_are_each_answered_in_order(server):
    with wsraw.open_websocket(server.port) as conn:
        conn.send(b"".join(ping(f"ping {i}") for i in range(10)))
        answers = [conn.recv_frame() for _ in range(10)]
        assert [(f.opcode, f.payload) for f in answers] == [(OP_PONG, f"ping {i}".encode()) for i in range(10)]


def test_unsolicited_pong_is_ignored(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(pong(b"unasked"))
        assert echo_roundtrip(conn, text("still here")) == (OP_TEXT, b"still here")


def test_ping_between_fragments_is_answered_at_once(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(text("frag", fin=False) + ping(b"in the middle"))
        # The message is not finished yet, so the first frame back can only be the pong.
        answer = conn.recv_frame()
        assert (answer.opcode, answer.payload) == (OP_PONG, b"in the middle")
        conn.send(pong(b"and a pong") + continuation("mented", fin=False) + continuation("!"))
        assert conn.recv_message() == (OP_TEXT, b"fragmented!")


async def test_message_with_interleaved_control_frames_reaches_others_intact(server):
    data = binary(b"one ", fin=False) + ping(b"1") + continuation(b"two ", fin=False)
    data += pong(b"2") + continuation(b"three")
    async with clients(server.url, 1) as (a,):
        with wsraw.open_websocket(server.port) as conn:
            conn.send(data)
            answer = await asyncio.to_thread(conn.recv_frame)
            assert (answer.opcode, answer.payload) == (OP_PONG, b"1")
            received = await asyncio.wait_for(a.recv(), 5)
            assert received == b"one two three"


# --- server frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("size, length_bytes", [(125, 0), (126, 2), (65535, 2), (65536, 8)])
def test_server_uses_minimal_length_encoding(echo_server, size, length_bytes):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(binary(bytes(size)))
        received = conn.recv_frame()  # recv_frame also checks it is not masked
        assert (received.opcode, len(received.payload)) == (OP_BINARY, size)
        assert received.length_bytes == length_bytes


def test_frames_sent_one_byte_at_a_time_are_reassembled(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send_slowly(text("slow", fin=False) + continuation("ly"))
        assert conn.recv_message() == (OP_TEXT, b"slowly")


def test_many_frames_in_one_write_are_all_processed_in_order(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(b"".join(text(f"m{i}") for i in range(200)))
        assert [conn.recv_text() for _ in range(200)] == [f"m{i}" for i in range(200)]


def test_non_minimal_length_encodings_are_accepted(echo_server):
    # Section 5.2 tells senders to use the minimal form; a receiver may still decode others.
    with wsraw.open_websocket(echo_server.port) as conn:
        assert echo_roundtrip(conn, text("short", length_bytes=2)) == (OP_TEXT, b"short")
        assert echo_roundtrip(conn, text("short", length_bytes=8)) == (OP_TEXT, b"short")


def test_valid_message_before_error_is_delivered_before_close(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(text("a") + text("b", mask=False))
        assert conn.recv_message() == (OP_TEXT, b"a")
        assert conn.expect_close()[0] == PROTOCOL_ERROR


def test_no_message_is_delivered_after_the_failing_frame(echo_server):
    with wsraw.open_websocket(echo_server.port) as conn:
        conn.send(text("a") + text("bad", rsv1=True) + text("never"))
        code, _ = conn.expect_close()
        assert code == PROTOCOL_ERROR
        delivered = [(f.opcode, f.payload) for f in conn.frames_before_close]
        assert delivered == [(OP_TEXT, b"a")]


# --- close handshake -------------------------------------------------------------------------


def test_close_1000_with_reason_is_answered_1000(server):
    with wsraw.open_websocket(server.port) as conn:
        conn.send(close(1000, "bye"))
        assert conn.expect_close()[0] == 1000


def test_empty_close_is_answered_with_empty_close(server):
    with wsraw.open_websocket(server.port) as conn:
        conn.send(close())
        assert conn.expect_close() == (None, "")


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
)
def test_valid_close_code_is_echoed(server, code):
    with wsraw.open_websocket(server.port) as conn:
        conn.send(close(code, "reason"))
        assert conn.expect_close()[0] == code


def test_close_with_longest_reason_is_accepted(server):
    with wsraw.open_websocket(server.port) as conn:
        conn.send(close(1000, "é" * 61 + "x"))  # 2 + 123 = 125 bytes
        assert conn.expect_close()[0] == 1000


async def test_close_with_1_byte_payload_closes_1002(server):
    await assert_fails_with(server, frame(OP_CLOSE, b"\x03"), PROTOCOL_ERROR)


@pytest.mark.parametrize(
    "code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
)
async def test_invalid_close_code_closes_1002(server, code):
    await assert_fails_with(server, close(code), PROTOCOL_ERROR)


async def test_close_reason_not_utf8_closes_1002(server):
    await assert_fails_with(server, close(1000, b"\xff\xfe"), PROTOCOL_ERROR)


def test_data_after_close_is_not_delivered(server):
    with wsraw.open_websocket(server.port) as witness:
        with wsraw.open_websocket(server.port) as conn:
            conn.send(close(1000) + text("after close"))
            assert conn.expect_close()[0] == 1000
        with wsraw.open_websocket(server.port) as other:
            other.send(text("marker"))
            assert witness.recv_text() == "marker"
