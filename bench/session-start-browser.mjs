// Browser half of bench/session-start --vm: one headless Chromium for the
// whole run. For each line "VIEWER_URL T0_MS" on stdin it opens the player
// page, waits until the player (window.vmstreamPlayer) has decoded a frame
// and prints "decoded MS WxH", MS = that moment (epoch ms, checked every
// 20 ms in the page) - T0_MS; "failed REASON" after 300 s.
// playwright-core comes from tests/browser/node_modules (npm ci there).
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'browser', 'package.json'));
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
console.log('ready');
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  const [url, t0] = line.trim().split(/\s+/);
  if (!url) continue;
  const page = await browser.newPage();
  try {
    await page.goto(url);
    const h = await page.waitForFunction(() => {
      const s = window.vmstreamPlayer;
      if (s && s.decodedFrames > 0) {
        if (!window.__first) {
          window.__first = { at: performance.timeOrigin + performance.now(), w: s.decodedWidth, h: s.decodedHeight };
        }
        return window.__first;
      }
      return false;
    }, null, { timeout: 300000, polling: 20 });
    const f = await h.jsonValue();
    console.log(`decoded ${(f.at - Number(t0)).toFixed(0)} ${f.w}x${f.h}`);
  } catch (e) {
    console.log(`failed ${String(e.message).split('\n')[0]}`);
  }
  await page.close();
}
await browser.close();
