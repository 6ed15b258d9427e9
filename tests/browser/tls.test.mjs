// Browser test: wsh264sink with tls-certificate/tls-key, watched "from
// another machine". Chromium maps the name vmstream.test to 127.0.0.1
// (--host-resolver-rules), so the page's origin is not potentially
// trustworthy as 127.0.0.1 or localhost would be: only TLS makes it a
// secure context, where WebCodecs exists. The self-signed certificate is
// accepted by its public key alone (--ignore-certificate-errors-spki-list,
// the SHA-256 of its SubjectPublicKeyInfo), not by turning checks off.
//  - https://vmstream.test:PORT/ decodes frames of the right size, and a
//    key press reaches the pipeline as a navigation message;
//    without the pin, Chromium refuses the certificate;
//  - http://vmstream.test:PORT2/ (a second sink without TLS) shows the
//    not-secure-context message, opens no stream and decodes nothing.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPipeline, stopPipeline, launchBrowser, waitInPage, fail }
  from './lib.mjs';

const W = 480;
const H = 272;
const NAME = 'vmstream.test';

function makeCertificate(dir) {
  const crt = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${NAME}`,
    '-addext', `subjectAltName=DNS:${NAME},IP:127.0.0.1`,
    '-keyout', key, '-out', crt], { stdio: 'ignore' });
  const spki = new X509Certificate(readFileSync(crt)).publicKey
    .export({ type: 'spki', format: 'der' });
  return { crt, key, spki: createHash('sha256').update(spki).digest('base64') };
}

const pipeline = (sinkProps) =>
  `videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! ` +
  `video/x-raw,format=I420,width=${W},height=${H},framerate=30/1 ! ` +
  `x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 bitrate=1000 ! ` +
  `h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! ` +
  `wsh264sink port=0 session-id=test address=127.0.0.1 public-names=${NAME} ${sinkProps}`;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vms-tls-browser-'));
let gst = null;
let browser = null;
try {
  let cert;
  try {
    cert = makeCertificate(tmp);
  } catch (e) {
    console.log(`SKIP: no openssl command (${e.message})`);
    rmSync(tmp, { recursive: true, force: true });
    process.exit(77);
  }
  browser = await launchBrowser({ args: [
    `--host-resolver-rules=MAP ${NAME} 127.0.0.1`,
    `--ignore-certificate-errors-spki-list=${cert.spki}`,
  ] });
  const page = await browser.newPage({ viewport: { width: 640, height: 400 } });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`page: ${m.text()}`); });

  // 1. HTTPS: a secure context, frames decoded, input reaches the bus
  gst = await startPipeline(pipeline(`tls-certificate=${cert.crt} tls-key=${cert.key}`),
    { env: { GST_DEBUG: 'wsh264sink:6', GST_DEBUG_NO_COLOR: '1' } });
  if (!/url=\(string\)https:/.test(gst.output())) fail('the sink did not announce an https URL');
  await page.goto(`https://${NAME}:${gst.port}/`);
  if (!(await page.evaluate(() => window.isSecureContext)))
    fail(`https://${NAME}:${gst.port}/ is not a secure context`);
  await waitInPage(page, () => window.vmstreamPlayer.decodedFrames >= 30, null,
    15000, 'fewer than 30 frames decoded over https');
  const st = await page.evaluate(() => ({ ...window.vmstreamPlayer }));
  console.log(`https player: ${JSON.stringify(st)}`);
  if (st.decodedWidth !== W || st.decodedHeight !== H)
    fail(`decoded size ${st.decodedWidth}x${st.decodedHeight}, expected ${W}x${H}`);
  if (st.lastError) fail(`decoder error: ${st.lastError}`);
  console.log(`https://${NAME}: ${st.decodedFrames} frames of ${W}x${H} decoded (WSS)`);

  await page.locator('#screen').click({ position: { x: 10, y: 10 } });
  await page.keyboard.press('KeyQ');
  const want = [/key-press.*KeyQ/, /key-release.*KeyQ/];
  let missing = want;
  let messages = 0;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) { // gst-launch output: no event to wait on
    const log = gst.errors().split('\n').filter((l) => / input: /.test(l));
    missing = want.filter((re) => !log.some((l) => re.test(l)));
    messages = (gst.output().match(/GstNavigationMessage/g) || []).length;
    if (missing.length === 0 && messages >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (missing.length) fail(`navigation events missing: ${missing.join(', ')}`);
  if (messages < 2) fail(`only ${messages} navigation messages on the bus`);
  console.log('https: the key press reached the pipeline bus');

  // the pin is what makes Chromium accept the certificate: without it the
  // same page is refused
  {
    const strict = await launchBrowser({ args: [`--host-resolver-rules=MAP ${NAME} 127.0.0.1`] });
    let refused = null;
    try {
      await (await strict.newPage()).goto(`https://${NAME}:${gst.port}/`);
    } catch (e) {
      refused = e;
    } finally {
      await strict.close();
    }
    if (!refused || !/ERR_CERT/.test(refused.message))
      fail(`without the SPKI pin the page was not refused: ${refused}`);
    console.log(`without the pin: ${refused.message.split('\n')[0]}`);
  }
  await stopPipeline(gst);
  gst = null;

  // 2. plain HTTP under the same name: not a secure context, no stream
  gst = await startPipeline(pipeline(''),
    { env: { GST_DEBUG: 'wsh264sink:5', GST_DEBUG_NO_COLOR: '1' } });
  await page.goto(`http://${NAME}:${gst.port}/`);
  await waitInPage(page, () => window.vmstreamPlayer.lastError !== null, null,
    10000, 'no verdict from the player over http');
  const plain = await page.evaluate(() => ({
    secure: window.isSecureContext,
    decoder: typeof VideoDecoder,
    status: document.getElementById('status').textContent,
    state: { ...window.vmstreamPlayer },
  }));
  console.log(`http player: ${JSON.stringify(plain)}`);
  if (plain.secure) fail(`http://${NAME} is a secure context: the test proves nothing`);
  if (!/not a secure context/i.test(plain.status)) fail(`status: ${plain.status}`);
  if (plain.state.connects !== 0 || plain.state.decodedFrames !== 0)
    fail(`http: ${plain.state.connects} connects, ${plain.state.decodedFrames} frames`);
  if (/client \d+ connected/.test(gst.errors())) fail('http: the sink saw a client');
  console.log(`http://${NAME}: "${plain.status}", no stream opened, 0 frames`);
  console.log('1 passed, 0 failed');
} catch (e) {
  if (!process.exitCode) { console.error(e); process.exitCode = 1; }
} finally {
  if (browser) await browser.close();
  if (gst) await stopPipeline(gst);
  rmSync(tmp, { recursive: true, force: true });
}
