// The bundled page's behaviour in headless Chromium, one chatd per test: a burst of 5,000
// messages renders without a long task, the message limit is shown and enforced, an
// invalid room is answered, Enter while offline queues, the page names the server it
// cannot reach, it brings its own icon, and links are clickable but text stays text.
// Messages come from a test-side client on Node's ws. Run: cd tests/browser && npm ci &&
// CHATD_BIN=../../chatd npm test
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import {
  alive, explain, launchChromium, repo, running, startChatd, stopChatd, waitOnline, withTimeout,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 90_000;
const STEP_MS = 10_000;
const BURST = 5_000;
const BURST_SHOWN_WITHIN_MS = 2_000;
const LONG_TASK_LIMIT_MS = 100;
const BURST_ATTEMPTS = 5;
const KEPT = 1_000; // MAX_SHOWN in examples/chat.html

let browser = null;
before(async () => { browser = await launchChromium(); });
after(async () => {
  if (browser) await withTimeout(browser.close(), 10_000, 'closing the browser').catch(() => {});
});

// A fresh chatd for one test, stopped (and required to exit 0) when the test ends.
async function chatdFor(t, port = 0, ...args) {
  const chatd = await startChatd(port, ...args);
  running.add(chatd);
  t.after(async () => {
    if (alive(chatd)) {
      const { code } = await stopChatd(chatd);
      assert.equal(code, 0, `chatd exit status; log:\n${chatd.log}`);
    }
  });
  return chatd;
}

// A page in a context of its own; uncaught errors fail the test at its end.
async function pageFor(t, url, initScript) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  if (initScript) await page.addInitScript(initScript);
  await page.goto(url);
  t.after(async () => {
    await context.close().catch(() => {});
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  });
  return page;
}

// A ws client whose messages queue in .inbox.
function peer(port, path) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: false });
  ws.inbox = [];
  ws.on('message', (data, isBinary) => ws.inbox.push(isBinary ? data : data.toString()));
  return withTimeout(new Promise((res, rej) => { ws.once('open', () => res(ws)); ws.once('error', rej); }),
    STEP_MS, 'a ws client connecting');
}

async function waitFor(what, predicate) {
  const deadline = Date.now() + STEP_MS;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

function httpGet(url) {
  return withTimeout(new Promise((res, rej) => {
    get(url, (r) => {
      let body = '';
      r.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => res({ status: r.statusCode, headers: r.headers, body }));
    }).on('error', rej);
  }), STEP_MS, `GET ${url}`);
}

