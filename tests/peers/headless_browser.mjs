// A real browser for `auth login` tests: Debian's headless Chromium driven by puppeteer-core
// (never a downloaded browser). Used as $BROWSER, so mcpchat appends the authorization URL:
//   BROWSER="node tests/peers/headless_browser.mjs PEERS_NPM_DIR OUT_DIR" mcpchat auth login s
// Opens the URL, fills oidc-provider's login form (any login and password) and submits its
// consent form, then waits for mcpchat's callback page and saves, in OUT_DIR:
//   callback.html (the page's HTML), callback.txt (its text), callback.png (a screenshot),
//   blank.png (a screenshot of an empty page of the same size, to compare with), and done
//   (written last; its content is "ok" or the error).
import { createRequire } from 'node:module';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const [npmDir, outDir, url] = process.argv.slice(2);
const require = createRequire(join(npmDir, 'package.json'));
const puppeteer = require('puppeteer-core');
const save = (name, data) => {
  writeFileSync(join(outDir, name + '.tmp'), data);
  renameSync(join(outDir, name + '.tmp'), join(outDir, name));
};

let browser;
try {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 800, height: 600 });
  await page.goto(url, { waitUntil: 'load' });
  // Login form, then consent form (oidc-provider's devInteractions pages).
  await page.waitForSelector('input[name=login]');
  await page.type('input[name=login]', 'user');
  await page.type('input[name=password]', 'secret');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
  await page.waitForSelector('button[type=submit]');
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
  // Now on mcpchat's loopback callback page.
  if (!page.url().startsWith('http://127.0.0.1:')) throw new Error(`not on the callback page: ${page.url()}`);
  save('callback.html', await page.content());
  save('callback.txt', await page.evaluate(() => document.body.innerText));
  save('callback.png', await page.screenshot({ type: 'png' }));
  await page.goto('about:blank');
  save('blank.png', await page.screenshot({ type: 'png' }));
  save('done', 'ok');
} catch (error) {
  save('done', String(error?.stack || error));
} finally {
  await browser?.close();
}
