// Regenerates docs/screenshot.png, the README's picture: two people chatting in the
// bundled page, at desktop width. Not a test. Run: cd tests/browser && node screenshot.mjs
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const chatd = spawn(resolve(here, process.env.CHATD_BIN || '../../chatd'),
  ['--port', '0', '--bind', '127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((res, rej) => {
  let log = '';
  chatd.stderr.on('data', (d) => {
    log += d;
    const m = log.match(/listening on 127\.0\.0\.1:(\d+)/);
    if (m) res(m[1]);
  });
  chatd.once('exit', () => rej(new Error('chatd exited: ' + log)));
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const pages = [];
  for (const nick of ['alice', 'bob']) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/lobby`);
    await page.fill('#nick', nick);
    await page.waitForSelector('#status[data-state="online"]');
    pages.push(page);
  }
  const say = async (who, text) => {
    await pages[who].fill('#message', text);
    await pages[who].press('#message', 'Enter');
    await pages[1 - who].waitForFunction((t) =>
      [...document.querySelectorAll('.msg .text')].some((e) => e.textContent === t), text);
  };
  await say(1, 'morning! is the build green?');
  await say(0, 'yes: make test passes, browser test included');
  await say(1, 'great, shipping it now');
  await say(0, 'I will open a room for the release: http://localhost:8080/release');
  await pages[0].waitForFunction(() => /online/.test(document.getElementById('room-count').textContent),
    null, { timeout: 8000 });
  await pages[0].screenshot({ path: resolve(here, '..', '..', 'docs', 'screenshot.png') });
} finally {
  await browser.close();
  chatd.kill('SIGTERM');
}
