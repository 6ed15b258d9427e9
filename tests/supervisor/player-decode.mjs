// player-decode.mjs URL [CHROMIUM_ARG...]: opens a player page in headless
// Chromium (tests/browser/lib.mjs launcher, extra arguments such as
// --host-resolver-rules appended), waits for 5 decoded frames and prints the
// player's state and the page's message as one JSON line. Exit 1 (with the
// same line, ok:false) when the page says it will not decode (a final
// message such as not a secure context) or nothing decodes within 30 s.
import { launchBrowser } from '../browser/lib.mjs';

const [url, ...args] = process.argv.slice(2);
const browser = await launchBrowser({ args });
let out = { ok: false };
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  await page.goto(url);
  try {
    // 5 decoded frames, or a message that is final (the page will not
    // decode: not a secure context, no WebCodecs, a wrong token, gone)
    await page.waitForFunction(() => {
      const p = window.vmstreamPlayer;
      return p && (p.decodedFrames >= 5 ||
        ['insecure', 'no-webcodecs', 'token', 'gone'].includes(p.messageKind));
    }, null, { timeout: 30000, polling: 100 });
    out.ok = (await page.evaluate(() => window.vmstreamPlayer.decodedFrames)) >= 5;
    if (!out.ok) out.error = 'the page says it will not decode';
  } catch (e) {
    out.error = String(e).split('\n')[0];
  }
  out.url = page.url();
  out.secure = await page.evaluate(() => window.isSecureContext);
  out.state = await page.evaluate(() => window.vmstreamPlayer || null);
  out.text = await page.evaluate(() => document.body ? document.body.innerText : '');
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
