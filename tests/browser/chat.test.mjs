// End-to-end test of chatd's bundled chat page (examples/chat.html) in
// headless Chromium, driven by playwright-core with Debian's /usr/bin/chromium
// (no browser download). Run: cd tests/browser && npm ci && npm test
//
// Environment:
//   CHATD_BIN        chatd binary (default: ../../chatd from this file)
//   CHROMIUM_PATH    browser binary (default: /usr/bin/chromium)
//
// Writes screenshots to tests/output/browser/{alice,bob,phone}.png. The README's
// docs/screenshot.png comes from screenshot.mjs, a staged conversation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  CHATD_BIN, CHROMIUM, alive, explain, launchChromium, repo, running, startChatd, stopChatd,
  waitOnline, withTimeout,
} from './harness.mjs';

const OUT_DIR = resolve(repo, 'tests', 'output', 'browser');

const ROOM = '/room1';
const XSS = '<img src=x onerror=alert(1)>';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const TEST_TIMEOUT_MS = 60_000;   // the whole scenario
const ONLINE_TIMEOUT_MS = 15_000; // first connection
const MSG_TIMEOUT_MS = 10_000;    // a message reaching the other page
const DROP_TIMEOUT_MS = 5_000;    // pages noticing that chatd went away
const RECONNECT_TIMEOUT_MS = 20_000; // backoff is capped at 10 s

/* ---- page helpers ---- */

