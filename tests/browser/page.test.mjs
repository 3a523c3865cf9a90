// The bundled page's behaviour in headless Chromium, one chatd per test: names per tab,
// presence with the exact count at once, history on join, a burst of 5,000 messages
// rendered without a long task, the message limit shown and enforced, error frames and an
// invalid room answered, Enter while offline queued, the server named when unreachable,
// its own icon, links clickable but text kept text, the new-messages marker. The other
// side is a chatd.v1 client on Node's ws. Run: cd tests/browser && npm ci &&
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
const PRESENCE_WITHIN_MS = 100;

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

// A chatd.v1 client on Node's ws, named `name`, resolved once welcomed; the frames it
// receives queue in .frames (parsed), its welcome in .welcome.
function v1peer(port, path, name) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}?name=${name}`, 'chatd.v1',
    { perMessageDeflate: false });
  ws.frames = [];
  ws.say = (text) => ws.send(JSON.stringify({ type: 'message', text }));
  ws.messages = () => ws.frames.filter((f) => f.type === 'message');
  return withTimeout(new Promise((res, rej) => {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      ws.frames.push(f);
      if (f.type === 'welcome') {
        ws.welcome = f;
        res(ws);
      }
    });
    ws.once('error', rej);
  }), STEP_MS, `the chatd.v1 client ${name} being welcomed`);
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
  const sender = await v1peer(chatd.port, room, 'burst');
  await page.locator('#messages .sys', { hasText: 'burst joined' }).waitFor();
  await page.evaluate(() => { window.burstStart = performance.now(); });
  for (let i = 0; i < BURST; i++) sender.say(`burst message ${i}`);
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
    // One sender: one group, its name shown on the first message kept.
    grouped: [...document.querySelectorAll('#messages .msg')].map((m) => m.classList.contains('cont'))
      .every((cont, i) => cont === (i > 0)),
    names: [...new Set([...document.querySelectorAll('#messages .msg .nick')].map((n) => n.textContent))],
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
        assert.equal(r.grouped, true, 'the burst is one group');
        assert.deepEqual(r.names, ['burst'], 'every message under the name the server gave');
        if (r.longest <= LONG_TASK_LIMIT_MS && r.shownAfter <= BURST_SHOWN_WITHIN_MS) break;
      }
    } catch (err) { throw explain(err, chatd); }
    assert.ok(r.longest <= LONG_TASK_LIMIT_MS, `longest main-thread task ${r.longest.toFixed(0)} ms`);
    assert.ok(r.shownAfter <= BURST_SHOWN_WITHIN_MS, `last message shown after ${r.shownAfter.toFixed(0)} ms`);
  });

test('the message limit equals the server\'s, is shown before it bites, and a longer message is refused visibly',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t);
    const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/limits?name=writer`);
    await waitOnline(page, STEP_MS);
    const other = await v1peer(chatd.port, '/limits', 'reader');
    const limit = other.welcome.max_text; // what the server says it takes
    const shown = limit.toLocaleString('en');
    const input = page.locator('#message');
    const counter = page.locator('#limit');
    assert.equal(await input.getAttribute('title'), `up to ${shown} bytes per message, the server's limit`);

    await input.fill('short');
    assert.equal(await counter.isHidden(), true, 'no counter for a short message');

    // Past half the limit the size shows, and the message still goes, up to the limit.
    await input.fill('x'.repeat(limit));
    await counter.waitFor({ state: 'visible' });
    assert.equal(await counter.textContent(), `${shown} of ${shown} bytes`);
    await input.press('Enter');
    await waitFor('the longest message at the other client', () => other.messages().length === 1);
    assert.equal(other.messages()[0].text.length, limit);
    assert.equal(other.messages()[0].name, 'writer');
    assert.equal(await input.inputValue(), '');

    // One byte more, as a two-byte character: refused by the page, which keeps the text
    // (not cut by a maxlength) and says why, instead of the server answering too_long.
    const tooLong = 'x'.repeat(limit - 1) + 'é';
    await input.fill(tooLong);
    assert.equal(await counter.textContent(),
      `too long: ${(limit + 1).toLocaleString('en')} bytes; the server takes up to ${shown}`);
    assert.equal(await page.locator('#send').isDisabled(), true);
    await input.press('Enter');
    await page.waitForTimeout(300);
    assert.equal(await input.inputValue(), tooLong, 'the text is kept whole');
    assert.equal(other.messages().length, 1, 'nothing more sent');
    assert.equal(await page.locator('#messages .sys.error').count(), 0, 'no error from the server');
    assert.equal(await page.locator('#status').textContent(), 'online', 'still connected');
    other.close();
  });

