// Regenerates docs/screenshot.png, the README's picture: alice and bob chatting in the
// bundled page in /lobby, seen from alice's side at desktop width, with the count and
// the list of who is online as they are. Not a test. Run: cd tests/browser && node screenshot.mjs
// (CHATD_BIN and CHROMIUM_PATH as for the tests).
import { resolve } from 'node:path';
import { launchChromium, repo, startChatd, stopChatd, waitOnline } from './harness.mjs';

const chatd = await startChatd(0);
const browser = await launchChromium();
try {
  const pages = [];
  for (const name of ['alice', 'bob']) {
    const context = await browser.newContext({ viewport: { width: 1100, height: 640 }, colorScheme: 'light' });
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${chatd.port}/lobby?name=${name}`);
    await waitOnline(page, 10_000);
    pages.push(page);
  }
  const say = async (who, text) => {
    await pages[who].fill('#message', text);
    await pages[who].press('#message', 'Enter');
    for (const page of pages) {
      await page.waitForFunction((t) =>
        [...document.querySelectorAll('.msg:not(.queued) .text')].some((e) => e.textContent === t), text);
    }
  };
  await say(1, 'morning! is the build green?');
  await say(0, 'yes: make test passes, browser tests included');
  await say(1, 'great, shipping it now');
  await say(1, 'the release notes are in the usual place');
  await say(0, 'I will open a room for the release: http://localhost:8080/release');
  for (const page of pages) {
    await page.waitForFunction(() => document.getElementById('room-count').textContent === '2 online' &&
      document.querySelectorAll('#online li').length === 2);
  }
  await pages[0].screenshot({ path: resolve(repo, 'docs', 'screenshot.png') });
} finally {
  await browser.close();
  await stopChatd(chatd);
}
