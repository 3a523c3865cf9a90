#!/usr/bin/python3
"""How often an idle chatd wakes up: N idle WebSocket clients at default timers, then the
server's context switches over a window, read from /proc/PID/status
(voluntary_ctxt_switches: each is a sleep in epoll_wait that ended), and its CPU time from
/proc/PID/stat. With --strace, a second window counts epoll_wait calls with `strace -c`
(ptrace slows the traced process, so the two windows are separate).

    bench/wakeups.py ./chatd [--clients 1000] [--seconds 10] [--strace]

The clients are raw sockets that complete the handshake and then stay silent; chatd's
defaults (--ping-interval 30s, --idle-timeout 60s) arm one keepalive timer per client,
due 30 s after its handshake, so a window that ends within 30 s of the handshakes sees no
timer due at all: every wake-up in it is one the server did not need.
"""

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time


def proc_counters(pid):
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    vol = int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status).group(1))
    nonvol = int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status).group(1))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime, fields 14 and 15
    return vol, nonvol, ticks / os.sysconf("SC_CLK_TCK")


def open_client(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("chatd closed a client during its handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:40]!r}")
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chatd")
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--strace", action="store_true")
    args = ap.parse_args()

    proc = subprocess.Popen(
        [args.chatd, "--port", "0", "--bind", "127.0.0.1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    port_found = threading.Event()
    port = []

    def drain():
        for line in proc.stderr:
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", line)
            if m and not port:
                port.append(int(m.group(1)))
                port_found.set()

    threading.Thread(target=drain, daemon=True).start()
    clients = []
    try:
        if not port_found.wait(5):
            sys.exit("chatd did not start")
        started = time.monotonic()
        clients = [open_client(port[0]) for _ in range(args.clients)]
        handshakes = time.monotonic() - started
        time.sleep(args.settle)
        vol0, nonvol0, cpu0 = proc_counters(proc.pid)
        time.sleep(args.seconds)
        vol1, nonvol1, cpu1 = proc_counters(proc.pid)
        print(
            f"RESULT clients={len(clients)} handshakes_took_s={handshakes:.2f} "
            f"window_s={args.seconds:g} voluntary_ctxt_switches={vol1 - vol0} "
            f"nonvoluntary_ctxt_switches={nonvol1 - nonvol0} "
            f"wakeups_per_s={(vol1 - vol0) / args.seconds:.1f} cpu_s={cpu1 - cpu0:.3f}"
        )
        if args.strace:
            if shutil.which("strace") is None:
                sys.exit("strace not found")
            out = subprocess.run(
                ["timeout", "-s", "INT", f"{args.seconds:g}", "strace", "-c", "-f", "-p",
                 str(proc.pid)],
                capture_output=True, text=True,
            ).stderr
            calls = {}
            for row in out.splitlines():
                cols = row.split()
                if len(cols) >= 5 and cols[-1].isidentifier() and cols[3].isdigit():
                    calls[cols[-1]] = int(cols[3])
            summary = " ".join(f"{name}={n}" for name, n in sorted(calls.items()))
            print(f"STRACE window_s={args.seconds:g} {summary or '(no system calls)'}")
        if time.monotonic() - started > 29:
            print("note: the window reached the 30 s keepalive; timers were due in it")
    finally:
        for s in clients:
            s.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