// The first .msg (optionally .own or not) with this name and exactly this text. The
// name is in every message's .nick, shown on the first of a sender's group.
function message(page, nick, text, { own } = {}) {
  const sel = own === undefined ? '#messages .msg' : own ? '#messages .msg.own' : '#messages .msg:not(.own)';
  return page.locator(sel)
    .filter({ has: page.locator('.nick', { hasText: new RegExp(`^${escapeRe(nick)}$`) }) })
    .filter({ has: page.locator('.text', { hasText: new RegExp(`^${escapeRe(text)}$`) }) });
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function send(page, text) {
  const input = page.locator('#message');
  await input.click({ timeout: MSG_TIMEOUT_MS });
  await input.pressSequentially(text, { timeout: MSG_TIMEOUT_MS });
  await input.press('Enter', { timeout: MSG_TIMEOUT_MS });
  // The page clears the box once the message is on its way.
  await page.waitForFunction(() => document.getElementById('message').value === '', null,
    { timeout: MSG_TIMEOUT_MS });
}

async function expectShown(page, nick, text, opts) {
  await message(page, nick, text, opts).first().waitFor({ state: 'visible', timeout: MSG_TIMEOUT_MS });
}

/* ---- the test ---- */

test('two browsers chat through chatd, survive a restart, and render hostile text as text',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    assert.ok(existsSync(CHATD_BIN), `no chatd binary at ${CHATD_BIN} (build it with make, or set CHATD_BIN)`);
    assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);

    let chatd = null;
    let browser = null;
    t.after(async () => {
      if (browser) await withTimeout(browser.close(), 10_000, 'closing the browser').catch(() => {});
      if (alive(chatd)) {
        chatd.kill('SIGKILL');
        await withTimeout(chatd.exited, 5_000, 'chatd dying').catch(() => {});
      }
    });

    chatd = await startChatd(0);
    running.add(chatd);
    const port = chatd.port;
    const url = `http://127.0.0.1:${port}${ROOM}`;

    browser = await launchChromium();

    // Two contexts: separate localStorage, so each remembers its own name.
    const pages = {};
    const dialogs = [];
    const pageErrors = [];
    await Promise.all(['alice', 'bob'].map(async (who) => {
      const context = await browser.newContext({ viewport: DESKTOP, colorScheme: 'light' });
      context.setDefaultTimeout(MSG_TIMEOUT_MS);
      const page = await context.newPage();
      page.on('dialog', (d) => { dialogs.push(`${who}: ${d.type()} ${d.message()}`); d.dismiss().catch(() => {}); });
      page.on('pageerror', (err) => pageErrors.push(`${who}: ${err.message}`));
      await page.goto(url, { timeout: 15_000 });
      pages[who] = page;
    })).catch((err) => { throw explain(err, chatd); });
    const { alice, bob } = pages;

    // The steps depend on each other: after one fails, skip the rest instead
    // of letting each of them run into its own timeout, and start none once
    // the whole test has timed out.
    let broken = null;
    const step = async (name, fn) => {
      if (t.signal.aborted) return;
      await t.test(name, async (st) => {
        if (broken) { st.skip(`"${broken}" failed`); return; }
        try { await fn(st); } catch (err) { broken = name; throw explain(err, chatd); }
      });
    };

    await step('both pages come online in room /room1, as guests', async () => {
      await Promise.all([waitOnline(alice, ONLINE_TIMEOUT_MS), waitOnline(bob, ONLINE_TIMEOUT_MS)]);
      for (const page of [alice, bob]) {
        assert.equal(await page.locator('#room').textContent(), ROOM);
        assert.equal(await page.locator('#message').getAttribute('placeholder'), 'Message');
        assert.match(await page.locator('#name').inputValue(), /^guest\d{4}$/);
      }
    });

    await step('each chooses a name, which the server gives and the browser remembers', async () => {
      for (const [who, page] of Object.entries(pages)) {
        await page.locator('#name').fill(who);
        await page.locator('#name').press('Enter');
        await page.locator('#messages .sys', { hasText: new RegExp(`^you are now ${who}$`) }).waitFor();
        await waitOnline(page, ONLINE_TIMEOUT_MS);
        assert.equal(await page.locator('#name').inputValue(), who);
        assert.equal(await page.evaluate(() => localStorage.getItem('chatd.name')), who);
      }
    });

    await step('both count 2 online and list each other', async () => {
      for (const page of [alice, bob]) {
        await page.waitForFunction(() => document.getElementById('room-count').textContent === '2 online');
        await page.waitForFunction(() => document.querySelectorAll('#online li').length === 2);
      }
      assert.deepEqual(await alice.locator('#online li').allTextContents(), ['alice (you)', 'bob']);
      assert.deepEqual(await bob.locator('#online li').allTextContents(), ['alice', 'bob (you)']);
    });

    await step('alice -> bob, shown as own on alice\'s page', async () => {
      await send(alice, 'hello bob');
      await expectShown(bob, 'alice', 'hello bob', { own: false });
      await expectShown(alice, 'alice', 'hello bob', { own: true });
      // The server's copy confirms the one shown when sent: exactly one on each side.
      assert.equal(await message(alice, 'alice', 'hello bob').count(), 1);
      assert.equal(await message(bob, 'alice', 'hello bob').count(), 1);
    });

    await step('markup from bob is shown as text, never run', async () => {
      await send(bob, XSS);
      await expectShown(alice, 'bob', XSS, { own: false });
      const text = await message(alice, 'bob', XSS).first().locator('.text').evaluate((el) => el.textContent);
      assert.equal(text, XSS);
      await alice.waitForTimeout(300); // give a would-be onerror handler time to fire
      for (const page of [alice, bob]) {
        assert.equal(await page.locator('#messages img').count(), 0, 'no <img> created in #messages');
      }
      assert.deepEqual(dialogs, [], 'no dialog opened');
    });

    await step('SIGTERM stops chatd with exit code 0 and the pages notice', async () => {
      const { code, signal } = await stopChatd(chatd);
      assert.equal(signal, null, `chatd killed by ${signal}; log:\n${chatd.log}`);
      assert.equal(code, 0, `chatd exit code; log:\n${chatd.log}`);
      await Promise.all([alice, bob].map((page) => page.waitForFunction(() => {
        const s = document.getElementById('status');
        return (s.dataset.state === 'reconnecting' && /^reconnecting in \d+s$/.test(s.textContent)) ||
          (s.dataset.state === 'connecting' && s.textContent === 'connecting');
      }, null, { timeout: DROP_TIMEOUT_MS })));
      // Enter while offline queues the message; the placeholder says so.
      assert.match(await alice.locator('#message').getAttribute('placeholder'), /queued/);
      // chatd said goodbye with 1001 (going away), and the page tells the reader.
      await alice.locator('#messages .sys', { hasText: 'disconnected (code 1001' })
        .waitFor({ state: 'visible', timeout: DROP_TIMEOUT_MS });
    });

    await step('after a restart on the same port both pages come back online by themselves', async () => {
      chatd = await startChatd(port);
      running.add(chatd);
      assert.equal(chatd.port, port);
      await Promise.all([waitOnline(alice, RECONNECT_TIMEOUT_MS), waitOnline(bob, RECONNECT_TIMEOUT_MS)]);
    });

    await step('bob -> alice after the reconnect, under the same names', async () => {
      for (const page of [alice, bob]) {
        await page.waitForFunction(() => document.getElementById('room-count').textContent === '2 online');
      }
      assert.equal(await alice.locator('#name').inputValue(), 'alice');
      assert.equal(await bob.locator('#name').inputValue(), 'bob');
      await send(bob, 'back again, alice');
      await expectShown(alice, 'bob', 'back again, alice', { own: false });
      await expectShown(bob, 'bob', 'back again, alice', { own: true });
    });

    await step('screenshots', async () => {
      mkdirSync(OUT_DIR, { recursive: true });
      await alice.screenshot({ path: resolve(OUT_DIR, 'alice.png'), timeout: 10_000 });
      await bob.screenshot({ path: resolve(OUT_DIR, 'bob.png'), timeout: 10_000 });
      await alice.setViewportSize(PHONE);
      await alice.screenshot({ path: resolve(OUT_DIR, 'phone.png'), timeout: 10_000 });
    });

    assert.equal(broken, null, `step "${broken}" failed`);
    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the pages');
  });