test('with a --max-message below a chatd.v1 frame, the page\'s limit is what fits in one',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t, 0, '--max-message', '1K');
    const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/small?name=writer`);
    await waitOnline(page, STEP_MS);
    const other = await v1peer(chatd.port, '/small', 'reader');
    // {"type":"message","text":"..."} is 28 bytes around the text: 996 of 1,024 are left.
    const input = page.locator('#message');
    const counter = page.locator('#limit');
    await input.fill('x'.repeat(996));
    assert.equal(await counter.textContent(), '996 of 996 bytes');
    await input.press('Enter');
    await waitFor('the 996-byte message at the other client', () => other.messages().length === 1);
    await input.fill('x'.repeat(997));
    assert.equal(await counter.textContent(), 'too long: 997 bytes; the server takes up to 996');
    // Control characters are escaped into 6 bytes each: within the text bound, over the frame's.
    await input.fill('\u0001'.repeat(300));
    assert.equal(await counter.textContent(),
      'too long once encoded: 1,828 bytes of JSON; the server takes up to 1,024');
    await input.press('Enter');
    await page.waitForTimeout(300);
    assert.equal(other.messages().length, 1, 'nothing more sent');
    assert.equal(await page.locator('#status').textContent(), 'online', 'not closed with 1009');
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
    let chatd = await chatdFor(t);
    const port = chatd.port;
    const page = await pageFor(t, `http://127.0.0.1:${port}/q?name=typist`, () => {
      window.sentFrames = [];
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (data) { window.sentFrames.push(JSON.parse(data)); return send.call(this, data); };
    });
    await waitOnline(page, STEP_MS);
    const { code } = await stopChatd(chatd);
    assert.equal(code, 0);
    await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'online');
    assert.equal(await page.locator('#message').getAttribute('placeholder'), 'Message (queued, sent once reconnected)');
    assert.equal(await page.locator('#room-count').textContent(), '', 'no count while not in the room');

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
    assert.deepEqual(await page.evaluate(() => window.sentFrames.filter((f) => f.type === 'message')), [],
      'nothing sent while offline');

    chatd = await chatdFor(t, port);
    await waitOnline(page, 20_000); // the page's backoff is capped at 10 s
    await page.waitForFunction(() => document.querySelectorAll('#messages .msg.queued').length === 0);
    const sent = await page.evaluate(() => window.sentFrames);
    assert.deepEqual(sent.slice(-3), [
      { type: 'hello', name: 'typist' },
      { type: 'message', text: 'typed while offline' },
      { type: 'message', text: 'and a second one' },
    ], 'after the hello, in order');
    // They reached the server: a newcomer gets them as the room's history, under the
    // page's name.
    const newcomer = await v1peer(port, '/q', 'newcomer');
    assert.deepEqual(newcomer.messages().map((m) => [m.name, m.text, m.history]), [
      ['typist', 'typed while offline', true],
      ['typist', 'and a second one', true],
    ]);
    // Confirmed by the server's copies: no mark, no second copy.
    await page.waitForFunction(() => [...document.querySelectorAll('#messages .msg.own .queued-mark')]
      .every((m) => m.textContent === ''));
    assert.equal(await page.locator('#messages .msg.own').count(), 2);
    newcomer.close();
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
  // A server address whose path is no room: said at once, not tried.
  const badRoom = `ws://127.0.0.1:${port}/my%20room`;
  const refused = await pageFor(t, `${file}?server=${encodeURIComponent(badRoom)}`);
  await refused.locator('#messages .sys.error').waitFor();
  assert.equal(await refused.locator('#messages .sys.error').textContent(),
    `"/my%20room" in ${badRoom} is not a room: chatd takes up to 63 letters, digits and . _ ~ - after the slash`);
  assert.equal(await refused.locator('#status').textContent(), 'offline: not a room');
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
    const other = await v1peer(chatd.port, '/links', 'linker');
    const text = 'see https://example.com/a?b=1&c=%20d, then http://x.test/path. ' +
      'Not javascript:alert(1) nor ftp://f.test/z nor <a href="https://evil.test/">this</a>';
    other.say(text);
    other.say('a second line with https://second.test/ in it');
    const last = page.locator('#messages .msg .text', { hasText: 'a second line with' });
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
      { href: 'https://second.test/', text: 'https://second.test/', rel, target: '_blank' },
    ]);
    assert.equal(await page.locator('#messages .msg a[href^="javascript"], #messages .msg a[href^="ftp"]').count(), 0);
    other.close();
  });

