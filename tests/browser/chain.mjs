// The whole chain in Debian's chromium: an alert a real gateway daemon raised on simulated devices, sent
// through the engine and stored by the hub, appears on a nurse's open board; she acknowledges it, the hub
// signs and sends the command, and the gateway's confirmation appears; she looks at the resident's
// charts (the gateway's own readings and rules); she resolves it, and the gateway's resolution takes it
// off the board. Run by tests/unit/hub/console_chain_test.cpp, which runs the engine, the hub, the
// gateway and the console:
//   node chain.mjs   (environment: CONSOLE_URL, NURSE, PASSWORD, ARTEFACTS)
import { mkdirSync } from 'node:fs';
import { accessibility, check, failures, finish, launch, signIn, tablet, until } from './lib.mjs';

const { CONSOLE_URL, NURSE, PASSWORD, ARTEFACTS } = process.env;
mkdirSync(ARTEFACTS, { recursive: true });

const browser = await launch();
try {
  const context = await browser.newContext(tablet);
  const page = await context.newPage();
  await signIn(page, CONSOLE_URL, NURSE, PASSWORD);
  // The gateway raises its alert on the first SpO2 reading; the board shows it live.
  await until(page, () => window.ehgConsole.alertIds.length >= 1, undefined, 90000);
  const alertId = await page.evaluate(() => window.ehgConsole.alertIds[0]);
  const card = '#clinical li[data-alert-id="' + alertId + '"]';
  check((await page.textContent(card)).includes('spo2-any'), 'the gateway\'s alert is on the board');
  await page.screenshot({ path: ARTEFACTS + '/chain-board.png', fullPage: true });

  await page.click(card + ' .actions button:text("Kvitter")');
  await until(page, (selector) => (document.querySelector(selector)?.textContent || '').includes('bekreftet av gatewayen'), card, 60000);
  check(true, 'the gateway confirmed the acknowledgement');
  await until(page, ([selector, nurse]) => (document.querySelector(selector)?.textContent || '').includes('kvittert (' + nurse + ')'), [card, NURSE], 60000);
  check(true, 'the gateway\'s acknowledged alert is on the board');
  await accessibility(page, 'board with a real gateway\'s alert');

  // The resident behind it: the gateway's own readings and the rules it reported.
  const resident = await page.textContent(card + ' a.subject');
  await page.click(card + ' a.subject');
  await page.waitForSelector('#resident-view:not([hidden])');
  await until(page, () => window.ehgConsole.residentRenderedAt > 0, undefined, 30000);
  check((await page.textContent('#resident-heading')).includes(resident), 'the resident view of the alert\'s resident');
  check(await page.locator('#charts canvas').count() >= 1, 'the gateway\'s readings are charted');
  check((await page.textContent('#rules')).includes('spo2-any'), 'the rules the gateway reported are listed');
  await page.screenshot({ path: ARTEFACTS + '/chain-resident.png', fullPage: true });
  await page.click('#nav-board');
  await page.waitForSelector('#board-view:not([hidden])');

  await until(page, (selector) => document.querySelector(selector) !== null, card);
  await page.click(card + ' .actions button:text("Løs …")');
  await page.fill(card + ' textarea', 'Sjekket, alt i orden');
  await page.click(card + ' button:text("Bekreft løsning")');
  // The gateway resolves it and says so; the hub stores that, and the board drops it.
  await until(page, (id) => !window.ehgConsole.alertIds.includes(id), alertId, 60000);
  check(true, 'the gateway\'s resolution takes the alert off the board');
  console.log('RESOLVED ' + alertId);
  await context.close();
} catch (error) {
  failures.push(String(error && error.stack || error));
  console.error(error);
} finally {
  await browser.close();
}
finish();
