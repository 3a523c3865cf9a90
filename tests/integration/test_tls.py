"""Native TLS (--tls-cert, --tls-key): wss:// and https:// against clients we did not write.

A test CA and server certificates (ECDSA P-256 and RSA 2048) are made at test time with the
openssl command line. The clients are Python's ssl module and `websockets`, curl, and
`openssl s_client`; each refusal is checked on the client's side, where it proves what the
server presented or accepted.
"""

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
import websockets

import wsraw

IO = 5.0
CLOSED_WITHIN = 3.0


def run(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


class Pki:
    """A CA, certificates it signed, and the odd ones out, in one temporary directory."""

    def __init__(self, path):
        self.path = path
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
            "/CN=chatd test CA", cwd=path)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj",
            "/CN=another CA", cwd=path)
        self.issue("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        self.issue("rsa", ["-newkey", "rsa:2048"])
        self.issue("ecdsa2", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        self.expired()

    def file(self, name):
        return str(self.path / name)

    def issue(self, name, keyopts):
        """name.pem (leaf, then the CA: a chain) and name.key, for localhost and 127.0.0.1."""
        run("openssl", "req", "-new", *keyopts, "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}.localhost", cwd=self.path)
        (self.path / f"{name}.ext").write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
            "-out", f"{name}.leaf", cwd=self.path)
        leaf = (self.path / f"{name}.leaf").read_text()
        (self.path / f"{name}.pem").write_text(leaf + (self.path / "ca.pem").read_text())

    def expired(self):
        """expired.pem and future.pem, valid for one day in 2020 and one in 2099 (openssl ca,
        unlike openssl x509, takes explicit dates)."""
        (self.path / "index.txt").write_text("")
        (self.path / "serial").write_text("1000\n")
        (self.path / "ca.cnf").write_text(
            "[ca]\ndefault_ca = t\n[t]\ndatabase = index.txt\nnew_certs_dir = .\n"
            "serial = serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n"
            "[p]\ncommonName = supplied\n")
        run("openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile",
            "ca.key", "-in", "ecdsa.csr", "-startdate", "20200101000000Z", "-enddate",
            "20200102000000Z", "-out", "expired.pem", cwd=self.path)
        run("openssl", "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile",
            "ca.key", "-in", "ecdsa.csr", "-startdate", "20990101000000Z", "-enddate",
            "20990102000000Z", "-out", "future.pem", cwd=self.path)

    def server_args(self, name="ecdsa"):
        return ["--tls-cert", self.file(f"{name}.pem"), "--tls-key", self.file(f"{name}.key")]

    def client_context(self, ca="ca.pem"):
        ctx = ssl.create_default_context(cafile=self.file(ca))
        return ctx


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command line is needed (Debian package openssl)")
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_server(chatd, pki):
    return chatd(*pki.server_args())


def wss(server):
    return f"wss://localhost:{server.port}/"


def tls_socket(port, ctx, server_hostname="localhost", session=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=IO)
    return ctx.wrap_socket(raw, server_hostname=server_hostname, session=session)


def https_get(port, ctx, path="/healthz", session=None):
    """One request over TLS: (the session, whether it was resumed, the TLS version, the
    whole response)."""
    with tls_socket(port, ctx, session=session) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        data = read_to_close(s)
        return s.session, s.session_reused, s.version(), data


def read_to_close(sock, timeout=CLOSED_WITHIN):
    """Everything the server sends until it closes (FIN or reset) within timeout."""
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got


async def assert_still_chatting(server, ctx):
    async with websockets.connect(wss(server), ssl=ctx) as a, websockets.connect(
        wss(server), ssl=ctx
    ) as b:
        await a.send("still here")
        assert await asyncio.wait_for(b.recv(), IO) == "still here"


# --- chatting over wss:// and https:// ---------------------------------------------------


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
async def test_websockets_chat_over_wss(chatd, pki, kind):
    server = chatd(*pki.server_args(kind))
    ctx = pki.client_context()
    async with websockets.connect(wss(server), ssl=ctx) as a, websockets.connect(
        wss(server), ssl=ctx
    ) as b:
        await a.send("hello over TLS")
        assert await asyncio.wait_for(b.recv(), IO) == "hello over TLS"
        cipher = a.transport.get_extra_info("ssl_object").cipher()
        assert cipher[1] == "TLSv1.3"


async def test_large_messages_and_many_small_ones_over_wss(chatd, pki):
    # Flood control would measure itself here: this is about records, not rates.
    tls_server = chatd(*pki.server_args(), "--rate-limit", "off", "--rate-limit-bytes", "off")
    ctx = pki.client_context()
    big = os.urandom(1000 * 1000)
    async with websockets.connect(wss(tls_server), ssl=ctx, max_size=None) as a, \
            websockets.connect(wss(tls_server), ssl=ctx, max_size=None) as b:
        for _ in range(3):
            await a.send(big)
            assert await asyncio.wait_for(b.recv(), IO) == big
        for i in range(2000):
            await a.send(f"m{i}")
        for i in range(2000):
            assert await asyncio.wait_for(b.recv(), IO) == f"m{i}"


def test_curl_gets_healthz_over_https(tls_server, pki):
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "5", "--cacert", pki.file("ca.pem"),
         f"https://localhost:{tls_server.port}/healthz"],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_curl_with_another_ca_refuses_the_server(tls_server, pki):
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "5", "--cacert", pki.file("other-ca.pem"),
         f"https://localhost:{tls_server.port}/healthz"],
        capture_output=True, text=True, check=False)
    assert out.returncode == 60, out.stderr  # peer certificate cannot be authenticated