// Two tabs of one browser share localStorage, so both suggest the last name chosen: the
// server gives the second another, and each shows the name it was given.
test('two tabs of one browser get distinct names, each message under the server\'s name',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t);
    const url = `http://127.0.0.1:${chatd.port}/tabs`;
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(STEP_MS);
    t.after(() => context.close().catch(() => {}));
    await context.addInitScript(() => localStorage.setItem('chatd.name', 'sam'));
    const first = await context.newPage();
    await first.goto(url);
    await waitOnline(first, STEP_MS);
    const second = await context.newPage();
    await second.goto(url);
    await waitOnline(second, STEP_MS);
    assert.equal(await first.locator('#name').inputValue(), 'sam');
    assert.equal(await second.locator('#name').inputValue(), 'sam2');
    assert.equal(await second.locator('#name-note').textContent(), '"sam" is taken in /tabs: you are sam2');
    assert.equal(await first.locator('#name-note').textContent(), '');

    await second.locator('#message').fill('from the second tab');
    await second.locator('#message').press('Enter');
    const onFirst = first.locator('#messages .msg:not(.own)', { hasText: 'from the second tab' });
    await onFirst.waitFor();
    assert.equal(await onFirst.locator('.nick').textContent(), 'sam2');
    const own = second.locator('#messages .msg.own', { hasText: 'from the second tab' });
    assert.equal(await own.locator('.nick').textContent(), 'sam2');
    // A client cannot speak under another's name: a "name" in the frame is ignored.
    const bot = await v1peer(chatd.port, '/tabs', 'bot');
    bot.send(JSON.stringify({ type: 'message', name: 'sam', text: 'not really sam' }));
    const forged = first.locator('#messages .msg', { hasText: 'not really sam' });
    await forged.waitFor();
    assert.equal(await forged.locator('.nick').textContent(), 'bot');
    bot.close();
  });

// Each page logs every change of its count with the time (Date.now(): the same clock as
// this process) through a MutationObserver.
const logCount = () => {
  window.countLog = [];
  document.addEventListener('DOMContentLoaded', () => {
    const el = document.getElementById('room-count');
    new MutationObserver(() => window.countLog.push({ text: el.textContent, at: Date.now() }))
      .observe(el, { childList: true, characterData: true, subtree: true });
  });
};

async function countAt(page, text, since, what) {
  await page.waitForFunction((want) => document.getElementById('room-count').textContent === want, text,
    { timeout: STEP_MS });
  const log = await page.evaluate(() => window.countLog);
  const hit = log.find((e) => e.text === text && e.at >= since);
  assert.ok(hit, `${what}: "${text}" logged after ${since}: ${JSON.stringify(log)}`);
  return hit.at - since;
}

function names(page) {
  return page.locator('#online li').evaluateAll((lis) => lis.map((li) => li.textContent));
}

