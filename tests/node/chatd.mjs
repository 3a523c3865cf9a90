// Helpers shared by the Node suites: a fresh chatd on a free port of 127.0.0.1, and ws
// clients whose messages queue up until a test asks for the next one. Every wait is bounded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const CHATD_BIN = resolve(here, process.env.CHATD_BIN || '../../chatd');
export const STEP_MS = 5000;

export function startChatd(...args) {
  const proc = spawn(CHATD_BIN, ['--port', '0', '--bind', '127.0.0.1', '--admin-listen', 'off', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.log = '';
  proc.exited = new Promise((res) => proc.once('exit', (code) => res(code)));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('chatd did not start: ' + proc.log)), STEP_MS);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      proc.log += chunk;
      const m = proc.log.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m && !proc.port) {
        clearTimeout(timer);
        proc.port = Number(m[1]);
        res(proc);
      }
    });
    proc.once('exit', () => rej(new Error('chatd exited: ' + proc.log)));
  });
}

export async function stopChatd(proc) {
  proc.kill('SIGTERM');
  const code = await Promise.race([proc.exited, sleep(STEP_MS).then(() => 'timeout')]);
  if (code === 'timeout') proc.kill('SIGKILL');
  assert.equal(code, 0, 'chatd exits 0 after SIGTERM');
}

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

export function within(promise, what, ms = STEP_MS) {
  return Promise.race([promise, sleep(ms).then(() => { throw new Error('timed out: ' + what); })]);
}

export function open(port, path = '/') {
  return openUrl(`ws://127.0.0.1:${port}${path}`, {}, 'open');
}

// A client whose messages queue up in ws.inbox until next() takes them.
export function openUrl(url, options, what) {
  const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
  ws.inbox = [];
  ws.waiters = [];
  ws.on('message', (data, isBinary) => {
    const m = { data, isBinary };
    const w = ws.waiters.shift();
    if (w) w(m); else ws.inbox.push(m);
  });
  return within(new Promise((res, rej) => { ws.once('open', () => res(ws)); ws.once('error', rej); }), what);
}

export function next(ws) {
  const m = ws.inbox.shift();
  if (m) return Promise.resolve(m);
  return within(new Promise((res) => ws.waiters.push(res)), 'a message');
}

export function closed(ws) {
  return within(new Promise((res) => ws.once('close', (code, reason) => res({ code, reason: reason.toString() }))), 'close');
}
