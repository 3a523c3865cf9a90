"""Redis for the backplane tests: a real redis-server in a temporary directory, a tiny RESP
client to ask it things (PUBSUB NUMSUB), and a fake Redis that answers what a test tells it
to. Written here so the tests need nothing but the Debian redis-server package.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time

START_TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def encode_command(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RespReader:
    """Reads RESP2 values from a socket (blocking, with the socket's timeout)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError(f"not RESP: {line!r}")


def command(port, *args, password=None, timeout=5.0):
    """One command on a fresh connection; returns the reply (an error as RuntimeError)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        reader = RespReader(s)
        if password is not None:
            s.sendall(encode_command("AUTH", password))
            reply = reader.read()
            if isinstance(reply, RuntimeError):
                raise reply
        s.sendall(encode_command(*args))
        return reader.read()


def numsub(port, channel, password=None) -> int:
    reply = command(port, "PUBSUB", "NUMSUB", channel, password=password)
    return int(reply[1])


class RedisServer:
    """redis-server on 127.0.0.1:port, nothing saved to disk."""

    def __init__(self, workdir, port=None, password=None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.workdir = str(workdir)
        self.port = port or free_port()
        self.password = password
        self.proc = None
        self.start()

    def start(self):
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.workdir,
                "--daemonize", "no", "--loglevel", "warning"]
        if self.password is not None:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if command(self.port, "PING", password=self.password, timeout=1) == "PONG":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}"

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def stop_process(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def continue_process(self):
        os.kill(self.proc.pid, signal.SIGCONT)


class FakeRedis:
    """A socket server that speaks just enough RESP for chatd to connect (PING, AUTH,
    SUBSCRIBE, PUBLISH) and then does what `script` says. script(kind, conn, channel) is
    called once per connection after its first command: kind is "ping" (chatd's publish
    connection) or "subscribe" (its subscribe connection; channel is then the first channel
    it subscribed, as bytes); it may send anything and return True to close the
    connection, or False to keep answering."""

    def __init__(self, script):
        self.script = script
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = False
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn):
        conn.settimeout(10)
        reader = RespReader(conn)
        scripted = False
        try:
            while not self.stopping:
                cmd = reader.read()
                if not isinstance(cmd, list) or not cmd:
                    return
                name = cmd[0].upper()
                if name == b"PING":
                    conn.sendall(b"+PONG\r\n")
                elif name == b"AUTH":
                    conn.sendall(b"+OK\r\n")
                elif name in (b"SUBSCRIBE", b"UNSUBSCRIBE"):
                    for i, ch in enumerate(cmd[1:], 1):
                        kind = name.lower()
                        conn.sendall(b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n:%d\r\n"
                                     % (len(kind), kind, len(ch), ch, i))
                elif name == b"PUBLISH":
                    conn.sendall(b":1\r\n")
                if not scripted and name in (b"PING", b"SUBSCRIBE"):
                    scripted = True
                    kind = "ping" if name == b"PING" else "subscribe"
                    channel = cmd[1] if len(cmd) > 1 else b""
                    if self.script(kind, conn, channel):
                        return
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            conn.close()

    def wait_connections(self, n, timeout=5.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.connections < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self):
        self.stopping = True
        self.sock.close()