// The page over https:// and wss:// with chatd's own TLS. The certificate is self-signed and
// made here; only this test's browser is told to accept it (--ignore-certificate-errors).
test('two browsers chat over https and wss with --tls-cert', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chatd-browser-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: dir, stdio: 'pipe' });
  const chatd = await startChatd(0, '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'));
  running.add(chatd);
  let browser = null;
  t.after(async () => {
    if (browser) await withTimeout(browser.close(), 10_000, 'closing the browser').catch(() => {});
    if (alive(chatd)) await stopChatd(chatd).catch(() => chatd.kill('SIGKILL'));
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    browser = await launchChromium('--ignore-certificate-errors');
    const url = `https://127.0.0.1:${chatd.port}/secure`;
    const pages = await Promise.all(['carol', 'dave'].map(async (who) => {
      const context = await browser.newContext({ viewport: DESKTOP });
      context.setDefaultTimeout(MSG_TIMEOUT_MS);
      const page = await context.newPage();
      await page.goto(`${url}?name=${who}`, { timeout: 15_000 });
      await waitOnline(page, ONLINE_TIMEOUT_MS);
      assert.equal(await page.locator('#name').inputValue(), who);
      return page;
    }));
    const [carol, dave] = pages;
    assert.equal(await carol.evaluate(() => location.protocol), 'https:');
    await send(carol, 'hello over wss');
    await expectShown(dave, 'carol', 'hello over wss', { own: false });
    await send(dave, 'and back');
    await expectShown(carol, 'dave', 'and back', { own: false });
    const { code } = await stopChatd(chatd);
    assert.equal(code, 0, `chatd exit code; log:\n${chatd.log}`);
    assert.match(chatd.log, /connection \d+ opened from 127\.0\.0\.1:\d+, room \/secure/);
  } catch (err) {
    throw explain(err, chatd);
  }
});