async def test_websockets_with_another_ca_refuses_the_server(tls_server, pki):
    with pytest.raises(ssl.SSLCertVerificationError):
        async with websockets.connect(wss(tls_server), ssl=pki.client_context("other-ca.pem")):
            pass
    await assert_still_chatting(tls_server, pki.client_context())


def test_alpn_selects_http11_and_only_it(tls_server, pki):
    ctx = pki.client_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with tls_socket(tls_server.port, ctx) as s:
        assert s.selected_alpn_protocol() == "http/1.1"
    ctx = pki.client_context()
    ctx.set_alpn_protocols(["h2"])
    with tls_socket(tls_server.port, ctx) as s:
        assert s.selected_alpn_protocol() is None


def test_tls12_is_accepted(tls_server, pki):
    ctx = pki.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    _, _, version, data = https_get(tls_server.port, ctx)
    assert version == "TLSv1.2"
    assert data.endswith(b"\r\n\r\nok\n")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls11_is_refused_by_the_server(tls_server, pki):
    # The client is made willing (security level 0) so the refusal can only be the server's:
    # it answers a TLS 1.1 ClientHello with a protocol_version alert.
    ctx = pki.client_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
        https_get(tls_server.port, ctx)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_a_second_connection_resumes_the_session(tls_server, pki, version):
    ctx = pki.client_context()
    ctx.maximum_version = version
    # Reading to the end lets the client take in TLS 1.3's tickets, sent after the handshake.
    session, reused, _, _ = https_get(tls_server.port, ctx)
    assert not reused
    assert session is not None
    _, reused, _, data = https_get(tls_server.port, ctx, session=session)
    assert reused, "the server did not resume the session"
    assert data.endswith(b"ok\n")


# --- certificate files: startup and SIGHUP -----------------------------------------------


def start_failure(chatd_bin, *args):
    out = subprocess.run([str(chatd_bin), "--port", "0", "--bind", "127.0.0.1", *args],
                         capture_output=True, text=True, timeout=10, check=False)
    lines = out.stderr.strip().splitlines()
    return out.returncode, lines


@pytest.mark.parametrize("cert, key, named, why", [
    ("expired.pem", "ecdsa.key", "expired.pem", "expired on 2020-01-02"),
    ("future.pem", "ecdsa.key", "future.pem", "not valid before 2099-01-01"),
    ("ecdsa.pem", "rsa.key", "rsa.key", "does not match"),
])
def test_bad_certificate_or_key_stops_startup_naming_the_file(chatd_bin, pki, cert, key, named,
                                                              why):
    status, lines = start_failure(chatd_bin, "--tls-cert", pki.file(cert), "--tls-key",
                                  pki.file(key))
    assert status == 1
    assert len(lines) == 1
    assert pki.file(named) in lines[0] and why in lines[0]


