// browser-input.js URL [CHROMIUM_ARG...]: the supervisor tests' browser client. Opens the
// player (URL may redirect), waits for decoded frames, clicks the middle of
// the video and presses the Z key, then prints the player's state as JSON;
// then waits for the page to reconnect and decode again (the test kills the
// session process in between) and prints a second line.
// Needs tests/browser/node_modules (playwright-core) and /usr/bin/chromium;
// Chromium comes from tests/browser/lib.mjs, the tests' one launcher.

(async () => {
  const [url, ...args] = process.argv.slice(2);
  const { launchBrowser } = await import('../browser/lib.mjs');
  const browser = await launchBrowser({ args });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    await page.goto(url);
    await page.waitForFunction(() => window.vmstreamPlayer && window.vmstreamPlayer.decodedFrames >= 5,
      null, { timeout: 30000 });
    const canvas = await page.$('canvas');
    const box = await canvas.boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.keyboard.press('KeyZ');
    await page.waitForFunction(() => window.vmstreamPlayer.inputsSent >= 4, null, { timeout: 10000 });
    const state = await page.evaluate(() => window.vmstreamPlayer);
    const secure = await page.evaluate(() => window.isSecureContext);
    console.log(JSON.stringify({ url: page.url(), secure, state }));
    // The test now kills the session process; the supervisor restarts it on
    // the same port and the open page must reconnect and decode again.
    const before = state.decodedFrames;
    await page.waitForFunction((n) => window.vmstreamPlayer.connects >= 2 &&
      window.vmstreamPlayer.decodedFrames >= n + 5, before, { timeout: 60000 });
    const after = await page.evaluate(() => window.vmstreamPlayer);
    console.log(JSON.stringify({ resumed: true, state: after }));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(String(e)); process.exit(1); });
