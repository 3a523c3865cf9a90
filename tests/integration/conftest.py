"""Fixtures that run the real chatd binary, one fresh process per test.

chatd is started on --port 0 and its port read from the "listening on" log line; its admin
listener (/metrics, /stats) on 127.0.0.1:0 unless the test passes --admin-listen, its port
read from the "admin listening on" line (Chatd.admin_port), so parallel runs never collide
on the default 127.0.0.1:9181; stderr is
drained by a thread into Chatd.logs (so the pipe never fills) and printed with any failure.
Teardown sends SIGTERM and requires exit status 0 within STOP_TIMEOUT: graceful shutdown is
part of the spec, so every test checks it for free.

`async def` tests are run here with asyncio.run: only pytest and websockets are allowed, so
there is no pytest-asyncio.
"""

import asyncio
import inspect
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
ASYNC_TEST_TIMEOUT = 30.0  # each await inside has its own, smaller, timeout
HARD_TEST_TIMEOUT = 60  # last resort for synchronous tests: SIGALRM
LISTENING = re.compile(r"(?<!admin )listening on 127\.0\.0\.1:(\d+)")
ADMIN_LISTENING = re.compile(r"admin listening on 127\.0\.0\.1:(\d+)")

_servers_key = pytest.StashKey[list]()


def chatd_path() -> Path:
    return Path(os.environ.get("CHATD_BIN") or REPO / "chatd").resolve()


