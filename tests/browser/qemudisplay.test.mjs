// qemudisplaysrc new-pictures-only into Chromium, end to end: a fake QEMU
// VNC server (here, on a Unix socket) sends a picture only when the test
// says so; qemudisplaysrc new-pictures-only=true keepalive=0 (no repeats at
// all) ! vmstreamenc ! wsh264sink serves our player.
//   - a viewer joining an idle stream gets init and a keyframe of the
//     current picture: its force-key-unit request makes the source push one
//     (with keepalive=0 nothing else would);
//   - while the server is silent no frame reaches the page;
//   - each new picture is painted without waiting for a next one (a player
//     or decoder that holds a frame back never shows it: no frame follows),
//     with the variable frame rate's irregular timestamps.
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPipeline, stopPipeline, launchBrowser, waitInPage, fail } from './lib.mjs';

const W = 320;
const H = 240;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vmstream-qdisp-'));
const sockPath = path.join(tmp, 'vnc.sock');

// The server side of RFB 3.8 as far as qemudisplaysrc needs it: security
// None, ServerInit, then raw FramebufferUpdates answering its requests.
function fakeVnc() {
  let client = null;
  let pending = 0; // FramebufferUpdateRequests not answered yet
  let queued = null; // a picture waiting for a request
  let stage = 'version';
  let buf = Buffer.alloc(0);
  const sendPicture = (bgr) => {
    const hdr = Buffer.alloc(16);
    hdr.writeUInt16BE(1, 2); // one rectangle
    hdr.writeUInt16BE(W, 8);
    hdr.writeUInt16BE(H, 10); // x=y=0, raw encoding 0
    const px = Buffer.alloc(W * H * 4);
    for (let i = 0; i < W * H; i++) px.set(bgr, i * 4);
    client.write(Buffer.concat([hdr, px]));
  };
  const flush = () => {
    if (client && queued && pending > 0) {
      pending--;
      sendPicture(queued);
      queued = null;
    }
  };
  const parse = () => {
    for (;;) {
      if (stage === 'version') {
        if (buf.length < 12) return;
        buf = buf.subarray(12);
        client.write(Buffer.from([1, 1])); // one security type: None
        stage = 'sectype';
      } else if (stage === 'sectype') {
        if (buf.length < 1) return;
        buf = buf.subarray(1);
        client.write(Buffer.alloc(4)); // SecurityResult OK
        stage = 'clientinit';
      } else if (stage === 'clientinit') {
        if (buf.length < 1) return;
        buf = buf.subarray(1);
        const init = Buffer.alloc(24 + 4);
        init.writeUInt16BE(W, 0);
        init.writeUInt16BE(H, 2);
        init.writeUInt32BE(4, 20);
        init.write('fake', 24);
        client.write(init);
        stage = 'messages';
      } else {
        if (buf.length < 1) return;
        const type = buf[0];
        let len;
        if (type === 0) len = 20; // SetPixelFormat
        else if (type === 2) len = buf.length >= 4 ? 4 + 4 * buf.readUInt16BE(2) : Infinity;
        else if (type === 3) len = 10; // FramebufferUpdateRequest
        else if (type === 4) len = 8;
        else if (type === 5) len = 6;
        else fail(`qemudisplaysrc sent an unexpected RFB message type ${type}`);
        if (buf.length < len) return;
        if (type === 3) pending++;
        buf = buf.subarray(len);
        flush();
      }
    }
  };
  const server = net.createServer((s) => {
    client = s;
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); parse(); });
    s.on('error', () => {});
    s.write('RFB 003.008\n');
  });
  return {
    listen: () => new Promise((ok) => server.listen(sockPath, ok)),
    picture(bgr) { queued = bgr; flush(); },
    close() { if (client) client.destroy(); server.close(); },
  };
}

// The colour in the middle of the player's canvas, as [r, g, b].
const centre = (page) => page.evaluate(() => {
  const c = document.querySelector('canvas');
  const o = new OffscreenCanvas(1, 1);
  const g = o.getContext('2d');
  g.drawImage(c, c.width / 2, c.height / 2, 1, 1, 0, 0, 1, 1);
  return [...g.getImageData(0, 0, 1, 1).data.slice(0, 3)];
});

