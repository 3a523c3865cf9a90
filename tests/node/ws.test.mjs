// chatd against Node's ws library (an implementation we did not write): broadcast, echo,
// binary, fragmentation, sizes, ping/pong, close codes, a protocol error ws can be made
// to send; and chat, https and a refused CA over wss:// with --tls-cert.
// Run: cd tests/node && npm ci && CHATD_BIN=../../chatd npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { closed, next, open, openUrl, sleep, startChatd, stopChatd, within } from './chatd.mjs';

test('chatd with Node ws clients', { timeout: 60000 }, async (t) => {
  const chatd = await startChatd();
  try {
    await t.test('a message reaches every other client but not the sender', async () => {
      const [a, b, c] = await Promise.all([open(chatd.port), open(chatd.port), open(chatd.port)]);
      a.send('hello from node');
      for (const ws of [b, c]) {
        const m = await next(ws);
        assert.equal(m.isBinary, false);
        assert.equal(m.data.toString(), 'hello from node');
      }
      await sleep(300);
      assert.equal(a.inbox.length, 0, 'the sender gets nothing back');
      for (const ws of [a, b, c]) ws.close(1000);
    });

    await t.test('binary messages of every length class arrive intact', async () => {
      const [a, b] = await Promise.all([open(chatd.port, '/bin'), open(chatd.port, '/bin')]);
      for (const size of [0, 125, 126, 65535, 65536, 1 << 20]) {
        const data = Buffer.alloc(size, size % 251);
        a.send(data, { binary: true });
        const m = await next(b);
        assert.equal(m.isBinary, true);
        assert.ok(Buffer.compare(m.data, data) === 0, `payload of ${size} bytes`);
      }
      a.close(); b.close();
    });

    await t.test('a fragmented text message arrives whole', async () => {
      const [a, b] = await Promise.all([open(chatd.port, '/frag'), open(chatd.port, '/frag')]);
      a.send('κόσ', { fin: false });
      a.send('με ', { fin: false });
      a.send('world', { fin: true });
      assert.equal((await next(b)).data.toString(), 'κόσμε world');
      a.close(); b.close();
    });

    await t.test('ping is answered with a pong carrying the same payload', async () => {
      const a = await open(chatd.port);
      const pong = within(new Promise((res) => a.once('pong', res)), 'pong');
      a.ping(Buffer.from('are you there'));
      assert.equal((await pong).toString(), 'are you there');
      a.close();
    });

    await t.test('a close code is echoed', async () => {
      const a = await open(chatd.port);
      const done = closed(a);
      a.close(4321, 'bye');
      assert.equal((await done).code, 4321);
    });

    await t.test('invalid UTF-8 in a text frame gets 1007 and the others keep chatting', async () => {
      const [a, b, bad] = await Promise.all([open(chatd.port, '/u'), open(chatd.port, '/u'), open(chatd.port, '/u')]);
      const done = closed(bad);
      // ws validates what it receives, not what it sends: a Buffer sent as text is sent as is.
      bad.send(Buffer.from([0xce, 0xba, 0xed, 0xa0, 0x80]), { binary: false });
      assert.equal((await done).code, 1007);
      a.send('still here');
      assert.equal((await next(b)).data.toString(), 'still here');
      a.close(); b.close();
    });
  } finally {
    await stopChatd(chatd);
  }
});

test('chatd --echo with a Node ws client is an echo server', { timeout: 30000 }, async () => {
  const chatd = await startChatd('--echo');
  try {
    const a = await open(chatd.port);
    for (let i = 0; i < 100; i++) a.send(`echo ${i}`);
    for (let i = 0; i < 100; i++) assert.equal((await next(a)).data.toString(), `echo ${i}`);
    const done = closed(a);
    a.close(1000);
    assert.equal((await done).code, 1000);
  } finally {
    await stopChatd(chatd);
  }
});

test('SIGTERM sends 1001 to Node ws clients', { timeout: 30000 }, async () => {
  const chatd = await startChatd();
  const a = await open(chatd.port);
  const done = closed(a);
  await stopChatd(chatd);
  assert.equal((await done).code, 1001);
});

// --- wss:// with a test CA made by the openssl command line -------------------------------