test(`join and leave: the exact count on every page within ${PRESENCE_WITHIN_MS} ms, and who is online`,
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t);
    const url = `http://127.0.0.1:${chatd.port}/presence`;
    const ann = await pageFor(t, `${url}?name=ann`, logCount);
    await waitOnline(ann, STEP_MS);
    assert.equal(await ann.locator('#room-count').textContent(), '1 online');
    const bob = await pageFor(t, `${url}?name=bob`, logCount);
    await waitOnline(bob, STEP_MS);
    // bob's own count and ann's: within the bound of each other.
    const bobIn = (await bob.evaluate(() => window.countLog)).find((e) => e.text === '2 online').at;
    const annSaw = (await ann.evaluate(() => window.countLog)).find((e) => e.text === '2 online').at;
    const lags = [['ann and bob count bob', Math.abs(annSaw - bobIn)]];
    await ann.locator('#online li', { hasText: 'bob' }).waitFor();
    assert.deepEqual(await names(ann), ['ann (you)', 'bob']);
    assert.deepEqual(await names(bob), ['ann', 'bob (you)']);

    // A third, not a browser: both pages count it the moment it is welcomed.
    const before = Date.now();
    const carol = await v1peer(chatd.port, '/presence', 'carol');
    const carolIn = Date.now();
    assert.equal(carol.welcome.count, 3);
    for (const [who, page] of [['ann', ann], ['bob', bob]]) {
      lags.push([`${who} sees carol join`, await countAt(page, '3 online', before, who) - (carolIn - before)]);
      await page.locator('#online li', { hasText: 'carol' }).waitFor();
    }
    const left = Date.now();
    carol.close();
    for (const [who, page] of [['ann', ann], ['bob', bob]]) {
      lags.push([`${who} sees carol leave`, await countAt(page, '2 online', left, who)]);
      await page.locator('#messages .sys', { hasText: 'carol left' }).waitFor();
    }
    // bob's page leaves the room: its socket closed, not to reconnect. Timed in the page,
    // as closing the whole page first goes through the test's driver.
    const closed = await bob.evaluate(() => {
      socket.onclose = null;
      socket.close(1000);
      return Date.now();
    });
    lags.push(['ann sees bob leave', await countAt(ann, '1 online', closed, 'ann')]);
    // The list is redrawn in its own frame, after the count: wait for it, then check it.
    await ann.locator('#online li', { hasText: 'bob' }).waitFor({ state: 'detached', timeout: STEP_MS });
    assert.deepEqual(await names(ann), ['ann (you)']);
    // Never a wrong count on the way.
    assert.deepEqual((await ann.evaluate(() => window.countLog)).map((e) => e.text),
      ['1 online', '2 online', '3 online', '2 online', '1 online']);
    t.diagnostic(lags.map(([what, ms]) => `${what}: ${Math.max(0, ms)} ms`).join('; ') + ' (a shared machine: noisy)');
    for (const [what, ms] of lags) assert.ok(ms <= PRESENCE_WITHIN_MS, `${what} after ${ms} ms`);
  });

test('a newcomer sees the room\'s history, marked as earlier, once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const chatd = await chatdFor(t);
  const early = await v1peer(chatd.port, '/hist', 'early');
  for (const text of ['first words', 'second words', 'third words']) early.say(text);
  await waitFor('the three messages stored', () => early.messages().length === 3);
  const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/hist?name=late`);
  await waitOnline(page, STEP_MS);
  const history = page.locator('#messages .msg.history');
  await withTimeout(page.waitForFunction(() => document.querySelectorAll('#messages .msg.history').length === 3),
    STEP_MS, 'three history messages');
  assert.deepEqual(await history.locator('.text').allTextContents(), ['first words', 'second words', 'third words']);
  assert.deepEqual(await history.locator('.nick').allTextContents(), ['early', 'early', 'early']);
  assert.equal(await history.first().evaluate((el) => getComputedStyle(el).borderStyle), 'dashed',
    'drawn apart from live messages');
  const order = async () => (await page.locator('#messages > *').allTextContents()).map((s) => s.replace(/\d\d:\d\d/, ''));
  await page.locator('#messages .sys', { hasText: 'connected to' }).waitFor();
  // One sender: one group, the name on its first message only.
  assert.deepEqual(await history.evaluateAll((els) => els.map((el) => el.classList.contains('cont'))),
    [false, true, true]);
  assert.deepEqual(await order(), ['earlier in /hist', 'earlyfirst words', 'earlysecond words', 'earlythird words',
    'above: earlier messages, from before you joined',
    `connected to ws://127.0.0.1:${chatd.port}/hist as late`]);

  early.say('said live');
  const live = page.locator('#messages .msg', { hasText: 'said live' });
  await live.waitFor();
  assert.equal(await live.evaluate((el) => el.classList.contains('history')), false);

  // A new name is a new connection, which replays the history again: nothing seen twice.
  await page.locator('#name').fill('later');
  await page.locator('#name').press('Enter');
  await page.locator('#messages .sys', { hasText: /^you are now later$/ }).waitFor();
  assert.equal(await page.locator('#messages .msg').count(), 4);
  assert.equal(await page.locator('#messages .sys.earlier').count(), 2);
  assert.equal(await page.evaluate(() => localStorage.getItem('chatd.name')), 'later', 'the next tab\'s suggestion');
  early.close();
});

