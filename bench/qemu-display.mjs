// Browser half of bench/qemu-display.sh: opens a player page in headless
// Chromium for SECONDS and prints one JSON line.
//
//   node bench/qemu-display.mjs URL ours|novnc SECONDS [QMP_SOCKET]
//
// Both kinds: "pictures" = distinct pictures painted per second (every
// animation frame the page's canvas is scaled down to 160x100 and compared
// with the previous one: the same measure for our player and noVNC), and
// WebSocket bytes received per second. ours also: frames decoded per second
// and, per new picture (a capture_time not seen before: qemudisplaysrc
// repeats the last picture at its framerate with the same time), capture
// (QEMU's update complete at the host) -> decoded VideoFrame, p50/p99 ms.
// Key latency, the same for every path (with QMP_SOCKET): during the
// window the script presses L through QEMU's QMP (input-send-event, the
// way a viewer's keys reach the guest) every 0.3-0.6 s; the guest script
// toggles a black/white band (the console's last four text rows, pixel
// rows 736..799, outside its scrolling region) on each L, and the page times, every animation
// frame, when the band's colour in the player's canvas flips: key sent ->
// band changed in the canvas, p50/p99 ms (probes not seen within 4 s are
// counted as lost; QEMU's VNC server lengthens its refresh interval up to 3 s while the screen is still).
// playwright-core comes from tests/browser/node_modules (npm ci there).
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'browser', 'package.json'));
const { chromium } = require('playwright-core');
const [url, kind, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 10)];
const qmpPath = process.argv[5];

// QMP: capabilities negotiated, then fire-and-forget key events
async function qmpOpen(p) {
  const sock = net.createConnection(p);
  await new Promise((ok, bad) => { sock.once('connect', ok); sock.once('error', bad); });
  let buf = '';
  const lines = [];
  let wake = null;
  sock.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
    if (wake) wake();
  });
  const next = async (re) => {
    for (;;) {
      const j = lines.findIndex((l) => re.test(l));
      if (j >= 0) return lines.splice(0, j + 1)[j];
      await new Promise((ok) => { wake = ok; });
    }
  };
  await next(/"QMP"/);
  sock.write('{"execute":"qmp_capabilities"}\n');
  await next(/"return"/);
  return {
    key(code) {
      const ev = (down) => ({ type: 'key', data: { down, key: { type: 'qcode', data: code } } });
      sock.write(JSON.stringify({ execute: 'input-send-event', arguments: { events: [ev(true), ev(false)] } }) + '\n');
    },
    close() { sock.destroy(); },
  };
}

function hooks() {
  const m = { bytes: 0, lat: [], decoded: 0, pictures: 0, on: false, band: null, flips: [],
    flipAt: [], lastMsg: null, lastDec: null };
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
      const arrived = nowMs();
      if (m.on) m.bytes += n;
      m.lastMsg = arrived;
      if (!(ev.data instanceof ArrayBuffer) || n < 32) return;
      const dv = new DataView(ev.data);
      const pts = dv.getBigUint64(8, true);
      const ts = pts === 0xffffffffffffffffn ? dv.getUint32(4, true) * 1000 : Number(pts);
      caps.set(ts, { c: Number(dv.getBigUint64(16, true)) / 1000, a: arrived });
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
          const e = caps.get(frame.timestamp);
          const c = e ? e.c : null;
          if (m.on) {
            m.decoded++;
            if (c && c !== lastCapture) m.lat.push(nowMs() - c);
          }
          if (c && c !== lastCapture) m.lastDec = { c, a: e.a, d: nowMs() };
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
  const bandC = document.createElement('canvas');
  bandC.width = 64;
  bandC.height = 4;
  const bctx = bandC.getContext('2d', { willReadFrequently: true });
  let prev = null;
  const tick = () => {
    const c = [...document.querySelectorAll('canvas')].find((x) => x.width > 160);
    if (c) {
      // the marker band: pixel rows 744..791 of 800 (inside 736..799)
      const by = Math.round((c.height * 744) / 800), bh = Math.round((c.height * 48) / 800);
      bctx.drawImage(c, 0, by, c.width, bh, 0, 0, 64, 4);
      const bd = bctx.getImageData(0, 0, 64, 4).data;
      let sum = 0;
      for (let i = 0; i < bd.length; i += 4) sum += bd[i] + bd[i + 1] + bd[i + 2];
      const white = sum / (bd.length / 4) / 3 > 128;
      if (m.band !== null && white !== m.band) {
        // what had reached the page when the flip was seen: the latest
        // WebSocket message and (ours) the latest new picture decoded
        m.flips.push(performance.timeOrigin + performance.now());
        m.flipAt.push({ msg: m.lastMsg, dec: m.lastDec });
      }
      m.band = white;
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
  const keyLat = [];
  // where a probe's time went (ms, per probe): ours key -> capture at the
  // host (the guest's echo + QEMU's refresh + qemudisplaysrc), capture ->
  // its WebSocket message in the page (convert + encode + send), message ->
  // decoded, decoded -> the flip seen in the canvas; noVNC: key -> the last
  // message before the flip (the guest + QEMU's VNC + websockify), message
  // -> the flip seen (decode + paint)
  const parts = { key_capture: [], capture_msg: [], msg_decoded: [], decoded_flip: [], key_msg: [], msg_flip: [] };
  let lost = 0;
  if (qmpPath) {
    const qmp = await qmpOpen(qmpPath);
    const end = Date.now() + seconds * 1000;
    try {
      while (Date.now() < end - 500) {
        await page.waitForTimeout(300 + Math.random() * 300);
        const n = await page.evaluate(() => window.__m.flips.length);
        const sent = Date.now();
        qmp.key('l');
        try {
          await page.waitForFunction((k) => window.__m.flips.length > k, n,
            { polling: 'raf', timeout: 4000 });
          const [t, at] = await page.evaluate((k) => [window.__m.flips[k], window.__m.flipAt[k]], n);
          keyLat.push(t - sent);
          if (at.msg !== null && at.msg >= sent) {
            parts.key_msg.push(at.msg - sent);
            parts.msg_flip.push(t - at.msg);
          }
          if (at.dec && at.dec.c >= sent) {
            parts.key_capture.push(at.dec.c - sent);
            parts.capture_msg.push(at.dec.a - at.dec.c);
            parts.msg_decoded.push(at.dec.d - at.dec.a);
            parts.decoded_flip.push(t - at.dec.d);
          }
        } catch (e) {
          lost++;
        }
      }
    } finally {
      qmp.close();
    }
    const left = end - Date.now();
    if (left > 0) await page.waitForTimeout(left);
  } else {
    await page.waitForTimeout(seconds * 1000);
  }
  const m = await page.evaluate(() => { window.__m.on = false; return window.__m; });
  const lat = [...m.lat].sort((a, b) => a - b);
  keyLat.sort((a, b) => a - b);
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
    key_lat: keyLat, key_lost: lost,
    key_p50: pct(keyLat, 50), key_p99: pct(keyLat, 99),
    parts: Object.fromEntries(Object.entries(parts).filter(([, v]) => v.length)
      .map(([k, v]) => [k, v.sort((a, b) => a - b)])),
  };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
