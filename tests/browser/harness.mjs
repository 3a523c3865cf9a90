// Helpers shared by the browser suites: chatd started on a free port of 127.0.0.1 and
// stopped by its PID, and Debian's Chromium launched through playwright-core.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
export const CHATD_BIN = resolve(here, process.env.CHATD_BIN || '../../chatd');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const START_TIMEOUT_MS = 5_000;   // chatd printing "listening on"
const STOP_TIMEOUT_MS = 5_000;    // chatd exiting after SIGTERM

// extraArgs: more Chromium flags, e.g. '--ignore-certificate-errors'.
export function launchChromium(...extraArgs) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 20_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...extraArgs],
  });
}

/* ---- chatd ---- */

// Starts chatd on 127.0.0.1:port (0: a free one) with extra arguments and resolves once it logs
// "listening on 127.0.0.1:PORT". Its log is kept in .log for failure messages.
export function startChatd(port, ...args) {
  const proc = spawn(CHATD_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--admin-listen', 'off', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.log = '';
  proc.exited = new Promise((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  for (const stream of [proc.stdout, proc.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => { proc.log += chunk; });
  }
  return new Promise((res, rej) => {
    const fail = (why) => {
      cleanup();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rej(new Error(`chatd (${CHATD_BIN}) ${why}; its log:\n${proc.log}`));
    };
    const timer = setTimeout(() => fail(`did not log "listening on" within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS);
    const onData = () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(proc.log);
      if (m) {
        cleanup();
        proc.port = Number(m[1]);
        res(proc);
      }
    };
    const onError = (err) => fail(`could not be started: ${err.message}`);
    const onExit = (code, signal) => fail(`exited early (code ${code}, signal ${signal})`);
    function cleanup() {
      clearTimeout(timer);
      proc.stderr.off('data', onData);
      proc.stdout.off('data', onData);
      proc.off('error', onError);
      proc.off('exit', onExit);
    }
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    proc.once('error', onError);
    proc.once('exit', onExit);
  });
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

export async function stopChatd(proc) {
  proc.stopping = true;
  proc.kill('SIGTERM');
  return withTimeout(proc.exited, STOP_TIMEOUT_MS, 'chatd exiting after SIGTERM');
}

export function alive(proc) {
  return proc && proc.exitCode === null && proc.signalCode === null;
}

// A failure is often just a symptom of chatd having died: say so, with its log.
export function explain(err, proc) {
  if (proc && !proc.stopping && !alive(proc) && err instanceof Error) {
    err.message += `\n(chatd had exited by itself: code ${proc.exitCode}, signal ${proc.signalCode}; its log:\n${proc.log})`;
  }
  return err;
}

// Last resort if the test runner is torn down before the after hook runs.
export const running = new Set();
process.on('exit', () => {
  for (const proc of running) if (alive(proc)) proc.kill('SIGKILL');
});

// Resolves once the page says it is online.
export async function waitOnline(page, timeout) {
  await page.waitForFunction(() => {
    const s = document.getElementById('status');
    return s.dataset.state === 'online' && s.textContent === 'online';
  }, null, { timeout });
}