function unusedPort() {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

// One burst into a fresh page in `room`; returns what the page measured.
async function burstInto(t, chatd, room) {
  const page = await pageFor(t, `http://127.0.0.1:${chatd.port}${room}`, () => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await waitOnline(page, STEP_MS);
  const sender = await peer(chatd.port, room);
  await page.evaluate(() => { window.burstStart = performance.now(); });
  for (let i = 0; i < BURST; i++) sender.send(JSON.stringify({ nick: 'burst', text: `burst message ${i}` }));
  await page.waitForFunction((last) => {
    const el = document.querySelector('#messages > :last-child .text');
    if (!el || el.textContent !== last) return false;
    window.burstShown = performance.now();
    return true;
  }, `burst message ${BURST - 1}`, { polling: 'raf', timeout: STEP_MS });
  await page.waitForTimeout(500); // a long task still running is reported when it ends
  const r = await page.evaluate(() => ({
    shownAfter: window.burstShown - window.burstStart,
    tasks: window.longTasks.filter((e) => e.start + e.duration >= window.burstStart),
    kept: document.querySelectorAll('#messages .msg').length,
    first: document.querySelector('#messages .msg .text').textContent,
  }));
  r.longest = Math.max(0, ...r.tasks.map((e) => e.duration));
  sender.close();
  await page.context().close();
  return r;
}

// The machine this runs on is shared: another process can stretch any one task of the
// page past the bound (with a load of 6 on 2 cores, tasks of 40 ms took over 100). Up to
// BURST_ATTEMPTS bursts, each into a fresh page; one within both bounds passes. The page before batching showed the last message after 6.5 s, with tasks up to
// 181 ms, on the same machine: no retry hides a regression to that.
test(`${BURST} messages in one burst: no main-thread task over ${LONG_TASK_LIMIT_MS} ms, the last shown within ${BURST_SHOWN_WITHIN_MS} ms`,
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // Flood control off: the burst must reach the page at once, not at 50 a second.
    const chatd = await chatdFor(t, 0, '--rate-limit', 'off', '--rate-limit-bytes', 'off');
    let r = null;
    try {
      for (let attempt = 1; attempt <= BURST_ATTEMPTS; attempt++) {
        r = await burstInto(t, chatd, `/burst${attempt}`);
        t.diagnostic(`burst ${attempt}: last of ${BURST} shown after ${r.shownAfter.toFixed(0)} ms; ` +
          `${r.tasks.length} long tasks (over 50 ms), longest ${r.longest.toFixed(0)} ms (a shared machine: noisy)`);
        assert.equal(r.kept, KEPT, 'the page keeps the last 1,000 messages');
        assert.equal(r.first, `burst message ${BURST - KEPT}`);
        if (r.longest <= LONG_TASK_LIMIT_MS && r.shownAfter <= BURST_SHOWN_WITHIN_MS) break;
      }
    } catch (err) { throw explain(err, chatd); }
    assert.ok(r.longest <= LONG_TASK_LIMIT_MS, `longest main-thread task ${r.longest.toFixed(0)} ms`);
    assert.ok(r.shownAfter <= BURST_SHOWN_WITHIN_MS, `last message shown after ${r.shownAfter.toFixed(0)} ms`);
  });

test('the message limit equals the server\'s, is shown before it bites, and a longer message is refused visibly',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t);
    const limit = Number(/messages up to (\d+) bytes/.exec(chatd.log)[1]);
    const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/limits`);
    await waitOnline(page, STEP_MS);
    const other = await peer(chatd.port, '/limits');
    const input = page.locator('#message');
    const counter = page.locator('#limit');
    assert.equal(await input.evaluate((el) => el.maxLength), limit, 'maxlength is the server\'s limit');
    assert.match(await input.getAttribute('title'), /up to 1,048,576 bytes/);

    await input.fill('short');
    assert.equal(await counter.isHidden(), true, 'no counter for a short message');

    // Past half the limit the size shows, and the message still goes.
    await input.fill('x'.repeat(600_000));
    await counter.waitFor({ state: 'visible' });
    assert.match(await counter.textContent(), /^600,0\d\d of 1,048,576 bytes$/);
    await input.press('Enter');
    await waitFor('the 600,000-character message at the other client', () => other.inbox.length === 1);
    assert.equal(JSON.parse(other.inbox[0]).text.length, 600_000);
    assert.equal(await input.inputValue(), '');

    // 600,000 two-byte characters: 1.2 MB of UTF-8, over the limit. Refused by the page,
    // which keeps the text and says why, instead of being cut off by the server (1009).
    const tooLong = 'é'.repeat(600_000);
    await input.fill(tooLong);
    assert.match(await counter.textContent(), /^too long: 1,200,0\d\d bytes; the server takes up to 1,048,576$/);
    assert.equal(await page.locator('#send').isDisabled(), true);
    await input.press('Enter');
    await page.waitForTimeout(300);
    assert.equal(await input.inputValue(), tooLong, 'the text is kept');
    assert.equal(other.inbox.length, 1, 'nothing more sent');
    assert.equal(await page.locator('#status').textContent(), 'online', 'still connected');
    other.close();
  });

test('an invalid room in the Join box gets a visible answer', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const chatd = await chatdFor(t);
  const url = `http://127.0.0.1:${chatd.port}/start`;
  const page = await pageFor(t, url);
  const box = page.locator('#room-input');
  const error = page.locator('#room-error');
  for (const name of ['my room', 'café', 'a/b']) {
    await box.fill(name);
    await page.locator('#room-go').click();
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /is not a room name: use up to 63 letters, digits and \. _ ~ -/);
    assert.equal(await box.getAttribute('aria-invalid'), 'true');
    assert.equal(page.url(), url, 'the page stays where it is');
  }
  await box.fill('lobby-2');
  assert.equal(await error.isHidden(), true, 'typing clears the answer');
  await page.locator('#room-go').click();
  await page.waitForURL(`http://127.0.0.1:${chatd.port}/lobby-2`);
});

