// Browser test: headless Chromium opens the player page served by
// wsh264sink, decodes the live H.264 stream with WebCodecs, and we assert
// on decoded frames, the decoded size, non-blank moving pixels in a
// screenshot, and keyboard/mouse input coming back as navigation messages.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startPipeline, stopPipeline, launchBrowser, waitInPage, pngStats, fail }
  from './lib.mjs';

const W = 640;
const H = 360;
const outDir = process.env.VMSTREAM_BUILD_ROOT
  ? path.join(process.env.VMSTREAM_BUILD_ROOT, 'tests', 'browser')
  : '/tmp';
const screenshotPath = process.env.PLAYER_SCREENSHOT || path.join(outDir, 'player.png');

const pipeline =
  `videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! ` +
  `video/x-raw,format=I420,width=${W},height=${H},framerate=30/1 ! ` +
  `x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 bitrate=2000 ! ` +
  `h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! ` +
  `wsh264sink port=0 session-id=test`;

let gst = null;
let browser = null;
try {
  gst = await startPipeline(pipeline, { navprint: true });
  console.log(`wsh264sink listening on port ${gst.port}`);
  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 800, height: 500 } });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`page: ${m.text()}`); });
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${gst.port}/`);

  // key-int-max=300 is a 10 s GOP: a first picture within ~3 s proves the
  // join asked upstream for a key unit instead of waiting for the GOP.
  await waitInPage(page, () => window.vmstreamPlayer.decodedFrames >= 1, null,
    10000, 'no frame decoded');
  const firstFrameMs = Date.now() - t0;
  console.log(`first decoded frame after ${firstFrameMs} ms (GOP is 10 s)`);
  if (firstFrameMs > 5000) fail(`first frame took ${firstFrameMs} ms: keyframe-on-join did not work`);

  await waitInPage(page, () => window.vmstreamPlayer.decodedFrames >= 45, null,
    15000, 'fewer than 45 frames decoded');
  const st = await page.evaluate(() => ({ ...window.vmstreamPlayer }));
  console.log(`player: ${JSON.stringify(st)}`);
  if (st.decodedWidth !== W || st.decodedHeight !== H)
    fail(`decoded size ${st.decodedWidth}x${st.decodedHeight}, expected ${W}x${H}`);
  if (st.width !== W || st.height !== H) fail(`init size ${st.width}x${st.height}`);
  if (!/^avc1\.42[0-9a-f]{4}$/.test(st.codec)) fail(`unexpected codec string ${st.codec}`);
  if (st.lastError) fail(`decoder error: ${st.lastError}`);

  // Screenshot of the canvas: must be neither blank nor uniform, and the
  // picture must move between two shots.
  const canvas = page.locator('#screen');
  const shot1 = await canvas.screenshot();
  await page.waitForTimeout(700); // let the ball move: this is the thing measured
  const shot2 = await canvas.screenshot();
  mkdirSync(path.dirname(screenshotPath), { recursive: true });
  writeFileSync(screenshotPath, shot2);
  if (process.env.PLAYER_PAGE_SCREENSHOT) {
    // Whole page with the overlay, for docs/screenshots/.
    await page.waitForTimeout(1100); // the overlay refreshes once a second
    await page.screenshot({ path: process.env.PLAYER_PAGE_SCREENSHOT });
  }
  const s1 = await pngStats(page, shot1);
  const s2 = await pngStats(page, shot2);
  console.log(`screenshot ${screenshotPath}: ${JSON.stringify(s2)}`);
  if (s2.stddev < 10 || s2.colours < 8) fail(`screenshot looks blank: ${JSON.stringify(s2)}`);
  if (shot1.equals(shot2)) fail('picture did not change between two screenshots 0.7 s apart');
  if (Math.abs(s1.mean - s2.mean) > 60) fail('screenshots differ wildly');

  // Input: a key press and a click on the canvas must come back as
  // navigation messages on the pipeline bus, with the right contents
  // (gst-navprint prints each message's event structure).
  await canvas.click({ position: { x: 10, y: 10 } });
  await page.keyboard.press('KeyQ');
  console.log(`inputs sent: ${await page.evaluate(() => window.vmstreamPlayer.inputsSent)}`);
  const deadline = Date.now() + 5000;
  const want = [/event=\(string\)key-press, key=\(string\)KeyQ/,
    /event=\(string\)key-release, key=\(string\)KeyQ/,
    /event=\(string\)mouse-button-press, button=\(int\)1, pointer_x=\(double\)[0-9.]+, pointer_y=\(double\)[0-9.]+/,
    /event=\(string\)mouse-button-release, button=\(int\)1/];
  let missing = want;
  let events = [];
  while (Date.now() < deadline) {
    events = gst.output().split('\n').filter((l) => l.startsWith('navigation: '));
    missing = want.filter((re) => !events.some((l) => re.test(l)));
    if (missing.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (process.env.DUMP_GST) console.log(gst.output(), gst.errors());
  if (missing.length) fail(`navigation events missing: ${missing.join(', ')}; bus had: ${events.join(' | ')}`);
  // the click was at (10, 10) of a canvas showing the 640x360 video
  const press = events.find((l) => /mouse-button-press/.test(l));
  const px = Number(/pointer_x=\(double\)([0-9.]+)/.exec(press)[1]);
  const py = Number(/pointer_y=\(double\)([0-9.]+)/.exec(press)[1]);
  if (px > 40 || py > 40) fail(`click at (10,10) of the canvas arrived at (${px}, ${py})`);
  console.log('input: key and mouse events reached the pipeline bus');

  // Reconnect: the pipeline goes away and comes back on the same port; the
  // page reconnects by itself (backoff) and decodes again.
  const port = gst.port;
  const before = await page.evaluate(() => window.vmstreamPlayer.decodedFrames);
  await stopPipeline(gst);
  await waitInPage(page, () => !window.vmstreamPlayer.connected, null, 5000,
    'page did not notice the closed stream');
  gst = await startPipeline(pipeline.replace('port=0', `port=${port}`));
  await waitInPage(page, (n) => window.vmstreamPlayer.connects >= 2 &&
    window.vmstreamPlayer.decodedFrames >= n + 15, before, 15000,
    'no frames decoded after the stream came back');
  console.log('reconnect: the page reconnected and decodes again');
  console.log('1 passed, 0 failed');
  if (process.env.DUMP_GST) console.log(gst.output());
} catch (e) {
  if (!process.exitCode) { console.error(e); process.exitCode = 1; }
} finally {
  if (browser) await browser.close();
  if (gst) await stopPipeline(gst);
}
