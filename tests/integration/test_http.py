"""Plain HTTP on the chat port and the opening handshake (RFC 6455 section 4.2), valid and
malformed, written byte by byte with wsraw."""

import base64

import pytest

import wsraw
from wsraw import http_exchange, http_request, upgrade_headers


def assert_closed_response(response, status):
    assert response.status == status, f"expected {status}, got {response.head!r}"
    assert response.version == "HTTP/1.1", response.head
    length = response.headers.get("content-length")
    if length is not None:
        assert int(length) == len(response.body), (length, len(response.body))


# --- plain HTTP ----------------------------------------------------------------------------


def test_get_root_serves_chat_page(server):
    response = http_exchange(server.port, http_request("GET", "/"))
    assert_closed_response(response, 200)
    assert response.headers["content-type"].startswith("text/html"), response.head
    assert int(response.headers["content-length"]) == len(response.body) > 0
    assert response.headers.get("connection", "").lower() == "close", response.head
    page = response.body.decode("utf-8").lower()
    assert "<html" in page
    assert "<script" in page
    assert "chat" in page


def test_head_root_sends_headers_only(server):
    get = http_exchange(server.port, http_request("GET", "/"))
    head = http_exchange(server.port, http_request("HEAD", "/"))
    assert head.status == 200, head.head
    assert head.body == b""
    assert head.headers["content-type"].startswith("text/html"), head.head
    # RFC 9110 section 9.3.2: HEAD answers with the headers GET would send.
    assert head.headers.get("content-length") == get.headers["content-length"]


@pytest.mark.parametrize("path", ["/lobby", "/room-42.b_c~", "/lobby?nick=x"])
def test_get_room_path_serves_chat_page(server, path):
    # Every room's address serves the page, so a link to a room can be shared.
    response = http_exchange(server.port, http_request("GET", path))
    assert_closed_response(response, 200)
    assert b"<script" in response.body.lower()


@pytest.mark.parametrize(
    "path", ["/a/b/c", "/" + "x" * 64, "/bad%20name", "/other/", "/favicon.ico"]
)
def test_get_path_that_is_no_room_is_404(server, path):
    response = http_exchange(server.port, http_request("GET", path))
    assert_closed_response(response, 404)


def test_http11_request_without_host_is_400(server):
    # RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request lacking Host.
    response = http_exchange(server.port, http_request("GET", "/", {}))
    assert_closed_response(response, 400)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_method_other_than_get_head_is_405_with_allow(server, method):
    request = http_request(method, "/", {"Host": "127.0.0.1", "Content-Length": "0"})
    response = http_exchange(server.port, request)
    assert_closed_response(response, 405)
    assert "GET" in response.headers.get("allow", ""), response.head


def test_post_with_upgrade_headers_is_405(server):
    response = http_exchange(server.port, http_request("POST", "/", upgrade_headers()))
    assert_closed_response(response, 405)
    assert "GET" in response.headers.get("allow", ""), response.head


# --- valid handshakes ------------------------------------------------------------------------


def handshake(port, request, key):
    """Send a handshake request and check the 101; return the open connection."""
    conn = wsraw.RawConnection(port)
    conn.send(request)
    wsraw.check_switching_protocols(conn.read_http_head(), key)
    return conn


def assert_echo_works(conn):
    conn.send(wsraw.text("after handshake"))
    assert conn.recv_text() == "after handshake"


