"""What the served page and chatd must agree on: the page's message limit is chatd's
default --max-message, and /favicon.ico is not the page."""

import re

from wsraw import http_exchange, http_request


def test_page_message_limit_is_the_default_max_message(server):
    # chatd logs its limit at start; the page carries it in <meta name="chatd-max-message">.
    limit = int(server.wait_for_log(r"messages up to (\d+) bytes").group(1))
    page = http_exchange(server.port, http_request("GET", "/")).body.decode()
    meta = re.search(r'<meta name="chatd-max-message" content="(\d+)">', page)
    assert meta, "the page has no chatd-max-message meta"
    assert int(meta.group(1)) == limit


def test_page_brings_its_own_icon(server):
    page = http_exchange(server.port, http_request("GET", "/")).body.decode()
    assert re.search(r'<link rel="icon" href="data:image/svg\+xml,', page)
    icon = http_exchange(server.port, http_request("GET", "/favicon.ico"))
    assert icon.status == 404
    assert b"<html" not in icon.body.lower()
