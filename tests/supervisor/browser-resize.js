// browser-resize.js URL [fit]: the resize test's browser client. Opens the
// player (URL may redirect), waits for decoded frames and prints the
// player's state as JSON; then waits until the decoded size changes (the
// test resizes the session through the API in between) and prints a second
// line. The test checks that the page did not reconnect (state.connects).
// With "fit" it opens the player with #fit=1 instead, changes the window's
// size twice and prints one line once the decoded size is the window's.
// Needs tests/browser/node_modules (playwright-core) and /usr/bin/chromium.
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

// #fit=1: the player asks for its window's size, once the window has
// stopped changing (two changes 100 ms apart: one request)
async function fitted(page, url) {
  await page.goto(url.replace('#', '#fit=1&'));
  await page.waitForFunction(() => window.vmstreamPlayer && window.vmstreamPlayer.decodedFrames >= 3,
    null, { timeout: 30000 });
  // the request made on connect first (its 500 ms timer must not be
  // counted below)
  await page.waitForFunction(() => window.vmstreamPlayer.resizeRequests >= 1, null, { timeout: 10000 });
  const sent = await page.evaluate(() => window.vmstreamPlayer.resizeRequests);
  await page.setViewportSize({ width: 700, height: 500 });
  await page.waitForTimeout(100);
  await page.setViewportSize({ width: 722, height: 481 });
  await page.waitForFunction(() => window.vmstreamPlayer.decodedWidth === 722 &&
    window.vmstreamPlayer.decodedHeight === 480, null, { timeout: 30000 });
  const fitted = await page.evaluate(() => window.vmstreamPlayer);
  console.log(JSON.stringify({ fitted: true, sent: fitted.resizeRequests - sent, state: fitted }));
}

(async () => {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    if (process.argv[3] === 'fit') {
      await fitted(page, url);
      return;
    }
    await page.goto(url);
    await page.waitForFunction(() => window.vmstreamPlayer && window.vmstreamPlayer.decodedFrames >= 5,
      null, { timeout: 30000 });
    const before = await page.evaluate(() => window.vmstreamPlayer);
    console.log(JSON.stringify({ state: before }));
    await page.waitForFunction(([w, h]) => window.vmstreamPlayer.decodedWidth !== w ||
      window.vmstreamPlayer.decodedHeight !== h, [before.decodedWidth, before.decodedHeight],
    { timeout: 30000 });
    // a few frames at the new size
    const n = (await page.evaluate(() => window.vmstreamPlayer.decodedFrames)) + 3;
    await page.waitForFunction((k) => window.vmstreamPlayer.decodedFrames >= k, n, { timeout: 10000 });
    const after = await page.evaluate(() => window.vmstreamPlayer);
    console.log(JSON.stringify({ resized: true, state: after }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(String(e)); process.exit(1); });
