// The README's one-shot lines with npm's wscat, a third-party client, against a real chatd:
//   wscat -c ws://localhost:8080/ -x hello -w 2              (from a terminal)
//   sleep 3 | wscat -c ws://localhost:8080/ -x hello -w 2    (from a script)
// wscat sends each -x as one text message, prints what arrives for -w seconds, then closes.
// It also reads its standard input, even with -x, and quits at once when that ends: at a
// terminal it does not end; a script gives it a pipe that stays open long enough.
// Run: cd tests/node && npm ci && CHATD_BIN=../../chatd npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closed, next, open, sleep, startChatd, stopChatd, within } from './chatd.mjs';

const WSCAT = resolve(dirname(fileURLToPath(import.meta.url)), 'node_modules', 'wscat', 'bin', 'wscat');
const RUN_MS = 10000;

// Runs wscat with this Node.js, its standard input an open pipe as a terminal would be;
// .done resolves with its exit code and output.
function wscat(...args) {
  return collect(spawn(process.execPath, [WSCAT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
}

// The script form: `sleep 3 | wscat ...` run by sh.
function wscatFromScript(...args) {
  const quoted = [process.execPath, WSCAT, ...args].map((a) => `'${a}'`).join(' ');
  return collect(spawn('sh', ['-c', `sleep 3 | ${quoted}`], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function collect(proc) {
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  proc.done = within(new Promise((res) => proc.once('exit', (code) => res({ code, stdout, stderr }))),
    'wscat exiting', RUN_MS);
  return proc;
}

test('wscat -x sends one message and prints the replies that arrive within -w', { timeout: 30000 }, async () => {
  const chatd = await startChatd();
  try {
    const peer = await open(chatd.port, '/lobby');
    const run = wscat('-c', `ws://127.0.0.1:${chatd.port}/lobby`, '-x', 'hello', '-w', '2');
    assert.equal((await next(peer)).data.toString(), 'hello');
    peer.send('hello back, wscat');
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'hello back, wscat');
    await sleep(100);
    assert.equal(peer.inbox.length, 0, 'one message only');
    // wscat (connection 2; the peer is 1) ended with a close frame that carries no code,
    // which chatd logs as 1005, rather than by dropping the connection.
    const closedCleanly = /connection 2 closed: code 1005, closed by the client/;
    for (const deadline = Date.now() + 5000; !closedCleanly.test(chatd.log) && Date.now() < deadline;) await sleep(20);
    assert.match(chatd.log, closedCleanly);
    const done = closed(peer);
    peer.close(1000);
    await done;
  } finally {
    await stopChatd(chatd);
  }
});

test('wscat -x twice sends two messages, in order', { timeout: 30000 }, async () => {
  const chatd = await startChatd();
  try {
    const peer = await open(chatd.port);
    const run = wscat('-c', `ws://127.0.0.1:${chatd.port}/`, '-x', 'one', '-x', 'two', '-w', '0.2');
    assert.equal((await next(peer)).data.toString(), 'one');
    assert.equal((await next(peer)).data.toString(), 'two');
    assert.equal((await run.done).code, 0);
    peer.close();
  } finally {
    await stopChatd(chatd);
  }
});

test('sleep 3 | wscat -x, the form for scripts, sends and prints the same way', { timeout: 30000 }, async () => {
  const chatd = await startChatd();
  try {
    const peer = await open(chatd.port);
    const run = wscatFromScript('-c', `ws://127.0.0.1:${chatd.port}/`, '-x', 'from a script', '-w', '1');
    assert.equal((await next(peer)).data.toString(), 'from a script');
    peer.send('seen');
    const { code, stdout, stderr } = await run.done;
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), 'seen');
    peer.close();
  } finally {
    await stopChatd(chatd);
  }
});