function makeTestPki() {
  const dir = mkdtempSync(join(tmpdir(), 'chatd-node-tls-'));
  const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=node test CA');
  ossl('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=other CA');
  ossl('req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem');
  const file = (name) => join(dir, name);
  return { dir, file, ca: readFileSync(file('ca.pem')), otherCa: readFileSync(file('other.pem')) };
}

function openTls(port, ca, path = '/') {
  return openUrl(`wss://localhost:${port}${path}`, { ca }, 'open wss');
}

test('chatd --tls-cert with Node ws clients over wss://', { timeout: 60000 }, async (t) => {
  const pki = makeTestPki();
  const chatd = await startChatd('--tls-cert', pki.file('server.pem'), '--tls-key', pki.file('server.key'));
  try {
    await t.test('a message reaches the other client over TLS', async () => {
      const [a, b] = await Promise.all([openTls(chatd.port, pki.ca), openTls(chatd.port, pki.ca)]);
      assert.equal(a._socket.getProtocol(), 'TLSv1.3');
      a.send('hello over wss');
      assert.equal((await next(b)).data.toString(), 'hello over wss');
      const big = Buffer.alloc(700000, 7);
      b.send(big);
      assert.deepEqual((await next(a)).data, big);
      a.close(); b.close();
    });

    await t.test('https /healthz answers ok', async () => {
      const body = await within(new Promise((res, rej) => {
        https.get({ host: 'localhost', port: chatd.port, path: '/healthz', ca: pki.ca }, (r) => {
          let s = '';
          r.setEncoding('utf8');
          r.on('data', (c) => { s += c; });
          r.on('end', () => res(s));
        }).on('error', rej);
      }), 'https get');
      assert.equal(body, 'ok\n');
    });

    await t.test('a client trusting another CA refuses the server', async () => {
      await assert.rejects(openTls(chatd.port, pki.otherCa), (err) => /certificate|verify/i.test(err.message));
    });
  } finally {
    await stopChatd(chatd);
    rmSync(pki.dir, { recursive: true, force: true });
  }
});

// chatd.v1 (docs/PROTOCOL.md) with ws asking for the subprotocol, beside a raw ws client.
function openV1(port, path) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, 'chatd.v1', { perMessageDeflate: false });
  ws.inbox = [];
  ws.waiters = [];
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    const w = ws.waiters.shift();
    if (w) w(m); else ws.inbox.push(m);
  });
  return within(new Promise((res, rej) => { ws.once('open', () => res(ws)); ws.once('error', rej); }), 'open');
}

test('chatd.v1 with Node ws clients', { timeout: 30000 }, async () => {
  const chatd = await startChatd();
  try {
    const ann = await openV1(chatd.port, '/v1?name=ann');
    assert.equal(ann.protocol, 'chatd.v1');
    const w = await next(ann);
    assert.equal(w.type, 'welcome');
    assert.equal(w.name, 'ann');
    assert.equal(w.count, 1);
    ann.send(JSON.stringify({ type: 'message', text: 'first' }));
    assert.deepEqual([(await next(ann)).text], ['first']);

    const bob = await openV1(chatd.port, '/v1');
    bob.send(JSON.stringify({ type: 'hello', name: 'ANN' }));
    const wb = await next(bob);
    assert.equal(wb.name, 'ANN2');
    assert.equal(wb.requested, 'ANN');
    const h = await next(bob);
    assert.equal(h.history, true);
    assert.equal(h.text, 'first');
    assert.equal(h.name, 'ann');
    const join = await next(ann);
    assert.deepEqual([join.type, join.name, join.count], ['join', 'ANN2', 2]);

    const raw = await open(chatd.port, '/v1');
    assert.equal((await next(ann)).type, 'join');
    assert.equal((await next(bob)).type, 'join');
    raw.send('from raw');
    const m = await next(bob);
    assert.equal(m.type, 'message');
    assert.equal(m.text, 'from raw');
    assert.match(m.name, /^raw-\d+$/);
    bob.send(JSON.stringify({ type: 'message', text: 'to raw' }));
    assert.equal((await next(raw)).data.toString(), 'ANN2: to raw');
    assert.equal((await next(bob)).text, 'to raw');

    bob.send('{"type":"message","text":"\\ud800"}');
    const err = await next(bob);
    assert.deepEqual([err.type, err.code], ['error', 'bad_json']);
    for (const ws of [ann, bob, raw]) ws.close();
  } finally {
    await stopChatd(chatd);
  }
});
