// Measures, never asserts: when each alert is first drawn on a nurse's open board. Used by
// scripts/hub-fleet --board (docs/benchmarks.md section 9), which compares these times with the times
// the fleet published the alerts:
//   node watch-board.mjs   (environment: CONSOLE_URL, NURSE, PASSWORD, OUT)
// Signs in once and keeps the board open (live updates only, never a reload). Appends to OUT one line
// per alert: its id, a tab, and the wall-clock time in milliseconds of the first frame that showed it.
// Stops on SIGTERM or SIGINT, after writing what it saw.
import { appendFileSync, writeFileSync } from 'node:fs';
import { launch, signIn, tablet } from './lib.mjs';

const { CONSOLE_URL, NURSE, PASSWORD, OUT } = process.env;
writeFileSync(OUT, '');

const browser = await launch();
const context = await browser.newContext(tablet);
const page = await context.newPage();
await signIn(page, CONSOLE_URL, NURSE, PASSWORD);

// In the page: every alert card added to the board is stamped at the next animation frame (the frame
// that draws it). The board redraws its lists whole, so only an id's first appearance counts.
await page.evaluate(() => {
  const known = new Set();
  window.boardWatch = [];
  const stamp = (ids) => requestAnimationFrame(() => {
    const at = Date.now();
    for (const id of ids) window.boardWatch.push([id, at]);
  });
  const fresh = () => {
    const ids = [];
    for (const card of document.querySelectorAll('li[data-alert-id]')) {
      const id = card.dataset.alertId;
      if (!known.has(id)) { known.add(id); ids.push(id); }
    }
    if (ids.length) stamp(ids);
  };
  fresh();
  new MutationObserver(fresh).observe(document.getElementById('board-view'), { childList: true, subtree: true });
});

const drain = async () => {
  const seen = await page.evaluate(() => window.boardWatch.splice(0));
  if (seen.length) appendFileSync(OUT, seen.map(([id, at]) => id + '\t' + at + '\n').join(''));
};
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try { await drain(); } finally { await browser.close(); process.exit(0); }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log('WATCHING');
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  if (!stopping) await drain();
}
