// desktop-ci-browser.js: Chromium side of tests/vm/test_vm_desktop_ci.py.
// One headless Chromium, one page (the player of a session's viewer link)
// per session name. One JSON command per stdin line, one JSON answer per
// stdout line ({"error": ...} when a step failed):
//   {"cmd":"open","name":N,"url":U}  open the player, wait for 5 decoded
//                                    frames, give the picture the page's
//                                    keyboard focus (no pointer event)
//   {"cmd":"ref","name":N,"key":K[,"png":B64]}  keep the picture now on
//                                    the canvas (or the PNG, decoded by
//                                    Chromium) as K; answers its size
//   {"cmd":"diff","name":N,"key":K,"bar":B[,"png":B64]}  compare the canvas
//                                    (or the PNG) with K in 8x8 cells (a
//                                    cell changed: 4 or more of its pixels
//                                    differ by more than 64 in a channel),
//                                    apart for the bottom B rows (the
//                                    desktop's bar and its clock) and the
//                                    rest (the terminal): {"term": cells,
//                                    "bar": cells, "box": [x0, y0, x1, y1]
//                                    of the terminal's changed cells or null}
//   {"cmd":"type","name":N,"text":T} type T, wait until the player sent it
//   {"cmd":"save","name":N,"prefix":P}  the canvas and every kept picture
//                                    as PNG files P-now.png, P-KEY.png
//   {"cmd":"state","name":N}         the player's state
// Needs tests/browser/node_modules (playwright-core) and /usr/bin/chromium.
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { chromium } = require(path.join(__dirname, '..', 'browser', 'node_modules', 'playwright-core'));

const CELL = 8;

// In the page: the canvas's pixels, or those of a PNG (base64) decoded by
// Chromium; {error} when the PNG does not decode.
async function picture(page, png) {
  return page.evaluate(async (b64) => {
    let w;
    let h;
    let ctx;
    if (b64) {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      let bmp;
      try {
        bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
      } catch (e) {
        return { error: 'the PNG does not decode: ' + e };
      }
      w = bmp.width;
      h = bmp.height;
      ctx = new OffscreenCanvas(w, h).getContext('2d');
      ctx.drawImage(bmp, 0, 0);
    } else {
      const cv = document.getElementById('screen');
      w = cv.width;
      h = cv.height;
      ctx = cv.getContext('2d');
    }
    window.__pic = ctx.getImageData(0, 0, w, h);
    return { width: w, height: h, frames: window.vmstreamPlayer.decodedFrames };
  }, png || null);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const pages = {};
  const state = (page) => page.evaluate(() => window.vmstreamPlayer);
  try {
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      if (!line.trim()) break;
      const c = JSON.parse(line);
      const page = pages[c.name];
      let answer;
      try {
        if (c.cmd === 'open') {
          const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
          pages[c.name] = p;
          await p.goto(c.url);
          await p.waitForFunction(() => window.vmstreamPlayer && window.vmstreamPlayer.decodedFrames >= 5,
            null, { timeout: 300000 });
          // the page's keyboard focus, without a pointer event for the guest
          await p.focus('#screen');
          answer = await state(p);
        } else if (c.cmd === 'ref') {
          answer = await picture(page, c.png);
          if (!answer.error) {
            await page.evaluate((k) => { (window.__refs = window.__refs || {})[k] = window.__pic; }, c.key);
          }
        } else if (c.cmd === 'diff') {
          answer = await picture(page, c.png);
          if (!answer.error) {
            answer = await page.evaluate(([key, cell, bar]) => {
              const ref = (window.__refs || {})[key];
              const pic = window.__pic;
              if (!ref || ref.width !== pic.width || ref.height !== pic.height) {
                return { error: `no kept picture ${key} of ${pic.width}x${pic.height}` };
              }
              const now = pic.data;
              const old = ref.data;
              const w = pic.width;
              const h = pic.height;
              let term = 0;
              let barCells = 0;
              let box = null;
              for (let cy = 0; cy + cell <= h; cy += cell) {
                for (let cx = 0; cx + cell <= w; cx += cell) {
                  let n = 0;
                  for (let y = cy; y < cy + cell; y++) {
                    for (let x = cx; x < cx + cell; x++) {
                      const i = (y * w + x) * 4;
                      if (Math.abs(now[i] - old[i]) > 64 || Math.abs(now[i + 1] - old[i + 1]) > 64 ||
                          Math.abs(now[i + 2] - old[i + 2]) > 64) n++;
                    }
                  }
                  if (n < 4) continue;
                  if (cy + cell > h - bar) {
                    barCells++;
                  } else {
                    term++;
                    box = box ? [Math.min(box[0], cx), Math.min(box[1], cy), Math.max(box[2], cx + cell),
                      Math.max(box[3], cy + cell)] : [cx, cy, cx + cell, cy + cell];
                  }
                }
              }
              return { term, bar: barCells, box, width: w, height: h };
            }, [c.key, CELL, c.bar]);
          }
        } else if (c.cmd === 'type') {
          const sent = await page.evaluate(() => window.vmstreamPlayer.inputsSent);
          await page.keyboard.type(c.text);
          // a down and an up per key
          await page.waitForFunction((n) => window.vmstreamPlayer.inputsSent >= n,
            sent + 2 * c.text.length, { timeout: 10000 });
          answer = await state(page);
        } else if (c.cmd === 'save') {
          // PNG files of the canvas and of every kept picture (a failed
          // check's evidence): PREFIX-now.png, PREFIX-KEY.png
          const files = await page.evaluate(() => {
            const out = {};
            const one = (img) => {
              const oc = document.createElement('canvas');
              oc.width = img.width;
              oc.height = img.height;
              oc.getContext('2d').putImageData(img, 0, 0);
              return oc.toDataURL('image/png').split(',')[1];
            };
            const cv = document.getElementById('screen');
            out.now = one(cv.getContext('2d').getImageData(0, 0, cv.width, cv.height));
            for (const [k, img] of Object.entries(window.__refs || {})) out[k] = one(img);
            return out;
          });
          for (const [k, b64] of Object.entries(files)) {
            fs.writeFileSync(`${c.prefix}-${k}.png`, Buffer.from(b64, 'base64'));
          }
          answer = { saved: Object.keys(files) };
        } else if (c.cmd === 'state') {
          answer = await state(page);
        } else {
          answer = { error: 'unknown command ' + c.cmd };
        }
      } catch (e) {
        answer = { error: String(e.message || e).split('\n')[0] };
      }
      console.log(JSON.stringify(answer));
    }
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(String(e)); process.exit(1); });
