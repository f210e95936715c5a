/// <reference lib="dom" />
// The status page in a real browser: Debian's chromium, driven by
// playwright-core, against `hostmux serve --workers 2`'s admin listener.
// A screenshot of each run goes to the test's temporary directory (its path
// is printed); HOSTMUX_SCREENSHOT=1 also writes examples/status-page.png,
// the README's picture.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { request, tempDir, writeTree } from './helpers.ts';
import { serve } from './serve-helpers.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const APP = `
export default (req, res) => {
  if (req.url === '/missing') { res.statusCode = 404; return void res.end('nope'); }
  res.end('hello');
};
`;

async function browser(t: TestContext): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  const launched = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.after(() => launched.close());
  return launched;
}

async function adminOf(t: TestContext, files: Record<string, string | { link: string }>): Promise<{ port: number; admin: number }> {
  const dir = tempDir('hostmux-page-');
  t.after(dir.remove);
  writeTree(dir.path, { 'hostmux.conf': '[admin]\nlisten = 127.0.0.1:0\n', ...files });
  const server = await serve(t, ['-c', dir.path, '--workers', '2']);
  const admin = Number((await server.waitFor(/admin listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  return { port: server.port, admin };
}

/** The text of each visible row's cells, by site. */
function rowsOf(page: Page): Promise<Record<string, Record<string, string>>> {
  return page.$$eval('#rows tr', (trs) => Object.fromEntries(trs.map((tr) => [
    (tr as HTMLElement).dataset.site!,
    Object.fromEntries([...tr.children].map((td) => [(td as HTMLElement).dataset.col!, td.textContent ?? ''])),
  ])));
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  // A hang guard only: the page polls every 2 s, and a busy machine is slower.
  const end = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('status page: live counts and sparklines without a reload, sorting, filtering, nothing from the data run as HTML', { timeout: 120_000 }, async (t) => {
  const { port, admin } = await adminOf(t, {
    'sites/app.mjs': APP,
    'sites/broken.mjs': 'throw new Error(\'<img src=x onerror="window.pwned = 1">\');\n',
    'sites-enabled/alpha.ini': '[site]\ndomains = alpha.test\nhandler = ../sites/app.mjs\n',
    'sites-enabled/beta.ini': '[site]\ndomains = beta.test, *.beta.test\nhandler = ../sites/app.mjs\n',
    'sites-enabled/gamma.ini': '[site]\ndomains = gamma.test\nhandler = ../sites/broken.mjs\n',
  });
  const page = await (await browser(t)).newPage({ viewport: { width: 1200, height: 420 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`http://127.0.0.1:${admin}/`);
  await until('three rows', () => rowsOf(page), (rows) => Object.keys(rows).length === 3);
  const sparkOf = (site: string) => page.$eval(`#rows tr[data-site="${site}"] polyline`, (line) => line.getAttribute('points') ?? '');
  const before = await sparkOf('alpha');

  // Traffic to two sites, while the page is open.
  const traffic = (async () => {
    for (let round = 0; round < 25; round++) {
      await Promise.all([
        ...Array.from({ length: 8 }, () => request(port, { host: 'alpha.test' })),
        ...Array.from({ length: 3 }, () => request(port, { host: 'x.beta.test', path: '/missing' })),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  const rows = await until('alpha and beta counted', () => rowsOf(page), (r) => Number(r.alpha?.rate) > 0 && Number(r.beta?.rate4) > 0);
  assert.equal(rows.beta!.state, 'ready');
  assert.equal(rows.gamma!.state, 'failed');
  assert.equal(rows.beta!.domains, 'beta.test, *.beta.test');
  await until('the sparkline moves', () => sparkOf('alpha'), (points) => points !== before && points.split(' ').length >= 2);
  await traffic;
  assert.equal(await page.evaluate(() => (window as { pwned?: number }).pwned), undefined, 'the error text was not run');
  assert.match(await page.$eval('#rows tr[data-site="gamma"] td[data-col="name"]', (td) => (td as HTMLElement).title), /<img src=x onerror="window\.pwned = 1">/);

  // Sorting: by name, then reversed; by req/s, busiest first.
  const order = () => page.$$eval('#rows tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.site));
  assert.deepEqual(await order(), ['alpha', 'beta', 'gamma']);
  await page.click('th[data-key="name"]');
  assert.deepEqual(await order(), ['gamma', 'beta', 'alpha']);
  await page.click('th[data-key="rate4"]');
  assert.equal((await order())[0], 'beta');

  // The filter takes names and domains.
  await page.fill('#filter', 'beta.test');
  assert.deepEqual(await order(), ['beta']);
  await page.fill('#filter', 'gam');
  assert.deepEqual(await order(), ['gamma']);
  await page.fill('#filter', '');
  assert.equal((await order()).length, 3);

  const shot = tempDir('hostmux-page-shot-');
  const file = join(shot.path, 'status-page.png');
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
  if (process.env.HOSTMUX_SCREENSHOT === '1') {
    // The README's picture: 40 s of uneven traffic, so that the sparklines have a shape.
    for (let second = 0; second < 40; second++) {
      const busy = 4 + Math.round(4 * Math.sin(second / 4));
      await Promise.all([
        ...Array.from({ length: busy * 3 }, () => request(port, { host: 'alpha.test' })),
        ...Array.from({ length: 9 - busy }, () => request(port, { host: 'beta.test', path: second % 5 === 0 ? '/missing' : '/' })),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await page.fill('#filter', '');
    await page.emulateMedia({ colorScheme: 'light' });
    mkdirSync(join(ROOT, 'examples'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'examples', 'status-page.png') });
  }
  assert.deepEqual(errors, []);
});

test('status page at 1,000 sites: one page of rows in the DOM, the pager and the filter reach the rest', { timeout: 120_000 }, async (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 1000; i++) {
    const name = `site-${String(i).padStart(4, '0')}`;
    files[`sites-enabled/${name}.ini`] = `[site]\ndomains = ${name}.test\nredirect = https://example.test\n`;
  }
  const { admin } = await adminOf(t, files);
  const page = await (await browser(t)).newPage();
  await page.goto(`http://127.0.0.1:${admin}/`);
  await until('the first page', () => page.$$eval('#rows tr', (trs) => trs.length), (n) => n === 100);
  assert.equal(await page.textContent('#range'), '1–100 of 1000');
  await page.click('#next');
  assert.equal(await page.textContent('#range'), '101–200 of 1000');
  assert.equal(await page.$eval('#rows tr', (tr) => (tr as HTMLElement).dataset.site), 'site-0100');
  await page.fill('#filter', 'site-0999');
  assert.deepEqual(await page.$$eval('#rows tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.site)), ['site-0999']);
  assert.equal(await page.textContent('#range'), '1–1 of 1');
});

test('status page with a token: a browser that sends it sees the sites; one that does not gets 401', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('hostmux-page-token-');
  t.after(dir.remove);
  writeTree(dir.path, { 'hostmux.conf': '[admin]\nlisten = 127.0.0.1:0\ntoken = t0ken\n', 'sites-enabled/a.ini': '[site]\ndomains = a.test\nredirect = https://example.test\n' });
  const server = await serve(t, ['-c', dir.path, '--workers', '1']);
  const admin = Number((await server.waitFor(/admin listening on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
  const page = await (await browser(t)).newPage({ extraHTTPHeaders: { authorization: 'Bearer t0ken' } });
  await page.goto(`http://127.0.0.1:${admin}/`);
  await until('a row', () => page.$$eval('#rows tr', (trs) => trs.length), (n) => n === 1);
  const without = await (await browser(t)).newPage();
  const response = await without.goto(`http://127.0.0.1:${admin}/`);
  assert.equal(response?.status(), 401);
});