async function waitColour(page, rgb, what) {
  const want = JSON.stringify(rgb);
  await waitInPage(page, ([r, g, b]) => {
    const c = document.querySelector('canvas');
    if (!c || !c.width) return false;
    const o = new OffscreenCanvas(1, 1);
    const x = o.getContext('2d');
    x.drawImage(c, c.width / 2, c.height / 2, 1, 1, 0, 0, 1, 1);
    const d = x.getImageData(0, 0, 1, 1).data;
    return Math.abs(d[0] - r) < 40 && Math.abs(d[1] - g) < 40 && Math.abs(d[2] - b) < 40;
  }, rgb, 10000, `${what}: the canvas did not turn ${want}`);
}

const vnc = fakeVnc();
let gst = null;
let browser = null;
try {
  await vnc.listen();
  // red, as B, G, R, x
  vnc.picture([0, 0, 255, 0]);
  gst = await startPipeline(
    `qemudisplaysrc socket=${sockPath} framerate=30/1 new-pictures-only=true keepalive=0 ! ` +
    'queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream ! ' +
    'vmstreamenc encoder=x264 quality=26 probe=false ! wsh264sink port=0');
  browser = await launchBrowser();
  const page = await browser.newPage();
  await page.addInitScript(() => {
    window.__ts = [];
    const C = window.EncodedVideoChunk;
    window.EncodedVideoChunk = function (init) {
      window.__ts.push(init.timestamp);
      return new C(init);
    };
  });
  // the stream is idle (one picture, pushed before anyone watched)
  await new Promise((r) => setTimeout(r, 1000));
  await page.goto(`http://127.0.0.1:${gst.port}/`);
  await waitInPage(page, () => window.vmstreamPlayer.decodedFrames >= 1, null, 10000,
    'a viewer joining the idle stream got no picture');
  await waitColour(page, [255, 0, 0], 'join');
  console.log('join: init and a keyframe of the idle picture');

  // silence: nothing arrives
  const before = await page.evaluate(() => window.vmstreamPlayer.framesReceived);
  await new Promise((r) => setTimeout(r, 1500));
  const after = await page.evaluate(() => window.vmstreamPlayer.framesReceived);
  if (after !== before) fail(`${after - before} frames arrived while the server sent nothing`);
  console.log('idle: no frame in 1.5 s');

  // new pictures at irregular intervals, each one painted on its own
  const colours = [[0, 255, 0], [0, 0, 255], [255, 255, 255], [255, 0, 0], [0, 0, 0]];
  const gaps = [0, 700, 60, 350, 1200];
  for (let i = 0; i < colours.length; i++) {
    await new Promise((r) => setTimeout(r, gaps[i]));
    const [r, g, b] = colours[i];
    vnc.picture([b, g, r, 0]);
    await waitColour(page, colours[i], `picture ${i + 1}`);
  }
  const st = await page.evaluate(() => ({ ...window.vmstreamPlayer, ts: window.__ts }));
  if (st.lastError) fail(`decoder error ${st.lastError}`);
  const d = st.ts.slice(1).map((t, i) => t - st.ts[i]);
  console.log(`pictures: ${colours.length} painted, each without a following frame; ` +
    `${st.framesReceived} frames received, timestamp gaps ${d.map((x) => Math.round(x / 1000)).join(', ')} ms`);
  if (st.framesReceived > colours.length + 3) fail(`${st.framesReceived} frames for ${colours.length + 1} pictures`);
  if (Math.max(...d) < 3 * Math.min(...d)) fail('the timestamps are not those of a variable frame rate');
  console.log('1 passed, 0 failed');
} catch (e) {
  if (!process.exitCode) { console.error(e); process.exitCode = 1; }
} finally {
  if (browser) await browser.close();
  if (gst) await stopPipeline(gst);
  vnc.close();
  rmSync(tmp, { recursive: true, force: true });
}