test('Enter while offline queues the message, shown as queued, and sends it on reconnect',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // The admin listener on a free port: /metrics says what chatd received.
    const admin = ['--admin-listen', '127.0.0.1:0'];
    let chatd = await chatdFor(t, 0, ...admin);
    const port = chatd.port;
    const page = await pageFor(t, `http://127.0.0.1:${port}/q`, () => {
      window.sentFrames = [];
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (data) { window.sentFrames.push(String(data)); return send.call(this, data); };
    });
    await waitOnline(page, STEP_MS);
    const { code } = await stopChatd(chatd);
    assert.equal(code, 0);
    await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'online');
    assert.equal(await page.locator('#message').getAttribute('placeholder'), 'Message (queued, sent once reconnected)');

    for (const text of ['typed while offline', 'and a second one']) {
      await page.locator('#message').fill(text);
      await page.locator('#message').press('Enter');
      assert.equal(await page.locator('#message').inputValue(), '', 'the box is cleared');
    }
    const queued = page.locator('#messages .msg.own.queued');
    await withTimeout(page.waitForFunction(() => document.querySelectorAll('#messages .msg.queued').length === 2),
      STEP_MS, 'two queued messages');
    assert.equal(await queued.first().locator('.queued-mark').textContent(), 'queued: sends once reconnected');
    assert.equal(await queued.first().locator('.queued-mark').isVisible(), true);
    assert.deepEqual(await page.evaluate(() => window.sentFrames), [], 'nothing sent while offline');

    chatd = await chatdFor(t, port, ...admin);
    const adminLine = /admin listening on 127\.0\.0\.1:(\d+)/;
    await waitFor('chatd logging its admin port', () => adminLine.test(chatd.log));
    const adminPort = adminLine.exec(chatd.log)[1];
    await waitOnline(page, 20_000); // the page's backoff is capped at 10 s
    await page.waitForFunction(() => document.querySelectorAll('#messages .msg.queued').length === 0);
    const sent = (await page.evaluate(() => window.sentFrames)).map((f) => JSON.parse(f).text);
    assert.deepEqual(sent, ['typed while offline', 'and a second one'], 'sent in order on reconnect');
    // chatd counts them: they reached the server, not only the socket.
    const received = /^chatd_messages_received_total 2$/m;
    let metrics = '';
    for (const deadline = Date.now() + STEP_MS; !received.test(metrics) && Date.now() < deadline;) {
      metrics = (await httpGet(`http://127.0.0.1:${adminPort}/metrics`)).body;
    }
    assert.match(metrics, received);
  });

test('opened from a file with no server, the page names the server it is trying', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const file = pathToFileURL(resolve(repo, 'examples', 'chat.html')).href;
  const port = await unusedPort();
  const server = `ws://127.0.0.1:${port}/`;
  const page = await pageFor(t, `${file}?server=${encodeURIComponent(server)}`);
  await page.locator('#messages .sys', { hasText: `cannot reach ${server}: is chatd running there?` })
    .waitFor({ state: 'visible' });
  assert.match(await page.locator('#messages .sys').last().textContent(), /\?server=ws:\/\/host:port\//);
  assert.equal(await page.locator('#status').getAttribute('title'), server);
  // Without ?server= it tries the default, and says which.
  const plain = await pageFor(t, file);
  assert.equal(await plain.locator('#status').getAttribute('title'), 'ws://localhost:8080/');
});

test('the page brings its own icon, and /favicon.ico is not a chat room', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const chatd = await chatdFor(t);
  const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/`);
  assert.match(await page.locator('link[rel="icon"]').getAttribute('href'), /^data:image\/svg\+xml,/);
  const icon = await httpGet(`http://127.0.0.1:${chatd.port}/favicon.ico`);
  assert.equal(icon.status, 404);
  assert.doesNotMatch(icon.body, /<html/i);
});

test('http and https links are clickable, opened with noopener noreferrer; the rest stays text',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t);
    const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/links`);
    await waitOnline(page, STEP_MS);
    const other = await peer(chatd.port, '/links');
    const text = 'see https://example.com/a?b=1&c=%20d, then http://x.test/path. ' +
      'Not javascript:alert(1) nor ftp://f.test/z nor <a href="https://evil.test/">this</a>';
    other.send(JSON.stringify({ nick: 'linker', text }));
    other.send('raw line with https://raw.test/ in it');
    const last = page.locator('#messages .msg .text', { hasText: 'raw line with' });
    await last.waitFor({ state: 'visible' });
    const shown = page.locator('#messages .msg .text').filter({ hasText: 'see https' });
    assert.equal(await shown.textContent(), text, 'the text is shown exactly');
    const links = await page.locator('#messages a').evaluateAll((as) => as.map((a) => ({
      href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target,
    })));
    const rel = 'noopener noreferrer';
    assert.deepEqual(links, [
      { href: 'https://example.com/a?b=1&c=%20d', text: 'https://example.com/a?b=1&c=%20d', rel, target: '_blank' },
      { href: 'http://x.test/path', text: 'http://x.test/path', rel, target: '_blank' },
      // Inside the markup, only the URL itself: the quote ends it.
      { href: 'https://evil.test/', text: 'https://evil.test/', rel, target: '_blank' },
      { href: 'https://raw.test/', text: 'https://raw.test/', rel, target: '_blank' },
    ]);
    other.close();
  });
