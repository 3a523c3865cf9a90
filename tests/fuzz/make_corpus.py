#!/usr/bin/env python3
"""Writes the seed corpus in tests/fuzz/corpus/ (run from anywhere; it replaces the files).

http:     request heads as real clients send them (header sets and order written from what
          Chromium, Firefox, websocat, Python websockets, Node ws and curl put on the wire),
          plain requests for the page and the endpoints, and malformed ones.
wsreader: the 4-byte prefix fuzz_wsreader.c reads (max_message, split pattern, seed) and
          masked client frames of every kind, valid and not.
utf8:     strings around every boundary of RFC 3629, valid and not.
json:     chatd.v1 frames as clients send them, every escape, and the hostile shapes
          (deep nesting, lone surrogates, bad UTF-8 inside strings).
tls:      fuzz_tls.c's two bytes (mode and client, piece sizes), then real ClientHellos
          (made here by Python's ssl module, so their random parts change with each run),
          or the operations a client performs after a real handshake.
"""
import os
import ssl
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# --- http --------------------------------------------------------------------------------

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3


def head(lines, eol="\r\n"):
    return (eol.join(lines) + eol + eol).encode()


HTTP = {
    "chromium-120": head([
        "GET /lobby HTTP/1.1",
        "Host: localhost:8080",
        "Connection: Upgrade",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Upgrade: websocket",
        "Origin: http://localhost:8080",
        "Sec-WebSocket-Version: 13",
        "Accept-Encoding: gzip, deflate, br",
        "Accept-Language: en-US,en;q=0.9",
        "Sec-WebSocket-Key: " + KEY,
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]),
    "firefox-121": head([
        "GET / HTTP/1.1",
        "Host: localhost:8080",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Accept: */*",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        "Sec-WebSocket-Version: 13",
        "Origin: http://localhost:8080",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        "DNT: 1",
        "Connection: keep-alive, Upgrade",
        "Sec-Fetch-Dest: empty",
        "Sec-Fetch-Mode: websocket",
        "Sec-Fetch-Site: same-origin",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "Upgrade: websocket",
    ]),
    "websocat": head([
        "GET /room_2 HTTP/1.1",
        "Host: 127.0.0.1:8080",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==",
    ]),
    "python-websockets-12": head([
        "GET /?nick=ana HTTP/1.1",
        "Host: localhost:8080",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: 9vBmdO6Mb3mJ4oGyoG4Eyw==",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "User-Agent: Python/3.11 websockets/12.0",
    ]),
    "node-ws-8": head([
        "GET / HTTP/1.1",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: mRvIuZ4XKg1YoGyDhhVQZg==",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "Host: localhost:8080",
    ]),
    # The head and the first frame in one segment, as a client that does not wait may send.
    "pipelined-frame": head([
        "GET / HTTP/1.1",
        "Host: localhost:8080",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: " + KEY,
        "Sec-WebSocket-Version: 13",
    ]) + bytes.fromhex("818537fa213d7f9f4d5158"),
    "curl-page": head([
        "GET / HTTP/1.1", "Host: localhost:8080", "User-Agent: curl/7.88.1", "Accept: */*",
    ]),
    "curl-head": head([
        "HEAD /lobby HTTP/1.1", "Host: localhost:8080", "User-Agent: curl/7.88.1", "Accept: */*",
    ]),
    "healthz": head(["GET /healthz HTTP/1.1", "Host: localhost:8080", "User-Agent: kube-probe/1.28",
                     "Accept: */*", "Connection: close"]),
    "metrics-prometheus": head([
        "GET /metrics HTTP/1.1",
        "Host: localhost:8080",
        "User-Agent: Prometheus/2.45.0",
        "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "Accept-Encoding: gzip",
        "X-Prometheus-Scrape-Timeout-Seconds: 10",
    ]),
    "stats": head(["GET /stats?top=5 HTTP/1.1", "Host: chat.example.org"]),
    "http10-page": head(["GET / HTTP/1.0", "User-Agent: Wget/1.21"]),
    "bare-lf": head(["GET / HTTP/1.1", "Host: x", "Upgrade: websocket", "Connection: upgrade",
                     "Sec-WebSocket-Key: " + KEY, "Sec-WebSocket-Version: 13"], eol="\n"),
    "leading-lf": b"\n" + head(["GET / HTTP/1.1", "Host: x"]),
    "leading-crlf": b"\r\n" + head(["GET / HTTP/1.1", "Host: x"]),
    "origin-listed": head(["GET / HTTP/1.1", "Host: chat.example.org", "Upgrade: websocket",
                           "Connection: Upgrade", "Origin: https://chat.example.org",
                           "Sec-WebSocket-Key: " + KEY, "Sec-WebSocket-Version: 13"]),
    "post-405": head(["POST / HTTP/1.1", "Host: x", "Content-Length: 0"]),
    "room-page": head(["GET /favicon.ico HTTP/1.1", "Host: x"]),
    "not-found": head(["GET /static/app.js HTTP/1.1", "Host: x"]),
    "version-8-426": head(["GET / HTTP/1.1", "Host: x", "Upgrade: websocket",
                           "Connection: Upgrade", "Sec-WebSocket-Key: " + KEY,
                           "Sec-WebSocket-Version: 8"]),
    "no-key": head(["GET / HTTP/1.1", "Host: x", "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Version: 13"]),
    "short-key": head(["GET / HTTP/1.1", "Host: x", "Upgrade: websocket", "Connection: Upgrade",
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==", "Sec-WebSocket-Version: 13"]),
    "two-hosts": head(["GET / HTTP/1.1", "Host: a", "Host: b"]),
    "bad-room": head(["GET /a/b HTTP/1.1", "Host: x", "Upgrade: websocket",
                      "Connection: Upgrade", "Sec-WebSocket-Key: " + KEY,
                      "Sec-WebSocket-Version: 13"]),
    "obs-fold": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "lone-cr": b"GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n",
    "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "tls-client-hello": bytes.fromhex("160301012c0100012803035f1a2b3c4d5e6f"),
    "incomplete": b"GET /lobby HTTP/1.1\r\nHost: localhost:8080\r\nUpgr",
    "too-many-headers": head(["GET / HTTP/1.1"] + ["X-H%d: v" % i for i in range(65)]),
    "h2c-plain": head(["GET / HTTP/1.1", "Host: x", "Connection: Upgrade, HTTP2-Settings",
                       "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"]),
    "absolute-form-upgrade": head(["GET http://chat.example:8080/lobby?x=1 HTTP/1.1",
                                   "Host: elsewhere", "Upgrade: h2c", "Upgrade: websocket",
                                   "Connection: Upgrade", "Sec-WebSocket-Key: " + KEY,
                                   "Sec-WebSocket-Version: 13"]),
    "absolute-form-empty-path": head(["GET HTTPS://a?x HTTP/1.1", "Host: a"]),
    "two-versions-400": head(["GET / HTTP/1.1", "Host: x", "Upgrade: websocket",
                              "Connection: Upgrade", "Sec-WebSocket-Key: " + KEY,
                              "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13"]),
    "key-padding-bits": head(["GET / HTTP/1.1", "Host: x", "Upgrade: websocket",
                              "Connection: Upgrade", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==",
                              "Sec-WebSocket-Version: 13"]),
    "online-room": head(["GET /online/lobby HTTP/1.1", "Host: chat.example.org"]),
}

# --- wsreader ----------------------------------------------------------------------------

MASK = bytes.fromhex("37fa213d")
DEFAULT_MAX = b"\x80\x00"


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, form=None, mask=MASK):
    """A client frame; form forces the length encoding: 7, 16 or 64."""
    n = len(payload)
    if form is None:
        form = 7 if n < 126 else 16 if n < 65536 else 64
    out = bytearray([(0x80 if fin else 0) | rsv << 4 | opcode])
    m = 0x80 if masked else 0
    if form == 7:
        out.append(m | n)
    elif form == 16:
        out.append(m | 126)
        out += struct.pack(">H", n)
    else:
        out.append(m | 127)
        out += struct.pack(">Q", n)
    if masked:
        out += mask
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return bytes(out + payload)


def prefix(max_message=None, kind=1, param=0, seed=0):
    """max_message None: the 1 MiB default; kind/param: the split pattern."""
    mm = DEFAULT_MAX if max_message is None else struct.pack(">H", max_message)
    return mm + bytes([(param << 3) | kind, seed])


def close(code=None, reason=b""):
    return frame(0x8, b"" if code is None else struct.pack(">H", code) + reason)


HELLO = bytes.fromhex("818537fa213d7f9f4d5158")  # RFC 6455 section 5.7
GREETING = "Grüße 🎉".encode()
WS = {
    "rfc-hello-bytewise": prefix(kind=1) + HELLO,
    "text-hello-whole": prefix(kind=0, param=31) + frame(0x1, b"Hello, chatd!"),
    "binary-16bit": prefix(kind=2, param=7, seed=3) + frame(0x2, bytes(range(256)) * 2),
    "binary-16bit-30000": prefix(kind=2, param=12, seed=9) + frame(0x2, b"\xa5" * 30000),
    "binary-64bit-form": prefix(kind=5, seed=1) + frame(0x2, b"x" * 200, form=64),
    "text-64bit-incomplete": prefix(kind=0, param=3) + frame(0x1, b"y" * 70000, form=64)[:1000],
    "text-16bit-nonminimal": prefix(kind=4, seed=5) + frame(0x1, b"short", form=16),
    "fragmented-text-ping": prefix(kind=3, seed=7) + frame(0x1, b"Hel", fin=False)
    + frame(0x9, b"are you there") + frame(0x0, b"lo ", fin=False) + frame(0x0, b"world"),
    # Fragment boundaries inside the 2-byte "ü" and the 4-byte emoji.
    "fragmented-utf8-split": prefix(kind=1) + frame(0x1, GREETING[:3], fin=False)
    + frame(0x0, GREETING[3:10], fin=False) + frame(0x0, GREETING[10:]),
    "fragmented-binary-empty": prefix(kind=7, seed=2) + frame(0x2, b"", fin=False)
    + frame(0x0, b"", fin=False) + frame(0x0, b"\x00\xff"),
    "ping-pong": prefix(kind=0, param=1) + frame(0x9, b"ping!") + frame(0xA, b"")
    + frame(0xA, b"p" * 125),
    "close-1000-reason": prefix(kind=6, param=1) + frame(0x1, b"bye all")
    + close(1000, "au revoir ✓".encode()),
    "close-empty-then-junk": prefix(kind=0, param=4) + close() + frame(0x1, b"after close")
    + b"\xff" * 8,
    "close-4000": prefix(kind=2, param=3) + close(4000, b"private"),
    "chat-session": prefix(kind=5, seed=11) + b"".join(
        frame(0x1, ("message %d from ana: héllo" % i).encode()) for i in range(20)) + close(1001),
    "max-125-too-big": prefix(max_message=125, kind=0, param=9)
    + frame(0x1, b"z" * 126, form=16),
    "max-10-fragments": prefix(max_message=10, kind=1) + frame(0x1, b"12345", fin=False)
    + frame(0x0, b"678", fin=False) + frame(0x0, b"90"),
    "max-10-fragments-over": prefix(max_message=10, kind=1) + frame(0x1, b"12345", fin=False)
    + frame(0x0, b"678", fin=False) + frame(0x0, b"901"),
    "max-0-empty": prefix(max_message=0, kind=3, seed=4) + frame(0x1, b"") + frame(0x2, b"x"),
    "max-4096": prefix(max_message=4096, kind=2, param=9) + frame(0x2, b"\x01" * 4096)
    + frame(0x2, b"\x02" * 4097),
    # Invalid streams.
    "unmasked": prefix(kind=0, param=7) + frame(0x1, b"plain", masked=False),
    "rsv1-deflate": prefix(kind=0, param=7)
    + frame(0x1, bytes.fromhex("f248cdc9c90700"), rsv=4),
    "reserved-opcode-3": prefix(kind=1) + frame(0x3, b"?"),
    "reserved-opcode-b": prefix(kind=1) + frame(0xB, b"?"),
    "fragmented-ping": prefix(kind=1) + frame(0x9, b"no", fin=False),
    "ping-126": prefix(kind=2, param=5) + frame(0x9, b"p" * 126),
    "continuation-alone": prefix(kind=1) + frame(0x0, b"orphan"),
    "text-inside-text": prefix(kind=1) + frame(0x1, b"a", fin=False) + frame(0x1, b"b"),
    "text-overlong": prefix(kind=0, param=2) + frame(0x1, b"ab\xc0\xafcd"),
    "text-surrogate-fragment": prefix(kind=1) + frame(0x1, b"ok \xed", fin=False)
    + frame(0x0, b"\xa0\x80"),
    "text-truncated-seq": prefix(kind=4, seed=8) + frame(0x1, b"euro \xe2\x82"),
    "length-top-bit": prefix(kind=1) + bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + MASK,
    # A 1-byte close payload at the very end of a read: see
    # tests/fuzz/crashes/wsreader-close-1-byte-overread.txt.
    "close-1-byte": prefix(kind=0, param=0) + frame(0x8, b"\x03"),
    "close-1-byte-whole": prefix(kind=0, param=31) + frame(0x8, b"\x03"),
    "close-1005": prefix(kind=1) + close(1005),
    "close-bad-utf8": prefix(kind=1) + close(1000, b"\xff"),
}

# --- utf8 --------------------------------------------------------------------------------

UTF8 = {
    "ascii": b"Hello, world! plain ASCII runs longer than eight bytes.",
    "multilingual": "Grüße, Здравствуйте, こんにちは, مرحبا, 👋🏽".encode(),
    "boundaries": "\x00\x7f\x80\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode(),
    "ascii-then-emoji": b"12345678abcdefgh" + "🎉".encode() + b"12345678",
    "overlong-c0": b"abc\xc0\xaf",
    "overlong-e0": b"\xe0\x80\xaf",
    "overlong-f0": b"\xf0\x80\x80\xaf",
    "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf",
    "past-10ffff": b"\xf4\x90\x80\x80",
    "f5-lead": b"\xf5\x80\x80\x80",
    "lone-continuation": b"aaaaaaaa\x80",
    "truncated": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x8e",
    "ff-byte": b"\xff",
}

# --- envelope (the Redis backplane's message wrapper) ---------------------------------------


def envelope(opcode, payload, origin=0x0123456789ABCDEF, magic=0xC1):
    return bytes([magic, opcode]) + origin.to_bytes(8, "big") + payload


ENVELOPE = {
    "text": envelope(1, "hello from another node".encode()),
    "text-multilingual": envelope(1, "Grüße, こんにちは, 👋🏽".encode()),
    "binary": envelope(2, bytes(range(256))),
    "empty-text": envelope(1, b""),
    "text-bad-utf8": envelope(1, b"ok\xc0\xaf"),
    "binary-bad-utf8": envelope(2, b"ok\xc0\xaf"),
    "ping-opcode": envelope(9, b""),
    "bad-magic": envelope(1, b"x", magic=0xC2),
    "short": envelope(1, b"")[:9],
}

# --- redis_guard (hiredis replies; byte 0: bit 0 subscribed, bit 1 a command waiting) -----

REDIS_GUARD = {
    "pong-awaited": b"\x02+PONG\r\n",
    "pong-unasked": b"\x00+PONG\r\n",
    "subscribe-confirm": b"\x01*3\r\n$9\r\nsubscribe\r\n$12\r\nchatd:/lobby\r\n:1\r\n",
    "message": b"\x01*3\r\n$7\r\nmessage\r\n$12\r\nchatd:/lobby\r\n$12\r\n\xc1\x01abcdefghij\r\n",
    "unsubscribe": b"\x01*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n",
    "punsubscribe-bad-count": b"\x01*3\r\n$12\r\nPUNSUBSCRIBE\r\n$1\r\nx\r\n$1\r\n0\r\n",
    "unsubscribe-nul": b"\x01*3\r\n$13\r\nunsubscribe\x00x\r\n$1\r\nx\r\n$1\r\n0\r\n",
    "short-push": b"\x01*1\r\n$7\r\nmessage\r\n",
    "nested": b"\x01*2\r\n*1\r\n:1\r\n$1\r\nx\r\n",
    "error-unasked": b"\x00-ERR no\r\n",
    "two-replies": b"\x03+OK\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n",
}

# --- json --------------------------------------------------------------------------------

JSON = {
    "hello": b'{"type":"hello","name":"alice"}',
    "message": b'{"type":"message","text":"hello, world"}',
    "message-escapes": b'{"type":"message","text":"\\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/\\b\\f\\n\\r\\t"}',
    "message-utf8": '{"type":"message","text":"Grüße 👋🏽"}'.encode(),
    "scalars": b'[0,-0,1.5,-2e10,3E+2,4e-1,true,false,null,"",{},[]]',
    "nested": b'{"a":{"b":[1,2,{"c":[[],{}]}]}, "d" : "e" }',
    "deep": b"[" * 40 + b"]" * 40,
    "lone-high": b'{"type":"message","text":"\\ud800"}',
    "lone-low": b'"\\udc00x"',
    "bad-utf8-in-string": b'{"type":"message","text":"\xff\xfe"}',
    "control-in-string": b'"a\tb"',
    "trailing": b'{"type":"hello"} {}',
}


# --- tls ---------------------------------------------------------------------------------


def client_hello(maximum=None, alpn=True):
    """The first flight of a client, as Python's ssl module (OpenSSL) writes it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        ctx.maximum_version = maximum
    if alpn:
        ctx.set_alpn_protocols(["http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        conn.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def ops(*items):
    """fuzz_tls.c's operations after a handshake: (op, data) pairs."""
    return b"".join(bytes([op]) + struct.pack(">H", len(d)) + d for op, d in items)


APP, ANY, KEY_UPDATE, RAW, SERVER_WRITE = 0, 1, 2, 3, 4


def tls_seeds():
    hello = client_hello()
    hello12 = client_hello(ssl.TLSVersion.TLSv1_2)
    seeds = {
        "hello13": b"\x00\x00" + hello,
        "hello13-pieces": b"\x00\x07" + hello,
        "hello12": b"\x00\x00" + hello12,
        "hello-no-alpn": b"\x00\x00" + client_hello(alpn=False),
        "hello-truncated": b"\x00\x00" + hello[: len(hello) // 2],
        "hello-then-garbage": b"\x00\x00" + hello + b"\x17\x03\x03\x00\x20" + b"\xa5" * 32,
        "plain-http": b"\x00\x00GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "not-tls": b"\x00\x00\x00\x01\x02\x03",
    }
    session = ops(
        (APP, b"GET /chat HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        (KEY_UPDATE | 1 << 3, b""),
        (APP | 5 << 3, b"after a requested update"),
        (SERVER_WRITE, b"an answer from the server"),
        (KEY_UPDATE, b""),
        (APP, b"x" * 20000),
        (ANY, bytes([21, 1, 90])),  # user_canceled: ignored
        (ANY, bytes([23]) + b"typed as application data"),
        (ANY, bytes([22, 4, 0, 0, 0])),  # a NewSessionTicket from a client
        (ANY, bytes([21, 1, 0])),  # close_notify
    )
    for which, name in enumerate(["aes128", "aes256", "chacha", "tls12"]):
        seeds["session-" + name] = bytes([1 | which << 1, 0]) + session
        seeds["session-" + name + "-pieces"] = bytes([1 | which << 1, 3]) + session
    seeds["session-bad-update"] = b"\x01\x00" + ops((KEY_UPDATE | 2 << 3, b""), (APP, b"late"))
    seeds["session-raw"] = b"\x01\x00" + ops((RAW, b"\x17\x03\x03\x40\x00"), (APP, b"x"))
    seeds["session-no-type"] = b"\x01\x00" + ops((ANY | 3 << 3, b"\x00\x00\x00"))
    return seeds


def write(name, files):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for fname, data in files.items():
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)


def main():
    write("http", HTTP)
    write("wsreader", WS)
    write("utf8", UTF8)
    write("envelope", ENVELOPE)
    write("redis_guard", REDIS_GUARD)
    write("json", JSON)
    write("tls", tls_seeds())


if __name__ == "__main__":
    main()
