// Browser half of bench/qemu-display.sh: opens a player page in headless
// Chromium for SECONDS and prints one JSON line.
//
//   node bench/qemu-display.mjs URL ours|novnc SECONDS
//
// Both kinds: "pictures" = distinct pictures painted per second (every
// animation frame the page's canvas is scaled down to 160x100 and compared
// with the previous one: the same measure for our player and noVNC), and
// WebSocket bytes received per second. ours also: frames decoded per second
// and, per new picture (a capture_time not seen before: qemudisplaysrc
// repeats the last picture at its framerate with the same time), capture
// (QEMU's update complete at the host) -> decoded VideoFrame, p50/p99 ms.
// playwright-core comes from tests/browser/node_modules (npm ci there).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'browser', 'package.json'));
const { chromium } = require('playwright-core');
const [url, kind, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 10)];

function hooks() {
  const m = { bytes: 0, lat: [], decoded: 0, pictures: 0, on: false };
  window.__m = m;
  const nowMs = () => performance.timeOrigin + performance.now();
  const WS = window.WebSocket;
  const caps = new Map();
  let lastCapture = -1;
  // a wrapper returning the real socket (noVNC checks its own properties)
  const Wrapped = function (...args) {
    const ws = new WS(...args);
    ws.addEventListener('message', (ev) => {
      const n = ev.data.byteLength ?? ev.data.size ?? ev.data.length ?? 0;
      if (m.on) m.bytes += n;
      if (!(ev.data instanceof ArrayBuffer) || n < 32) return;
      const dv = new DataView(ev.data);
      const pts = dv.getBigUint64(8, true);
      const ts = pts === 0xffffffffffffffffn ? dv.getUint32(4, true) * 1000 : Number(pts);
      caps.set(ts, Number(dv.getBigUint64(16, true)) / 1000);
      if (caps.size > 600) caps.delete(caps.keys().next().value);
    });
    return ws;
  };
  Wrapped.prototype = WS.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Wrapped[k] = WS[k];
  window.WebSocket = Wrapped;
  if (window.VideoDecoder) {
    const VD = window.VideoDecoder;
    window.VideoDecoder = class extends VD {
      constructor(init) {
        const output = init.output;
        super({ ...init, output: (frame) => {
          const c = caps.get(frame.timestamp);
          if (m.on) {
            m.decoded++;
            if (c && c !== lastCapture) m.lat.push(nowMs() - c);
          }
          if (c) lastCapture = c;
          output(frame);
        } });
      }
    };
  }
  const small = document.createElement('canvas');
  small.width = 160;
  small.height = 100;
  const ctx = small.getContext('2d', { willReadFrequently: true });
  let prev = null;
  const tick = () => {
    const c = [...document.querySelectorAll('canvas')].find((x) => x.width > 160);
    if (c) {
      ctx.drawImage(c, 0, 0, 160, 100);
      const d = ctx.getImageData(0, 0, 160, 100).data;
      let h = 0;
      for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + (d[i + 1] << 8) + (d[i + 2] << 16)) | 0;
      if (prev !== null && h !== prev && m.on) m.pictures++;
      prev = h;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

const pct = (s, p) => s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : null;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
let result;
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.addInitScript(hooks);
  await page.goto(url);
  // connected and painting
  await page.waitForFunction(() => [...document.querySelectorAll('canvas')].some((x) => x.width > 160),
    null, { timeout: 30000 });
  await page.waitForTimeout(2000);  // warm-up: first keyframe, noVNC's first full update
  await page.evaluate(() => { window.__m.on = true; });
  await page.waitForTimeout(seconds * 1000);
  const m = await page.evaluate(() => { window.__m.on = false; return window.__m; });
  const lat = [...m.lat].sort((a, b) => a - b);
  const size = await page.evaluate(() => {
    const c = [...document.querySelectorAll('canvas')].find((x) => x.width > 160);
    return c ? `${c.width}x${c.height}` : null;
  });
  result = {
    kind, size, seconds,
    pictures_per_s: m.pictures / seconds,
    kbit_per_s: (m.bytes * 8) / 1000 / seconds,
    decoded_per_s: kind === 'ours' ? m.decoded / seconds : null,
    new_pictures: kind === 'ours' ? lat.length : null,
    lat_p50: pct(lat, 50), lat_p99: pct(lat, 99),
  };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