class Chatd:
    """One running chatd process."""

    def __init__(self, binary: Path, args, port=0, capture_stdout=False):
        args = [str(a) for a in args]
        if not any(a.startswith("--admin-listen") for a in args):
            args = ["--admin-listen", "127.0.0.1:0", *args]
        self.args = [str(binary), "--port", str(port), "--bind", "127.0.0.1", *args]
        self.admin_port = None
        self.logs = []
        self.out = []  # stdout lines, for programs built on the library that print events
        self._log_changed = threading.Condition()
        self._stderr_done = False
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._drainer = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drainer.start()
        if capture_stdout:
            threading.Thread(target=self._drain_stdout, daemon=True).start()
        try:
            if port == 0:
                self.port = int(self.wait_for_log(LISTENING, START_TIMEOUT).group(1))
                if "127.0.0.1:0" in args:
                    self.admin_port = int(self.wait_for_log(ADMIN_LISTENING).group(1))
            else:
                self.port = port
                if "-q" in args or "--quiet" in args:
                    self._wait_connectable()
                else:
                    # The log, not a connect: with --reuseport another process may
                    # already accept on this port while this one is still starting.
                    self.wait_for_log(LISTENING, START_TIMEOUT)
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def _drain_stdout(self) -> None:
        for raw in self.proc.stdout:
            with self._log_changed:
                self.out.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._log_changed.notify_all()

    def wait_for_out(self, pattern, timeout=START_TIMEOUT) -> re.Match:
        """The first stdout line matching `pattern`, waiting up to `timeout` s."""
        return self._wait_for_line(self.out, "stdout line", pattern, timeout, stop_at_exit=False)

    def _drain_stderr(self) -> None:
        for raw in self.proc.stderr:
            with self._log_changed:
                self.logs.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._log_changed.notify_all()
        with self._log_changed:
            self._stderr_done = True
            self._log_changed.notify_all()

    def wait_for_log(self, pattern, timeout=START_TIMEOUT) -> re.Match:
        """The first log line matching `pattern` (a regex), waiting up to `timeout` s."""
        return self._wait_for_line(self.logs, "log line", pattern, timeout, stop_at_exit=True)

    def _wait_for_line(self, lines, what, pattern, timeout, stop_at_exit) -> re.Match:
        """The first of `lines` (logs or out, filled by the drain threads) matching
        `pattern`; fails after `timeout` s, or as soon as stderr ends if `stop_at_exit`."""
        pattern = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._log_changed:
            while True:
                for line in lines:
                    match = pattern.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                ended = stop_at_exit and self._stderr_done
                if ended or remaining <= 0:
                    state = "exited" if ended else f"no match after {timeout} s"
                    raise AssertionError(
                        f"{self.args[0]} {state} without a {what} /{pattern.pattern}/;\n"
                        + "stderr:\n" + "\n".join(self.logs)
                        + ("\nstdout:\n" + "\n".join(self.out) if self.out else "")
                    )
                self._log_changed.wait(remaining)

    def has_logged(self, pattern) -> bool:
        """Whether a log line so far matches `pattern`; does not wait."""
        pattern = re.compile(pattern)
        with self._log_changed:
            return any(pattern.search(line) for line in self.logs)

    def _wait_connectable(self) -> None:
        """For runs where the log may not say the port (--quiet): poll until it accepts."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"chatd never accepted on port {self.port}")
                time.sleep(0.02)

    def terminate(self, timeout=STOP_TIMEOUT) -> int:
        """SIGTERM, then the exit status. Fails (after a SIGKILL) if chatd outlives `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"chatd did not exit within {timeout} s of SIGTERM")
        finally:
            self._drainer.join(2)
        return self.proc.returncode


def _stop_all(started) -> None:
    """SIGTERM to each server a test started; every one must exit 0 (graceful shutdown is
    part of the spec, so every test checks it)."""
    problems = []
    for server in started:
        try:
            status = server.terminate()
        except AssertionError as e:
            problems.append(str(e))
            continue
        if status != 0:
            problems.append(f"{' '.join(server.args)} exited with status {status} after SIGTERM")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def chatd_bin() -> Path:
    path = chatd_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"chatd binary not found or not executable at {path}: run make, or set CHATD_BIN")
    return path


@pytest.fixture
def chatd(request, chatd_bin):
    """Factory: chatd("--echo", "--max-message", 1000) starts a server and returns a Chatd.
    port= picks a fixed port instead of --port 0 (for runs that do not log the port)."""
    started = []
    request.node.stash[_servers_key] = started

    def start(*args, port=0) -> Chatd:
        server = Chatd(chatd_bin, args, port)
        started.append(server)
        return server

    yield start
    _stop_all(started)


def examples_dir() -> Path:
    return Path(os.environ.get("CHATD_EXAMPLES") or REPO / "build" / "examples").resolve()


@pytest.fixture
def program(request):
    """Factory: program("recorder", "--echo") starts a program built on libchatd (make
    examples builds them) like chatd, with its stdout captured in .out."""
    started = []
    request.node.stash[_servers_key] = started

    def start(name, *args) -> Chatd:
        path = examples_dir() / name
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(f"{path} not found: run make examples, or set CHATD_EXAMPLES")
        server = Chatd(path, args, capture_stdout=True)
        started.append(server)
        return server

    yield start
    _stop_all(started)


@pytest.fixture
def server(chatd) -> Chatd:
    return chatd()


@pytest.fixture
def echo_server(chatd) -> Chatd:
    return chatd("--echo")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in item.stash.get(_servers_key, []):
            title = f"chatd stderr: {' '.join(server.args[1:])}"
            report.sections.append((title, "\n".join(server.logs) or "(nothing)"))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(_bounded(pyfuncitem.obj(**kwargs)))
    return True


async def _bounded(coro):
    # Not asyncio.wait_for: its TimeoutError would be indistinguishable from one raised by
    # a step inside the test, and the report must say which limit was hit.
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=ASYNC_TEST_TIMEOUT)
    if not done:
        task.cancel()
        await asyncio.wait({task})
        pytest.fail(f"test did not finish within {ASYNC_TEST_TIMEOUT} s")
    return task.result()


class HardTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _hard_time_limit():
    """Every step has its own timeout; this only guarantees that nothing can hang the run."""

    def expire(signum, frame):
        raise HardTimeout(f"test still running after {HARD_TEST_TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(HARD_TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
