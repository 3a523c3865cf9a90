"""The README's quick start: `make run PORT=N` serves on port N, and the start-up log names
the address to open in a browser, right after the "listening on" line."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import REPO, START_TIMEOUT, chatd_path

MAKE_RUN_TIMEOUT = 60.0  # make may have to link ./chatd first


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Output:
    """Collects a process's stderr lines in a thread; wait() for a pattern."""

    def __init__(self, proc):
        self.lines = []
        self._cond = threading.Condition()
        threading.Thread(target=self._drain, args=(proc.stderr,), daemon=True).start()

    def _drain(self, stream):
        for raw in stream:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()

    def wait(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(re.search(pattern, line) for line in self.lines):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no /{pattern}/ in:\n" + "\n".join(self.lines)
                self._cond.wait(remaining)
            return self.lines


def test_log_names_the_url_to_open_after_the_listening_line(server):
    server.wait_for_log(r"open http://")  # the log is read by a thread: wait for the line
    lines = [line for line in server.logs if "listening on" in line or "open http" in line]
    assert lines[0].endswith(f"INFO listening on 127.0.0.1:{server.port}")
    assert lines[1].endswith(f"INFO open http://127.0.0.1:{server.port}/ in a browser")


def test_log_names_localhost_when_bound_to_every_interface():
    # No --bind: chatd listens on the wildcard address, which is no address to type in.
    proc = subprocess.Popen(
        [str(chatd_path()), "--port", "0", "--admin-listen", "off"], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        lines = list(Output(proc).wait(r"open http://", START_TIMEOUT))
        port = re.search(r"listening on (?:\[::\]|0\.0\.0\.0):(\d+)$", "\n".join(lines), re.M)
        assert port, "\n".join(lines)
        url = [line for line in lines if " open http://" in line]
        assert url[0].endswith(f"INFO open http://localhost:{port.group(1)}/ in a browser")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(START_TIMEOUT) == 0


@pytest.mark.skipif(
    os.environ.get("CHATD_SANITIZED") == "1",
    reason="make run starts ./chatd, not the sanitized build under test",
)
def test_make_run_port_serves_on_that_port():
    port = free_port()
    proc = subprocess.Popen(
        # ARGS: the default admin port (9181) may be taken on a machine that runs tests.
        [os.environ.get("MAKE", "make"), "--no-print-directory", "-s", "run", f"PORT={port}",
         "ARGS=--admin-listen off"],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        Output(proc).wait(rf"INFO open http://localhost:{port}/ in a browser", MAKE_RUN_TIMEOUT)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
            assert b"<title>chatd</title>" in response.read()
    finally:
        # make's process group: make and the chatd it started.
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(START_TIMEOUT)
