// The make run demo, clicked through in a real browser: scripts/run-local (lighttpd, the handlers,
// redis-server and the demo authorization server, tests/oidc) on free loopback ports with its own
// state directory, and Debian's headless Chromium driven by playwright-core. The user opens /ui/,
// reaches Connect with the keyboard, signs in and consents at oidc-provider's development pages,
// lands back on /ui/ with a "Connected" banner and the "connected" badge, then disconnects.
// Screenshots go to CREDBROKER_TEST_OUTPUT (ctest: <build>/test-output/browser/).
//
// Environment: CREDBROKER_SOURCE_DIR (the checkout), CREDBROKER_BIN_DIR (the handlers),
// CREDBROKER_TEST_OUTPUT, CHROMIUM (default /usr/bin/chromium).
// Every wait is bounded: playwright's per-action timeout, and a watchdog for the whole run.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const source = process.env.CREDBROKER_SOURCE_DIR ?? new URL('../..', import.meta.url).pathname;
const binDir = process.env.CREDBROKER_BIN_DIR ?? join(source, 'build/bin');
const outDir = process.env.CREDBROKER_TEST_OUTPUT ?? join(source, 'build/test-output/browser');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ACTION_MS = 15000;
const WHOLE_RUN_MS = 240000;

let stack;
let browser;
let runDir;
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`);
  if (!ok) failures++;
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (stack && stack.exitCode === null) {
    // run-local stops what it started on SIGTERM; it leads its own process group.
    process.kill(-stack.pid, 'SIGTERM');
    await new Promise((resolve) => {
      const t = setTimeout(() => {
        try { process.kill(-stack.pid, 'SIGKILL'); } catch {}
        resolve();
      }, 10000);
      stack.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }
  if (runDir) rmSync(runDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  console.error(`browser test: still running after ${WHOLE_RUN_MS} ms; giving up`);
  await cleanup();
  process.exit(1);
}, WHOLE_RUN_MS);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts scripts/run-local; resolves with its base URL once it prints its ready line. */
async function startStack() {
  const port = await freePort();
  let oidcPort = await freePort();
  while (oidcPort === port) oidcPort = await freePort();
  runDir = mkdtempSync(join(tmpdir(), 'credbroker-demo-'));
  stack = spawn(join(source, 'scripts/run-local'), [], {
    env: { ...process.env, PORT: String(port), DEMO_OIDC_PORT: String(oidcPort),
           RUN_LOCAL_DIR: runDir, CREDBROKER_BIN_DIR: binDir, DEV_USER: 'demo' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  stack.stderr.on('data', (d) => { output += d; });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`run-local not ready in 60 s:\n${output}`)), 60000);
    stack.stdout.on('data', (d) => {
      output += d;
      if (output.includes('credbroker: ready')) {
        clearTimeout(t);
        resolve({ url: `http://127.0.0.1:${port}`, oidc: `http://127.0.0.1:${oidcPort}` });
      }
    });
    stack.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`run-local exited (${code}):\n${output}`));
    });
  });
}

/** Every focusable control of the page has an accessible name (role + name in the ARIA tree). */
async function checkNames(page, when) {
  const controls = page.locator('main a[href], main button:not([hidden]), main input, main select');
  const n = await controls.count();
  for (let i = 0; i < n; i++) {
    const c = controls.nth(i);
    if (!(await c.isVisible())) continue;
    const aria = await c.ariaSnapshot();
    check(/^- (link|button|textbox|combobox) "[^"]+"/.test(aria), `${when}: control has a name: ${aria.split('\n')[0]}`);
  }
}

