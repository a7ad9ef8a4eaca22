// What the console's browser tests share: Debian's chromium, checks that collect failures, polling
// that the console's Content-Security-Policy allows, axe-core, signing in.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const failures = [];
export const check = (ok, what) => { if (!ok) { failures.push(what); console.error('FAILED: ' + what); } else console.log('ok: ' + what); };

// Playwright's waitForFunction polls through eval(), which the console's Content-Security-Policy forbids
// (as it should); page.evaluate goes through the DevTools protocol, so poll with that.
export async function until(page, predicate, arg, timeout = 10000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await page.evaluate(predicate, arg)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('timed out waiting for ' + predicate.toString());
}

// Clicks `target` until `shown` is visible (at most five times, 10 s each). The live board redraws every
// card when any alert changes (render() replaces them): a click that lands while its card is replaced
// never reaches the link. One retry is the test's; the lost click itself is the console's to fix.
export async function clickUntilShown(page, target, shown) {
  for (let attempt = 1; ; attempt++) {
    await page.click(target);
    try {
      await page.waitForSelector(shown, { timeout: 10000 });
      return;
    } catch (error) {
      if (attempt === 5) throw error;
      console.log('clicked ' + target + ' again: ' + shown + ' not shown after attempt ' + attempt);
    }
  }
}

export async function accessibility(page, view) {
  // Evaluated through the DevTools protocol: the page's own Content-Security-Policy (no inline script)
  // stays in force for everything else.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of serious) console.error('axe ' + view + ': ' + v.id + ' (' + v.impact + '): ' + v.help + ' ' + v.nodes.map((n) => n.target.join(' ')).join(', '));
  check(serious.length === 0, 'axe: no serious or critical violation on the ' + view);
}

export async function signIn(page, url, name, password, firstView = '#board-view') {
  await page.goto(url);
  await page.waitForSelector('#sign-in-view:not([hidden])');
  await page.fill('#username', name);
  await page.fill('#password', password);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector(firstView + ':not([hidden])');
}

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--ignore-certificate-errors',
      '--autoplay-policy=no-user-gesture-required'],
  });
}

// A tablet in landscape, speaking bokmål.
export const tablet = { viewport: { width: 1180, height: 820 }, ignoreHTTPSErrors: true, locale: 'nb-NO' };

export function finish() {
  console.log(failures.length ? 'FAILED ' + failures.length : 'PASSED');
  process.exit(failures.length ? 1 : 0);
}
