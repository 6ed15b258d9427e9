// Shared helpers for the browser tests: run a gst-launch-1.0 pipeline that
// ends in wsh264sink port=0, read the chosen port, drive /usr/bin/chromium.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}

// Starts gst-launch-1.0 -v -m with the given pipeline description and
// resolves with { proc, port, output() } once wsh264sink reports its port.
// With { navprint: true } the pipeline runs in gst-navprint (built by meson,
// $GST_NAVPRINT), which prints each navigation message's event as a line
// "navigation: <structure>" on stdout: the bus's real contents.
export function startPipeline(description,
  { timeoutMs = 20000, env: extraEnv = {}, navprint = false } = {}) {
  const env = { ...process.env, ...extraEnv };
  if (env.VMSTREAM_ASAN_PRELOAD) env.LD_PRELOAD = env.VMSTREAM_ASAN_PRELOAD;
  const words = description.split(/\s+/).filter(Boolean);
  if (navprint && !env.GST_NAVPRINT) throw new Error('GST_NAVPRINT is not set (meson test sets it)');
  const proc = navprint
    ? spawn(env.GST_NAVPRINT, words, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('gst-launch-1.0', ['-v', '-m', '-e', ...words], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no wsh264sink port within ${timeoutMs} ms:\n${out}\n${err}`));
    }, timeoutMs);
    const check = () => {
      const m = out.match(/wsh264sink-listening, port=\(uint\)(\d+)/);
      if (m) {
        clearTimeout(timer);
        proc.stdout.off('data', check);
        resolve({ proc, port: Number(m[1]), output: () => out, errors: () => err });
      }
    };
    proc.stdout.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gst-launch-1.0 exited (${code}) before listening:\n${out}\n${err}`));
    });
  });
}

export async function stopPipeline(p) {
  if (p.proc.exitCode !== null) return;
  const done = new Promise((r) => p.proc.once('exit', r));
  p.proc.kill('SIGINT');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

// The one Chromium launcher of the tests; @args are added to the defaults
// (e.g. --host-resolver-rules, --ignore-certificate-errors-spki-list).
export async function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', ...args],
  });
}

// Polls fn() in the page until it returns a truthy value.
export async function waitInPage(page, fn, arg, timeoutMs, what) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 100 });
  } catch (e) {
    const state = await page.evaluate(() => window.vmstreamPlayer).catch(() => null);
    fail(`${what} within ${timeoutMs} ms; player state: ${JSON.stringify(state)}`);
  }
}

// Pixel statistics of a PNG, decoded by the browser itself.
export async function pngStats(page, png) {
  const b64 = png.toString('base64');
  return page.evaluate(async (data) => {
    const blob = await (await fetch(`data:image/png;base64,${data}`)).blob();
    const bmp = await createImageBitmap(blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const px = g.getImageData(0, 0, bmp.width, bmp.height).data;
    const colours = new Set();
    let sum = 0;
    let sumSq = 0;
    const n = px.length / 4;
    for (let i = 0; i < px.length; i += 4) {
      const l = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      sum += l;
      sumSq += l * l;
      if (colours.size < 5000) colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    }
    const mean = sum / n;
    return { width: bmp.width, height: bmp.height, mean,
             stddev: Math.sqrt(Math.max(0, sumSq / n - mean * mean)),
             colours: colours.size };
  }, b64);
}
