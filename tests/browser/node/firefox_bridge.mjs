// Firefox ESR driven over WebDriver BiDi by puppeteer-core, for the Python tests
// (tests/browser/engines.py). One JSON command per line on stdin, one JSON answer per line
// on stdout: {id, cmd, args} -> {id, ok: true, value} | {id, ok: false, error}.
import puppeteer from 'puppeteer-core';
import readline from 'node:readline';

const pages = new Map();
let browser = null;
let nextPage = 1;

function page(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no page ${id}`);
  return p;
}

const commands = {
  async launch({ executablePath, prefs, userDataDir }) {
    browser = await puppeteer.launch({
      browser: 'firefox',
      protocol: 'webDriverBiDi',
      executablePath,
      headless: true,
      userDataDir,
      extraPrefsFirefox: prefs || {},
    });
    return browser.version();
  },
  async newPage({ width, height }) {
    const p = await browser.newPage();
    await p.setViewport({ width, height, deviceScaleFactor: 1 });
    const id = nextPage++;
    pages.set(id, p);
    return id;
  },
  async closePage({ page: id }) {
    await page(id).close();
    pages.delete(id);
  },
  async goto({ page: id, url }) {
    await page(id).goto(url, { waitUntil: 'load' });
  },
  async reload({ page: id }) {
    await page(id).reload({ waitUntil: 'load' });
  },
  // An expression whose value (awaited if a promise) comes back as JSON.
  async evaluate({ page: id, expression }) {
    return page(id).evaluate(expression);
  },
  async click({ page: id, selector }) {
    await page(id).locator(selector).setTimeout(20000).click();
  },
  async fill({ page: id, selector, value }) {
    await page(id).locator(selector).setTimeout(20000).fill(value);
  },
  async upload({ page: id, selector, paths }) {
    const el = await page(id).waitForSelector(selector, { timeout: 20000 });
    await el.uploadFile(...paths);
    await el.dispose();
  },
  async stroke({ page: id, points }) {
    const { mouse } = page(id);
    await mouse.move(points[0][0], points[0][1]);
    await mouse.down();
    for (const [x, y] of points.slice(1)) await mouse.move(x, y);
    await mouse.up();
  },
  async screenshot({ page: id, path }) {
    await page(id).screenshot({ path });
  },
  async quit() {
    await browser?.close();
    browser = null;
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const { id, cmd, args } = JSON.parse(line);
  let answer;
  try {
    const value = await commands[cmd](args || {});
    answer = { id, ok: true, value: value === undefined ? null : value };
  } catch (e) {
    answer = { id, ok: false, error: String(e && e.stack ? e.stack : e) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  if (cmd === 'quit') process.exit(0);
});
rl.on('close', async () => {
  await browser?.close().catch(() => {});
  process.exit(0);
});
