// Does Chromium's WebCodecs H.264 decoder hold frames back when the SPS
// does not promise "no reordering" (VUI bitstream_restriction with
// max_num_reorder_frames=0)? We make such streams (x264 and openh264
// output with that part of the VUI stripped), serve them paced at 30 fps
// through wsh264sink with low-delay-sps=false and =true, and read how many
// frames the decoder had decoded but not yet output at each output.
// Findings are in docs/websocket.md ("SPS/VUI rewrite").
//
// What it can catch: a rewritten SPS that Chromium cannot decode, frames held
// with the rewrite on (the rewrite's promise broken) or off (Chromium changed:
// the low-delay-sps default must be revisited), and, through the B-frame
// control, a metric that cannot see held frames at all. That the rewrite
// writes max_num_reorder_frames=0 is checked on the bits by the wsh264sink
// unit test (mutant wsh-lowdelay-reorder-kept in tools/mutants.txt): this
// Chromium outputs every frame at once either way, so the browser cannot
// show the rewrite's benefit, only that it does no harm.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPipeline, stopPipeline, launchBrowser, waitInPage, fail } from './lib.mjs';

const strip = process.env.H264_STRIP_VUI;
if (!strip) fail('H264_STRIP_VUI (the h264-strip-vui helper) is not set');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vmstream-lowdelay-'));

function encode(name, encoder, { stripVui = true } = {}) {
  const raw = path.join(tmp, `${name}.h264`);
  const env = { ...process.env };
  execFileSync('gst-launch-1.0', ['-q', 'videotestsrc', 'num-buffers=240', 'pattern=smpte',
    'horizontal-speed=4', '!', 'video/x-raw,format=I420,width=640,height=360,framerate=30/1',
    '!', ...encoder.split(' '), '!', 'h264parse', '!',
    'video/x-h264,stream-format=byte-stream,alignment=au', '!', 'filesink', `location=${raw}`],
    { env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!stripVui) return raw;
  const stripped = path.join(tmp, `${name}-novui.h264`);
  execFileSync('sh', ['-c', `"${strip}" < "${raw}" > "${stripped}"`], { stdio: 'inherit' });
  return stripped;
}

async function measure(browser, file, lowDelaySps) {
  const gst = await startPipeline(
    `filesrc location=${file} ! video/x-h264,framerate=30/1 ! h264parse ! ` +
    `video/x-h264,stream-format=byte-stream,alignment=au ! clocksync ! ` +
    `wsh264sink port=0 low-delay-sps=${lowDelaySps}`);
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${gst.port}/`);
    await waitInPage(page, () => window.vmstreamPlayer.decodedFrames >= 60, null, 15000,
      `60 frames of ${path.basename(file)} not decoded`);
    return await page.evaluate(() => ({ ...window.vmstreamPlayer }));
  } finally {
    await page.close();
    await stopPipeline(gst);
  }
}

let browser = null;
try {
  const streams = {
    'x264 Baseline (poc type 2)': encode('x264', 'x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30'),
    'x264 High (poc type 2)': encode('x264high', 'x264enc tune=zerolatency speed-preset=veryfast key-int-max=30'),
    'openh264 Baseline (poc type 0)': encode('openh264', 'openh264enc gop-size=30'),
  };
  // Positive control: B-frames really are reordered, so the decoder must
  // hold frames, and the metric must see it. Its SPS declares
  // num_reorder_frames > 0, which the sink must never rewrite.
  const bframes = encode('bframes',
    'x264enc speed-preset=veryfast bframes=2 b-adapt=false key-int-max=30', { stripVui: false });
  browser = await launchBrowser();
  for (const [name, file] of Object.entries(streams)) {
    const off = await measure(browser, file, false);
    const on = await measure(browser, file, true);
    console.log(`${name}, SPS without bitstream_restriction: decoder held max ` +
      `${off.maxHeldFrames} frames (${off.decodedFrames} decoded); with the sink's ` +
      `SPS rewrite (low-delay-sps=true): max ${on.maxHeldFrames} (${on.decodedFrames} decoded)`);
    if (on.lastError || off.lastError) fail(`${name}: decoder error ${on.lastError || off.lastError}`);
    // The finding behind low-delay-sps=false by default: Chromium outputs
    // each frame at once even without the VUI promise.
    if (off.maxHeldFrames > 0) fail(`${name}: decoder held ${off.maxHeldFrames} frames without the VUI restriction: revisit the low-delay-sps default`);
    if (on.maxHeldFrames > 0) fail(`${name}: decoder held ${on.maxHeldFrames} frames despite the rewritten SPS`);
  }
  const ctl = await measure(browser, bframes, true);
  console.log(`control, x264 with B-frames: decoder held max ${ctl.maxHeldFrames} frames ` +
    `(${ctl.decodedFrames} decoded)`);
  if (ctl.lastError) fail(`B-frame control: decoder error ${ctl.lastError}`);
  if (ctl.maxHeldFrames < 1) fail('B-frame control: no held frame seen, the metric cannot detect reordering delay');
  console.log('1 passed, 0 failed');
} catch (e) {
  if (!process.exitCode) { console.error(e); process.exitCode = 1; }
} finally {
  if (browser) await browser.close();
  rmSync(tmp, { recursive: true, force: true });
}
