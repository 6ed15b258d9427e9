// Browser half of bench/e2e-latency.sh: opens wsh264sink's player page in
// headless Chromium and measures, per frame, capture_time (from the frame
// header) -> the moment the player's VideoDecoder hands out the decoded
// VideoFrame (entry of its output callback, before painting). Prints one
// JSON line with percentiles.
//
//   node bench/e2e-latency.mjs PORT FRAMES WARMUP
//
// playwright-core comes from tests/browser/node_modules (npm ci there).
import { launchBrowser } from '../tests/browser/lib.mjs';


const [port, frames, warmup] = process.argv.slice(2).map(Number);
if (!port || !frames) {
  console.error('usage: node e2e-latency.mjs PORT FRAMES WARMUP');
  process.exit(2);
}

// Runs in the page before player.js: a listener on every WebSocket that
// reads the frame header (seq, pts, capture_time, send_time) ahead of the
// player's own handler, and a VideoDecoder whose output callback first
// records the time. The player itself is unchanged.
function hooks() {
  const headers = new Map(); // pts (chunk timestamp) -> header times
  const samples = [];
  window.__e2e = { samples, received: 0 };
  const nowMs = () => performance.timeOrigin + performance.now();
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        if (!(ev.data instanceof ArrayBuffer) || ev.data.byteLength < 32) return;
        const dv = new DataView(ev.data);
        const seq = dv.getUint32(4, true);
        const pts = dv.getBigUint64(8, true);
        const ts = pts === 0xffffffffffffffffn ? seq * 1000 : Number(pts);
        headers.set(ts, {
          recv: nowMs(),
          capture: Number(dv.getBigUint64(16, true)) / 1000,
          send: Number(dv.getBigUint64(24, true)) / 1000,
        });
        if (headers.size > 600) headers.delete(headers.keys().next().value);
        window.__e2e.received++;
      });
    }
  };
  const VD = window.VideoDecoder;
  window.VideoDecoder = class extends VD {
    constructor(init) {
      const output = init.output;
      super({
        ...init,
        output: (frame) => {
          const t = nowMs();
          const h = headers.get(frame.timestamp);
          if (h) {
            headers.delete(frame.timestamp);
            samples.push([t - h.capture, t - h.send, h.recv - h.send, h.capture > 0 ? 1 : 0, t]);
          }
          output(frame);
        },
      });
    }
  };
}

function pct(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summary(values) {
  const s = [...values].sort((a, b) => a - b);
  return {
    p50: pct(s, 50), p99: pct(s, 99), min: s[0], max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
  };
}

const browser = await launchBrowser();
let result;
try {
  const page = await browser.newPage();
  await page.addInitScript(hooks);
  await page.goto(`http://127.0.0.1:${port}/`);
  const need = warmup + frames;
  const timeoutMs = (need / 30) * 1000 * 3 + 15000;
  await page.waitForFunction((n) => window.__e2e.samples.length >= n, need,
    { timeout: timeoutMs, polling: 200 });
  const { samples, received } = await page.evaluate(() => window.__e2e);
  const player = await page.evaluate(() => window.vmstreamPlayer);
  const used = samples.slice(warmup, warmup + frames);
  if (used.some((s) => !s[3])) throw new Error('frames without capture_time');
  result = {
    frames: used.length,
    fps: (used.length - 1) * 1000 / (used[used.length - 1][4] - used[0][4]),
    received,
    decoded: player.decodedFrames,
    skipped: player.skippedFrames,
    codec: player.codec,
    width: player.decodedWidth,
    height: player.decodedHeight,
    capture_to_decoded: summary(used.map((s) => s[0])),
    sink_to_decoded: summary(used.map((s) => s[1])),
    sink_to_received: summary(used.map((s) => s[2])),
  };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
