// browser-resize.js URL: the resize test's browser client. Opens the player
// (URL may redirect), waits for decoded frames and prints the player's state
// as JSON; then waits until the decoded size changes (the test resizes the
// session through the API in between) and prints a second line. The test
// checks that the page did not reconnect (state.connects).
// Needs tests/browser/node_modules (playwright-core) and /usr/bin/chromium.
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

(async () => {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
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