test('a name that breaks the rules is refused by the page, visibly', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const chatd = await chatdFor(t);
  const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/names?name=ok`);
  await waitOnline(page, STEP_MS);
  // (The box takes at most 24 characters: longer cannot be typed.)
  for (const bad of ['two words', 'raw-7', '', 'zoë', 'a/b']) {
    await page.locator('#name').fill(bad);
    await page.locator('#name').press('Enter');
    assert.match(await page.locator('#name-note').textContent(), /is not a name: use 1 to 24 letters, digits and _ - \./);
    assert.equal(await page.locator('#name').getAttribute('aria-invalid'), 'true');
  }
  assert.equal(await page.locator('#status').textContent(), 'online', 'still connected as before');
  assert.equal(await page.evaluate(() => localStorage.getItem('chatd.name')), null, 'nothing remembered');
});

test('an error frame from the server is shown, and the page stays connected', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const chatd = await chatdFor(t);
  const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/errors?name=ok`);
  await waitOnline(page, STEP_MS);
  // What a later page might send to this server: an unknown type.
  await page.evaluate(() => socket.send(JSON.stringify({ type: 'typing' })));
  const error = page.locator('#messages .sys.error');
  await error.waitFor();
  assert.equal(await error.textContent(), 'the server says: the types are hello and message (unknown_type)');
  assert.equal(await page.locator('#status').textContent(), 'online');
});

test('a message the server cannot pass on (Redis down: unavailable) is marked not sent', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Nothing listens on port 1: with --redis a v1 message has no id to get, and its sender
  // is told so; the page must not leave it waiting for a copy that never comes.
  const chatd = await chatdFor(t, 0, '--redis', 'redis://127.0.0.1:1');
  const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/down?name=ann`);
  await waitOnline(page, STEP_MS);
  await page.locator('#message').fill('anyone?');
  await page.locator('#message').press('Enter');
  const failed = page.locator('#messages .msg.failed');
  await failed.waitFor({ timeout: STEP_MS });
  assert.match(await failed.textContent(), /not sent: .*Redis/);
});

test('while the reader is scrolled up, new messages are counted in a marker, not scrolled to',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t, 0, '--rate-limit', 'off');
    const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/scroll?name=reader`);
    await waitOnline(page, STEP_MS);
    const talker = await v1peer(chatd.port, '/scroll', 'talker');
    for (let i = 0; i < 60; i++) talker.say(`line ${i}`);
    await page.locator('#messages .msg', { hasText: 'line 59' }).waitFor();
    const marker = page.locator('#new-marker');
    assert.equal(await marker.isHidden(), true, 'at the bottom: no marker');
    await page.locator('#messages').evaluate((el) => { el.scrollTop = 0; });
    talker.say('while you read');
    talker.say('and another');
    await marker.waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('new-marker').textContent === '2 new messages \u2193');
    assert.equal(await page.locator('#messages').evaluate((el) => el.scrollTop), 0, 'not yanked down');
    await marker.click();
    await marker.waitFor({ state: 'hidden' });
    assert.ok(await page.locator('#messages').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48));
    talker.close();
  });

// Raw clients (websocat, scripts) reach chatd.v1 clients as message frames named raw-<id>
// where the server makes them members of the room (docs/PROTOCOL.md). The page needs no
// more than to render those frames; here they are handed to it as if they had come.
test('a raw client\'s messages and presence are shown like anyone\'s, marked as raw',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const chatd = await chatdFor(t);
    const page = await pageFor(t, `http://127.0.0.1:${chatd.port}/mixed?name=ann`);
    await waitOnline(page, STEP_MS);
    await page.evaluate(() => {
      receive(JSON.stringify({ type: 'join', id: 90, name: 'raw-90', count: 2 }));
      receive(JSON.stringify({ type: 'message', id: 1, time: Date.now(), name: 'raw-90', text: 'from websocat' }));
    });
    const msg = page.locator('#messages .msg.raw', { hasText: 'from websocat' });
    await msg.waitFor();
    assert.equal(await msg.locator('.nick').textContent(), 'raw-90');
    assert.equal(await page.locator('#room-count').textContent(), '2 online');
    await page.locator('#online li.raw', { hasText: 'raw-90' }).waitFor();
    await page.evaluate(() => receive(JSON.stringify({ type: 'leave', id: 90, name: 'raw-90', count: 1 })));
    assert.equal(await page.locator('#room-count').textContent(), '1 online');
    await page.waitForFunction(() => document.querySelectorAll('#online li').length === 1);
  });
