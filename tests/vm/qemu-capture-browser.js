// qemu-capture-browser.js URL: Chromium side of tests/vm/test_qemu_capture.py.
// Opens the session's viewer link and answers the test over stdin/stdout,
// one JSON line per step:
//   "size W H"  wait until frames of W x H have been decoded (5 or more of
//               them since the size was first seen), print the state;
//   "key"       click into the picture and press KeyA, wait until the
//               player sent it, print the state;
//   "other W H" wait until frames of a size other than W x H are decoded
//               (5 or more since), print the state.
// Needs tests/browser/node_modules (playwright-core) and /usr/bin/chromium.
const path = require('path');
const readline = require('readline');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(process.argv[2]);
    // frames decoded per size, counted in the page (the player's
    // decodedWidth/decodedHeight are those of the last decoded frame)
    await page.evaluate(() => {
      window.sizes = {};
      let last = 0;
      const tick = () => {
        const p = window.vmstreamPlayer;
        if (p && p.decodedFrames > last) {
          const k = p.decodedWidth + 'x' + p.decodedHeight;
          window.sizes[k] = (window.sizes[k] || 0) + (p.decodedFrames - last);
          last = p.decodedFrames;
        }
        requestAnimationFrame(tick);
      };
      tick();
    });
    const state = () => page.evaluate(() => ({ player: window.vmstreamPlayer, sizes: window.sizes }));
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      const [cmd, w, h] = line.trim().split(/\s+/);
      if (cmd === 'size') {
        await page.waitForFunction((k) => (window.sizes[k] || 0) >= 5, `${w}x${h}`, { timeout: 120000 });
      } else if (cmd === 'other') {
        await page.waitForFunction((k) => Object.keys(window.sizes).some(
          (s) => s !== k && s !== '640x480' && window.sizes[s] >= 5), `${w}x${h}`, { timeout: 120000 });
      } else if (cmd === 'key') {
        const canvas = await page.$('canvas');
        const box = await canvas.boundingBox();
        const sent = await page.evaluate(() => window.vmstreamPlayer.inputsSent);
        await page.mouse.click(box.x + 2, box.y + 2);
        await page.keyboard.press('KeyA');
        await page.waitForFunction((n) => window.vmstreamPlayer.inputsSent >= n + 4, sent, { timeout: 10000 });
      } else {
        break;
      }
      console.log(JSON.stringify(await state()));
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(String(e)); process.exit(1); });
