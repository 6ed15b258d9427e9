// screenshot.js URL OUT.png [WAIT_MS]: opens the player page in headless
// Chromium, lets it decode for WAIT_MS, saves a screenshot. Used to make
// docs/screenshots/demo.png from ./run-demo. Needs tests/browser/node_modules.
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

(async () => {
  const [url, out, wait] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    page.on('console', (m) => console.log('page:', m.text()));
    await page.goto(url);
    await page.waitForTimeout(Number(wait || 4000));
    console.log('page url:', page.url());
    await page.screenshot({ path: out });
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