def test_unreadable_or_garbage_files_stop_startup_naming_the_file(chatd_bin, pki, tmp_path):
    missing = str(tmp_path / "missing.pem")
    status, lines = start_failure(chatd_bin, "--tls-cert", missing, "--tls-key",
                                  pki.file("ecdsa.key"))
    assert status == 1 and len(lines) == 1
    assert missing in lines[0] and "No such file" in lines[0]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    status, lines = start_failure(chatd_bin, "--tls-cert", str(garbage), "--tls-key",
                                  pki.file("ecdsa.key"))
    assert status == 1 and len(lines) == 1
    assert str(garbage) in lines[0]


def test_cert_without_key_is_a_usage_error(chatd_bin, pki):
    status, lines = start_failure(chatd_bin, "--tls-cert", pki.file("ecdsa.pem"))
    assert status == 2
    assert "--tls-key" in lines[0]


def peer_subject(port, ctx):
    with tls_socket(port, ctx) as s:
        return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]


async def test_sighup_reloads_the_certificate_and_keeps_connections(chatd, pki, tmp_path):
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(pki.file("ecdsa.pem"), cert)
    shutil.copy(pki.file("ecdsa.key"), key)
    server = chatd("--tls-cert", cert, "--tls-key", key)
    ctx = pki.client_context()
    assert peer_subject(server.port, ctx) == "ecdsa.localhost"
    session, _, _, _ = https_get(server.port, ctx)

    async with websockets.connect(wss(server), ssl=ctx) as old:
        # A renewal: new files in place, then SIGHUP.
        shutil.copy(pki.file("rsa.pem"), cert)
        shutil.copy(pki.file("rsa.key"), key)
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log(r"TLS: reloaded certificate .*rsa\.localhost")
        assert peer_subject(server.port, ctx) == "rsa.localhost"
        # The ticket keys were carried over: a session from before still resumes.
        _, reused, _, _ = https_get(server.port, ctx, session=session)
        assert reused
        async with websockets.connect(wss(server), ssl=ctx) as new:
            await old.send("from before the reload")
            assert await asyncio.wait_for(new.recv(), IO) == "from before the reload"
            await new.send("from after it")
            assert await asyncio.wait_for(old.recv(), IO) == "from after it"

        # A broken renewal (a key that does not match) is refused; the old pair stays.
        shutil.copy(pki.file("ecdsa2.pem"), cert)
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log(r"SIGHUP: TLS key .*live\.key does not match.*still using")
        assert peer_subject(server.port, ctx) == "rsa.localhost"
        await old.send("ping")  # the old connection is untouched
        await asyncio.wait_for(old.ping(), IO)


def test_sighup_without_tls_is_harmless(server):
    server.proc.send_signal(signal.SIGHUP)
    server.wait_for_log("SIGHUP: nothing to reload")
    with wsraw.open_websocket(server.port):
        pass


# --- hostile bytes on the TLS port -------------------------------------------------------


def test_plain_http_to_the_tls_port_gets_a_plain_400(tls_server):
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=IO) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = read_to_close(s)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"https://" in answer


@pytest.mark.parametrize("garbage", [b"\x00" * 64, b"\xff\xfe\xfd" * 100, b"\x16\x03\x01\xff\xff"
                                     + os.urandom(300), b"\x80\x2e\x01\x00\x02" + b"\x00" * 45])
async def test_garbage_instead_of_a_client_hello_is_closed(tls_server, pki, garbage):
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=IO) as s:
        s.sendall(garbage)
        start = time.monotonic()
        answer = read_to_close(s)
        assert time.monotonic() - start < CLOSED_WITHIN
    assert not answer.startswith(b"HTTP")
    await assert_still_chatting(tls_server, pki.client_context())


def client_hello(ctx=None):
    """The bytes of a real ClientHello, taken from Python's ssl through memory BIOs."""
    ctx = ctx or ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


