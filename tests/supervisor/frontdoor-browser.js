// frontdoor-browser.js ARGS_JSON: Chromium on the supervisor's one port
// (case browser-frontdoor). ARGS_JSON: { base, port, admin, a, b, wrong }
// with a and b the two sessions' JSON. Prints one JSON line of results:
//   own:      each viewer link decodes its own session (its size)
//   wrongToken, insecure: the message the page shows
//   gone:     after the test deletes session b under an open viewer
// Needs tests/browser/node_modules (playwright-core) and /usr/bin/chromium;
// Chromium comes from tests/browser/lib.mjs, the tests' one launcher.

async function shown(page) {
  return page.evaluate(() => ({
    kind: window.vmstreamPlayer.messageKind,
    text: document.getElementById('message').textContent,
    visible: !document.getElementById('message').hidden,
    decodedWidth: window.vmstreamPlayer.decodedWidth,
    decodedHeight: window.vmstreamPlayer.decodedHeight,
    closeCode: window.vmstreamPlayer.closeCode,
    closeReason: window.vmstreamPlayer.closeReason,
  }));
}

(async () => {
  const args = JSON.parse(process.argv[2]);
  const { launchBrowser } = await import('../browser/lib.mjs');
  const browser = await launchBrowser({ args: ['--host-resolver-rules=MAP vmstream.test 127.0.0.1'] });
  const out = {};
  try {
    const ctx = await browser.newContext({ viewport: { width: 800, height: 600 } });
    // two sessions on the one port: each viewer gets its own stream
    const pa = await ctx.newPage();
    const pb = await ctx.newPage();
    await Promise.all([pa.goto(args.a.viewer_url), pb.goto(args.b.viewer_url)]);
    const decoding = (n) => window.vmstreamPlayer.decodedFrames >= n;
    await pa.waitForFunction(decoding, 5, { timeout: 30000 });
    await pb.waitForFunction(decoding, 5, { timeout: 30000 });
    out.own = { a: await shown(pa), b: await shown(pb), urlA: pa.url() };

    // a wrong token: the page says so
    const pw = await ctx.newPage();
    await pw.goto(args.wrong);
    await pw.waitForFunction(() => window.vmstreamPlayer.messageKind === 'token', null,
      { timeout: 15000 });
    out.wrongToken = await shown(pw);
    await pw.close();

    // a name that is not localhost over http: not a secure context
    const pi = await ctx.newPage();
    await pi.goto(`http://vmstream.test:${args.port}/player/${args.a.id}/#token=${args.a.viewer_token}`);
    await pi.waitForFunction(() => window.vmstreamPlayer.messageKind === 'insecure', null,
      { timeout: 15000 });
    out.insecure = await shown(pi);
    out.insecure.isSecureContext = await pi.evaluate(() => window.isSecureContext);
    await pi.close();

    // session b is deleted while its viewer watches
    const r = await fetch(`${args.base}/api/v1/sessions/${args.b.id}`, {
      method: 'DELETE', headers: { Authorization: `Bearer ${args.admin}` },
    });
    out.deleteStatus = r.status;
    await pb.waitForFunction(() => window.vmstreamPlayer.messageKind === 'gone', null,
      { timeout: 20000 });
    out.gone = await shown(pb);
    // the other session plays on
    const before = await pa.evaluate(() => window.vmstreamPlayer.decodedFrames);
    await pa.waitForFunction((n) => window.vmstreamPlayer.decodedFrames >= n + 10, before,
      { timeout: 20000 });
    out.otherPlays = true;
  } finally {
    console.log(JSON.stringify(out));
    await browser.close();
  }
})().catch((e) => { console.error(String(e)); process.exit(1); });