def test_handshake_answers_rfc_sample_accept(echo_server):
    # RFC 6455 section 1.3 gives this key and its accept value literally.
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with handshake(echo_server.port, wsraw.handshake_request(key), key) as conn:
        assert wsraw.accept_for(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        assert_echo_works(conn)


def test_handshake_header_names_and_tokens_are_case_insensitive(echo_server):
    key = wsraw.make_key()
    headers = {
        "HOST": "127.0.0.1",
        "UPGRADE": "WebSocket",
        "connection": "upgrade",
        "sec-websocket-key": key,
        "SEC-WEBSOCKET-VERSION": "13",
    }
    with handshake(echo_server.port, http_request("GET", "/", headers), key) as conn:
        assert_echo_works(conn)


@pytest.mark.parametrize("connection", ["keep-alive, Upgrade", "Upgrade, keep-alive", "keep-alive,upgrade"])
def test_handshake_connection_header_with_several_tokens(echo_server, connection):
    key = wsraw.make_key()
    headers = upgrade_headers(key) | {"Connection": connection}
    with handshake(echo_server.port, http_request("GET", "/", headers), key) as conn:
        assert_echo_works(conn)


def test_handshake_with_browser_like_extra_headers(echo_server):
    key = wsraw.make_key()
    headers = upgrade_headers(key) | {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "Origin": "http://127.0.0.1",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        "Pragma": "no-cache",
        "Cache-Control": "no-cache",
    }
    with wsraw.RawConnection(echo_server.port) as conn:
        conn.send(http_request("GET", "/", headers))
        response = conn.read_http_head()
        wsraw.check_switching_protocols(response, key)
        # No extension is implemented, so none may be accepted (section 9.1).
        assert "sec-websocket-extensions" not in response.headers, response.head
        assert_echo_works(conn)


@pytest.mark.parametrize("path", ["/", "/chat", "/room-42?name=x&y=/z"])
def test_handshake_accepted_on_any_room_path(echo_server, path):
    with wsraw.open_websocket(echo_server.port, path) as conn:
        assert_echo_works(conn)


def test_handshake_sent_one_byte_at_a_time(echo_server):
    key = wsraw.make_key()
    with wsraw.RawConnection(echo_server.port) as conn:
        conn.send_slowly(wsraw.handshake_request(key))
        wsraw.check_switching_protocols(conn.read_http_head(), key)
        assert_echo_works(conn)


def test_frames_pipelined_behind_handshake_are_processed(echo_server):
    after = wsraw.text("first") + wsraw.binary(b"second")
    with wsraw.open_websocket(echo_server.port, after=after) as conn:
        assert conn.recv_message() == (wsraw.OP_TEXT, b"first")
        assert conn.recv_message() == (wsraw.OP_BINARY, b"second")


# --- handshake errors ------------------------------------------------------------------------


def without(name):
    return upgrade_headers() | {name: None}


def changed(name, value):
    return upgrade_headers() | {name: value}


BAD_UPGRADES = {
    "missing Host": http_request(headers=without("Host")),
    "HTTP/1.0": http_request(headers=upgrade_headers(), version="HTTP/1.0"),
    "missing Upgrade": http_request(headers=without("Upgrade")),
    "Upgrade not websocket": http_request(headers=changed("Upgrade", "h2c")),
    "Connection without upgrade": http_request(headers=changed("Connection", "keep-alive")),
    "missing Connection": http_request(headers=without("Connection")),
    "missing key": http_request(headers=without("Sec-WebSocket-Key")),
    "key not base64": http_request(headers=changed("Sec-WebSocket-Key", "not*base64*at*all!!!!!!")),
    "key of 15 bytes": http_request(headers=changed("Sec-WebSocket-Key", base64.b64encode(bytes(15)).decode())),
    "key of 17 bytes": http_request(headers=changed("Sec-WebSocket-Key", base64.b64encode(bytes(17)).decode())),
    "empty key": http_request(headers=changed("Sec-WebSocket-Key", "")),
    "missing version": http_request(headers=without("Sec-WebSocket-Version")),
    "garbage request line": b"HELLO\r\n\r\n",
    "request line without version": b"GET /\r\nHost: 127.0.0.1\r\n\r\n",
    "header line without colon": http_request(headers=upgrade_headers(), raw_lines=["NoColonHere"]),
}


@pytest.mark.parametrize("request_bytes", BAD_UPGRADES.values(), ids=BAD_UPGRADES.keys())
def test_malformed_upgrade_is_400_and_closed(server, request_bytes):
    response = http_exchange(server.port, request_bytes)
    assert_closed_response(response, 400)
    assert response.headers.get("content-type", "").startswith("text/plain"), response.head
    assert response.body.strip(), "400 without a reason in the body"


@pytest.mark.parametrize("version", ["8", "12", "14", "abc"])
def test_unsupported_websocket_version_is_426_naming_13(server, version):
    response = http_exchange(server.port, http_request(headers=changed("Sec-WebSocket-Version", version)))
    assert_closed_response(response, 426)
    assert response.headers.get("sec-websocket-version") == "13", response.head


@pytest.mark.parametrize(
    "request_bytes",
    [
        http_request(headers=upgrade_headers() | {"X-Filler": "x" * 9000}),
        http_request(headers={"Host": "127.0.0.1", "X-Filler": "x" * 9000}),
        http_request(headers={"Host": "127.0.0.1"} | {f"X-H{i}": "y" * 90 for i in range(100)}),
    ],
    ids=["upgrade with one big header", "plain GET with one big header", "many headers"],
)
def test_headers_over_8k_are_rejected(server, request_bytes):
    response = http_exchange(server.port, request_bytes)
    assert response.status in (431, 400), response.head


def test_error_response_sent_slowly_still_answered(server):
    request = http_request(headers=without("Sec-WebSocket-Key"))
    assert_closed_response(http_exchange(server.port, request, slowly=True), 400)


def test_client_in_handshake_error_does_not_disturb_open_clients(echo_server):
    with wsraw.open_websocket(echo_server.port) as open_conn:
        http_exchange(echo_server.port, b"HELLO\r\n\r\n")
        assert_echo_works(open_conn)


# --- RFC corners: other upgrades, absolute-form targets, lists, duplicates, keys ----------


@pytest.mark.parametrize(
    "upgrade", ["h2c", "h2c, TLS/1.2", "HTTP/2.0"], ids=["h2c", "h2c and TLS", "HTTP/2.0"]
)
def test_plain_get_with_another_upgrade_gets_the_page(server, upgrade):
    # RFC 9110 section 7.8: a server may ignore Upgrade. Only websocket (or a
    # Sec-WebSocket-* header) makes a request a WebSocket handshake, judged strictly.
    headers = {"Host": "127.0.0.1", "Connection": "Upgrade, HTTP2-Settings", "Upgrade": upgrade,
               "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"}
    response = http_exchange(server.port, http_request("GET", "/", headers))
    assert_closed_response(response, 200)
    assert b"<script" in response.body.lower()
    response = http_exchange(server.port, http_request("GET", "/healthz", headers))
    assert (response.status, response.body) == (200, b"ok\n")


def test_absolute_form_target_serves_the_page_and_health(server):
    # RFC 9112 section 3.2.2: a server MUST accept the absolute-form.
    host = f"127.0.0.1:{server.port}"
    for target in [f"http://{host}/", f"HTTP://{host}/lobby?x=1", f"http://{host}", "https://chat.example/"]:
        response = http_exchange(server.port, http_request("GET", target, {"Host": host}))
        assert_closed_response(response, 200)
        assert b"<script" in response.body.lower(), target
    response = http_exchange(server.port, http_request("GET", f"http://{host}/healthz", {"Host": host}))
    assert (response.status, response.body) == (200, b"ok\n")
    response = http_exchange(server.port, http_request("GET", f"http://{host}/a/b", {"Host": host}))
    assert_closed_response(response, 404)


@pytest.mark.parametrize(
    "target",
    ["http:///lobby", "http://:80/", "http://user@host/", "ftp://host/", "lobby", "*", "http:/x"],
)
def test_target_neither_path_nor_http_uri_is_400(server, target):
    response = http_exchange(server.port, http_request("GET", target))
    assert_closed_response(response, 400)


def test_absolute_form_upgrade_joins_the_room_of_its_path(chatd):
    # The room comes from the URI's path, and the Host header's value is replaced by the
    # URI's authority (RFC 9112 section 3.2.3): a Host naming another server is no error.
    server = chatd("--echo")
    key = wsraw.make_key()
    headers = upgrade_headers(key) | {"Host": "somewhere-else.example"}
    request = http_request("GET", f"http://127.0.0.1:{server.port}/lobby?nick=x", headers)
    with wsraw.RawConnection(server.port) as conn, wsraw.open_websocket(server.port, "/lobby") as peer:
        conn.send(request)
        wsraw.check_switching_protocols(conn.read_http_head(), key)
        conn.send(wsraw.text(b"in the lobby"))
        assert conn.recv_text() == "in the lobby"  # --echo
        assert peer.recv_text() == "in the lobby"  # same room as the origin-form /lobby
    # Still exactly one Host header is required (RFC 9112 section 3.2).
    request = http_request("GET", f"http://127.0.0.1:{server.port}/", upgrade_headers() | {"Host": None})
    assert_closed_response(http_exchange(server.port, request), 400)


@pytest.mark.parametrize(
    "upgrades",
    [["h2c", "websocket"], ["websocket", "h2c"], ["h2c, WebSocket"], ["foo, bar", "x, websocket"]],
    ids=["second header", "first header", "second token", "token of a later header"],
)
def test_every_upgrade_header_and_token_is_looked_at(echo_server, upgrades):
    key = wsraw.make_key()
    lines = [f"Upgrade: {u}" for u in upgrades]
    request = http_request(headers=upgrade_headers(key) | {"Upgrade": None}, raw_lines=lines)
    with handshake(echo_server.port, request, key) as conn:
        assert_echo_works(conn)


def test_upgrade_headers_none_naming_websocket_is_400(server):
    request = http_request(headers=upgrade_headers() | {"Upgrade": None}, raw_lines=["Upgrade: h2c", "Upgrade: foo, websockets"])
    assert_closed_response(http_exchange(server.port, request), 400)


def test_duplicated_websocket_version_is_400_not_426(server):
    # RFC 6455 section 11.3.5: the header must not appear more than once in a request.
    for versions in (["13", "13"], ["13", "8"], ["8", "13"]):
        lines = [f"Sec-WebSocket-Version: {v}" for v in versions]
        request = http_request(headers=upgrade_headers() | {"Sec-WebSocket-Version": None}, raw_lines=lines)
        response = http_exchange(server.port, request)
        assert_closed_response(response, 400)
        assert b"Sec-WebSocket-Version" in response.body


@pytest.mark.parametrize("last", "BCDEFGHIJKLMNOPRSTUVWXYZabcdefhijklmnopqrstuvxyz0123456789+/")
def test_key_with_nonzero_padding_bits_is_400(server, last):
    # 16 bytes are 22 base64 characters whose last one carries 4 zero bits: only A, Q, g
    # and w can end a canonical key. "...AB==" decodes to 16 bytes only by dropping bits.
    key = "AAAAAAAAAAAAAAAAAAAAA" + last + "=="
    response = http_exchange(server.port, http_request(headers=changed("Sec-WebSocket-Key", key)))
    assert_closed_response(response, 400)
    assert b"Sec-WebSocket-Key" in response.body


@pytest.mark.parametrize("last", "AQgw")
def test_key_with_zero_padding_bits_is_accepted(echo_server, last):
    key = "AAAAAAAAAAAAAAAAAAAAA" + last + "=="
    assert len(base64.b64decode(key)) == 16 and base64.b64encode(base64.b64decode(key)).decode() == key
    with handshake(echo_server.port, wsraw.handshake_request(key), key) as conn:
        assert_echo_works(conn)