async def test_a_client_that_stops_mid_handshake_is_dropped_at_the_deadline(chatd, pki):
    server = chatd(*pki.server_args(), "--handshake-timeout", "1s")
    hello = client_hello()
    with socket.create_connection(("127.0.0.1", server.port), timeout=IO) as half, \
            socket.create_connection(("127.0.0.1", server.port), timeout=IO) as whole:
        half.sendall(hello[: len(hello) // 2])  # and never the rest
        whole.sendall(hello)  # and never our Finished
        await assert_still_chatting(server, pki.client_context())
        start = time.monotonic()
        read_to_close(half, timeout=3)
        read_to_close(whole, timeout=3)
        assert time.monotonic() - start < 2.5


async def test_a_huge_client_hello_is_closed(tls_server, pki):
    # A handshake message announcing 16 MiB, sent as full-size records: OpenSSL must refuse
    # it by its announced length, long before buffering anything like it.
    body = b"\x01" + (0xFFFFFF).to_bytes(3, "big") + os.urandom(16384 - 4)
    record = b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=IO) as s:
        try:
            for _ in range(64):
                s.sendall(record + b"\x16\x03\x01\x40\x00" + os.urandom(16384))
        except (BrokenPipeError, ConnectionResetError):
            pass
        read_to_close(s)
    await assert_still_chatting(tls_server, pki.client_context())


async def test_mutated_client_hellos_are_closed_and_harm_nobody(tls_server, pki):
    hello = bytearray(client_hello())
    rng = __import__("random").Random(1234)
    for _ in range(150):
        mutated = bytearray(hello)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=IO) as s:
            try:
                s.sendall(bytes(mutated[: rng.randint(1, len(mutated))]))
                s.shutdown(socket.SHUT_WR)  # a truncated hello must not wait for the deadline
            except OSError:
                pass  # the server already closed: what the test wants
            read_to_close(s)
    await assert_still_chatting(tls_server, pki.client_context())


def handshake_by_hand(port, ctx):
    """A finished TLS handshake over a plain socket, the TLS state in memory BIOs, so the
    test can afterwards put any bytes it likes on the wire."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=IO)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            data = sock.recv(65536)
            assert data, "closed during the handshake"
            incoming.write(data)
    sock.sendall(outgoing.read())
    return sock, obj, outgoing


@pytest.mark.parametrize("record", [
    b"\x17\x03\x03\x00\x20" + bytes(32),                 # application data that fails to decrypt
    b"\x17\x03\x03\x48\x01" + bytes(100),                # longer than any record may be
    b"\x15\x03\x03\x00\x02\x02\x28",                     # a plaintext alert after the handshake
    b"\x16\x03\x03\x00\x04\x01\x00\x00\x00",             # a plaintext handshake message
    b"\x99\x03\x03\x00\x01\x00",                         # an unknown record type
])
async def test_malformed_records_after_the_handshake_close_the_connection(tls_server, pki, record):
    sock, obj, _ = handshake_by_hand(tls_server.port, pki.client_context())
    with sock:
        sock.sendall(record)
        read_to_close(sock)
    await assert_still_chatting(tls_server, pki.client_context())


def test_renegotiation_is_refused_and_harms_nobody(tls_server, pki):
    # openssl s_client renegotiates on a line holding just "R" (TLS 1.2 only; 1.3 has none).
    proc = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{tls_server.port}", "-tls1_2",
         "-CAfile", pki.file("ca.pem"), "-servername", "localhost"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(b"R\n", timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail("s_client still running after 10 s: the renegotiation stalled\n"
                    + out.decode(errors="replace"))
    text = out.decode(errors="replace")
    assert "RENEGOTIATING" in text
    assert "no renegotiation" in text or "alert" in text
    _, _, _, data = https_get(tls_server.port, pki.client_context())
    assert data.endswith(b"ok\n")


async def test_slow_reader_over_tls_is_cut_off_and_others_chat_on(chatd, pki):
    server = chatd(*pki.server_args(), "--max-message", "64K", "--max-backlog", "256K")
    ctx = pki.client_context()
    sock, obj, outgoing = handshake_by_hand(server.port, ctx)
    with sock:
        obj.write(wsraw.handshake_request())
        sock.sendall(outgoing.read())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # Never read again: the server's queue for this client must hit --max-backlog.
        async with websockets.connect(wss(server), ssl=ctx) as a, websockets.connect(
            wss(server), ssl=ctx
        ) as b:
            chunk = "x" * 60000
            for _ in range(200):
                await a.send(chunk)
                assert await asyncio.wait_for(b.recv(), IO) == chunk
                if server.has_logged("cut off"):
                    break
            server.wait_for_log(r"cut off: \d+ bytes unsent")
            await a.send("after the cut")
            assert await asyncio.wait_for(b.recv(), IO) == "after the cut"