/** WCAG contrast ratio of an element's text against its own background. */
async function contrast(locator) {
  return locator.evaluate((el) => {
    const rgb = (s) => s.match(/[\d.]+/g).slice(0, 3).map(Number);
    const lum = (c) => {
      const [r, g, b] = c.map((v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const s = getComputedStyle(el);
    const [a, b] = [lum(rgb(s.color)), lum(rgb(s.backgroundColor))];
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const { url, oidc } = await startStack();
  console.log(`stack on ${url}, authorization server on ${oidc}`);

  // Chromium refuses to start as root with its sandbox (it cannot drop to an unprivileged
  // user namespace it would trust); the CI container runs tests as root, so only then is the
  // sandbox turned off. The pages it loads are this test's own, on loopback.
  const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args, timeout: 30000 });
  const context = await browser.newContext({ viewport: { width: 900, height: 520 }, locale: 'en-GB', timezoneId: 'Europe/Berlin' });
  const page = await context.newPage();
  page.setDefaultTimeout(ACTION_MS);
  page.setDefaultNavigationTimeout(ACTION_MS);
  // A CSP violation or a script error on our page shows up as a console error.
  const pageErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && page.url().startsWith(url)) pageErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));

  const demoRow = page.locator('tr[data-server="demo"]');
  const badge = demoRow.locator('.badge');

  // 1. The page, not connected.
  const first = await page.goto(`${url}/ui/`);
  check(first.headers()['content-type'] === 'text/html; charset=utf-8', 'page is text/html; charset=utf-8');
  check((first.headers()['content-security-policy'] ?? '').includes("script-src 'self'"), 'page has the CSP');
  await badge.waitFor();
  check((await badge.textContent()) === 'not connected', 'demo starts "not connected"');
  await page.screenshot({ path: join(outDir, '1-not-connected.png') });
  await checkNames(page, 'before connecting');

  // 2. Connect with the keyboard: Tab until the "Connect demo" link has the focus, then Enter.
  const connect = page.getByRole('link', { name: 'Connect demo' });
  await connect.waitFor();
  let focused = false;
  for (let i = 0; i < 20 && !focused; i++) {
    await page.keyboard.press('Tab');
    focused = await connect.evaluate((el) => el === document.activeElement);
  }
  check(focused, 'Connect demo is reachable with Tab');
  await Promise.all([page.waitForURL(`${oidc}/**`), page.keyboard.press('Enter')]);

  // 3. oidc-provider's development login and consent pages (any name, any password).
  await page.locator('input[name="login"]').fill('demo');
  await page.locator('input[name="password"]').fill('demo-password');
  await page.screenshot({ path: join(outDir, '2-sign-in.png') });
  await page.getByRole('button', { name: /sign-in/i }).click();
  const proceed = page.getByRole('button', { name: 'Continue' });
  await proceed.waitFor();
  await page.screenshot({ path: join(outDir, '3-consent.png') });
  await Promise.all([page.waitForURL(`${url}/ui/**`), proceed.click()]);

  // 4. Back on the page: the banner says so, the badge says connected, the expiry is local time.
  const banner = page.locator('#banner');
  await banner.waitFor({ state: 'visible' });
  check((await banner.locator('#banner-text').textContent()) === 'Connected to demo.', 'banner: "Connected to demo."');
  check((await banner.getAttribute('role')) === 'status', 'banner is a status message');
  await page.waitForFunction(() => document.querySelector('tr[data-server="demo"] .badge')?.textContent === 'connected');
  check((await badge.textContent()) === 'connected', 'demo is "connected"');
  const expiry = demoRow.locator('time');
  check(/T.*Z$/.test((await expiry.getAttribute('datetime')) ?? ''), 'expiry keeps the UTC time in datetime');
  check(((await expiry.textContent()) ?? '').length > 0, `expiry shown in local time: ${await expiry.textContent()}`);
  check(!page.url().includes('credential_'), 'the outcome is taken out of the address');
  check((await contrast(badge)) >= 4.5, 'badge text contrast >= 4.5:1');
  check((await contrast(banner)) >= 4.5, 'banner text contrast >= 4.5:1');
  await checkNames(page, 'connected');
  await page.screenshot({ path: join(outDir, '4-connected.png') });

  // 5. Disconnect.
  await page.getByRole('button', { name: 'Disconnect demo' }).click();
  await page.waitForFunction(() => document.querySelector('tr[data-server="demo"] .badge')?.textContent === 'not connected');
  check((await badge.textContent()) === 'not connected', 'demo is "not connected" again');
  check((await banner.locator('#banner-text').textContent()) === 'Disconnected from demo.', 'banner: "Disconnected from demo."');
  await page.screenshot({ path: join(outDir, '5-disconnected.png') });
  // The demo server logs one line per request: the refresh and the access token were revoked.
  const revocations = readFileSync(join(runDir, 'demo-oidc.log'), 'utf8')
    .split('\n').filter((l) => l === 'POST /token/revocation 200');
  check(revocations.length === 2, `disconnect revoked both tokens at the demo server (${revocations.length})`);

  // 6. The API agrees.
  const list = await page.evaluate(async () => (await fetch('/api/v1/user/credentials')).json());
  check(list.credentials.find((c) => c.server === 'demo')?.status === 'not_connected', 'API: demo not_connected');

  // 7. A refused sign-in shows a readable error banner.
  await page.goto(`${url}/ui/?credential_server=demo&credential_error=access_denied`);
  await banner.waitFor({ state: 'visible' });
  check((await banner.locator('#banner-text').textContent()) === 'Could not connect to demo: you declined access.', 'error banner is readable');
  check((await banner.getAttribute('role')) === 'alert', 'an error banner is an alert');

  check(pageErrors.length === 0, `no script error or CSP violation on the page ${JSON.stringify(pageErrors)}`);
  console.log(`screenshots in ${outDir}`);
}

let code = 0;
try {
  await main();
  code = failures === 0 ? 0 : 1;
} catch (e) {
  console.error(`browser test: ${e.stack ?? e}`);
  code = 1;
}
await cleanup();
clearTimeout(watchdog);
console.log(failures === 0 && code === 0 ? 'browser test: passed' : `browser test: failed (${failures} checks)`);
process.exit(code);
