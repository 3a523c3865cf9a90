"""What the served page and chatd must agree on: the page's message limit is chatd's
--max-message, and /favicon.ico is not the page."""

import re

from wsraw import http_exchange, http_request


def test_page_message_limit_is_the_default_max_message(server):
    # chatd logs its limit at start; the page carries it in <meta name="chatd-max-message">.
    limit = int(server.wait_for_log(r"messages up to (\d+) bytes").group(1))
    page = http_exchange(server.port, http_request("GET", "/")).body.decode()
    meta = re.search(r'<meta name="chatd-max-message" content="(\d+)">', page)
    assert meta, "the page has no chatd-max-message meta"
    assert int(meta.group(1)) == limit


def test_page_message_limit_follows_max_message(chatd):
    """chatd fills the page's limit in at start, so the page refuses what chatd would
    close for, whatever --max-message says."""
    server = chatd("--max-message", "64K")
    response = http_exchange(server.port, http_request("GET", "/"))
    page = response.body.decode()
    meta = re.search(r'<meta name="chatd-max-message" content="(\d+)">', page)
    assert meta and int(meta.group(1)) == 65536
    assert int(response.headers["content-length"]) == len(response.body)


def test_page_brings_its_own_icon(server):
    page = http_exchange(server.port, http_request("GET", "/")).body.decode()
    assert re.search(r'<link rel="icon" href="data:image/svg\+xml,', page)
    icon = http_exchange(server.port, http_request("GET", "/favicon.ico"))
    assert icon.status == 404
    assert b"<html" not in icon.body.lower()
