// The care console's page: sign-in, the live alert board and the navigation between views (the
// resident, fleet and audit views are views.js). No framework, no external resource: the
// Content-Security-Policy allows the console's own files only (Chart.js is served from the console).
'use strict';

const TEXT = {
  nb: {
    title: 'Varseltavle', sign_in: 'Logg inn', sign_out: 'Logg ut', username: 'Brukernavn', password: 'Passord',
    enable_sound: 'Slå på lyd', open_alerts: 'Åpne varsler', clinical_lane: 'Varsler om beboere',
    technical_lane: 'Utstyr og gateway', none_open: 'Ingen åpne varsler.', refused: 'Feil brukernavn eller passord.',
    locked: 'For mange mislykkede forsøk. Prøv igjen om litt.', unavailable: 'Omsorgssystemet svarer ikke. Prøv igjen.',
    critical_banner: (n) => (n === 1 ? '1 kritisk varsel venter' : n + ' kritiske varsler venter'),
    sound_off: 'Lyden er av: trykk «Slå på lyd».', updated: 'Oppdatert', live_lost: 'Mistet forbindelsen, prøver igjen …',
    severity: { critical: 'kritisk', high: 'høy', medium: 'middels', low: 'lav' },
    acknowledged: 'kvittert', open: 'åpen', escalation: 'eskalering', since: 'siden', municipality: 'kommune',
    gateway: 'gateway', worst: 'verste verdi', other_language: 'English', other_lang_code: 'en',
    role: { nurse: 'sykepleier', coordinator: 'koordinator', municipal_it: 'kommunal IT', administrator: 'administrator' },
    claim: 'Jeg tar den', claimed_by: 'Tatt av', acknowledge: 'Kvitter', resolve: 'Løs …', note: 'Notat (valgfritt)',
    confirm_resolve: 'Bekreft løsning', cancel: 'Avbryt', ack_by: 'Kvittert av', resolve_by: 'Løst av',
    waiting_hub: 'venter på sending', sent: 'sendt til gatewayen', confirmed: 'bekreftet av gatewayen',
    gateway_refused: 'gatewayen avviste', hub_refused: 'ikke sendt', first: (who) => who + ' var først.',
    not_open: 'Varselet er ikke åpent lenger.', done: 'Registrert.',
  },
  en: {
    title: 'Alert board', sign_in: 'Sign in', sign_out: 'Sign out', username: 'User name', password: 'Password',
    enable_sound: 'Turn sound on', open_alerts: 'Open alerts', clinical_lane: 'Residents\u2019 alerts',
    technical_lane: 'Devices and gateways', none_open: 'No open alerts.', refused: 'Wrong user name or password.',
    locked: 'Too many failed attempts. Try again later.', unavailable: 'The care system does not answer. Try again.',
    critical_banner: (n) => (n === 1 ? '1 critical alert waiting' : n + ' critical alerts waiting'),
    sound_off: 'Sound is off: press \u201cTurn sound on\u201d.', updated: 'Updated', live_lost: 'Connection lost, retrying \u2026',
    severity: { critical: 'critical', high: 'high', medium: 'medium', low: 'low' },
    acknowledged: 'acknowledged', open: 'open', escalation: 'escalation', since: 'since', municipality: 'municipality',
    gateway: 'gateway', worst: 'worst value', other_language: 'Norsk', other_lang_code: 'nb',
    role: { nurse: 'nurse', coordinator: 'coordinator', municipal_it: 'municipal IT', administrator: 'administrator' },
    claim: 'I\u2019m on it', claimed_by: 'Taken by', acknowledge: 'Acknowledge', resolve: 'Resolve \u2026',
    note: 'Note (optional)', confirm_resolve: 'Confirm resolution', cancel: 'Cancel', ack_by: 'Acknowledged by',
    resolve_by: 'Resolved by', waiting_hub: 'waiting to be sent', sent: 'sent to the gateway',
    confirmed: 'confirmed by the gateway', gateway_refused: 'the gateway refused', hub_refused: 'not sent',
    first: (who) => who + ' was first.', not_open: 'The alert is no longer open.', done: 'Recorded.',
  },
};

const state = {
  language: localStorage.getItem('ehg-language') === 'en' ? 'en' : 'nb',
  session: null,
  alerts: [],
  clockOffset: 0,
  events: null,
  audio: null,
  beepTimer: null,
  resolving: null,  // the alert whose resolve form is open: its key and the note typed so far
};
// For the browser tests: what the board shows and when it last drew it.
window.ehgConsole = { renders: 0, lastRenderAt: 0, alertIds: [] };

const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.language][key];

function applyLanguage() {
  document.documentElement.lang = state.language;
  document.title = 'ehealth \u2013 ' + t('title');
  for (const element of document.querySelectorAll('[data-text]')) element.textContent = t(element.dataset.text);
  const toggle = $('language');
  toggle.textContent = t('other_language');
  toggle.lang = t('other_lang_code');
  if (state.session) { showWho(); route(); }
  render();
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.session && method !== 'GET') headers['X-CSRF-Token'] = state.session.csrf;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin',
    cache: 'no-store',
  });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch (error) { data = null; }
  }
  return { status: response.status, data };
}

const VIEWS = ['board', 'resident', 'fleet', 'audit'];
// The views views.js adds: name -> { permission, show(args) }.
const views = {};
window.ehgRegisterView = (name, view) => { views[name] = view; };
window.ehgShared = { TEXT, state, api, $, t: (key) => t(key), age, showSignIn: (message) => showSignIn(message) };

const allowed = (permission) => Boolean(state.session && state.session.permissions.includes(permission));

function hideViews() {
  for (const name of VIEWS) $(name + '-view').hidden = true;
}

function showSignIn(message) {
  state.session = null;
  if (state.events) { state.events.close(); state.events = null; }
  stopBeeping();
  hideViews();
  $('views-nav').hidden = true;
  $('who').hidden = true;
  $('sign-in-view').hidden = false;
  $('sign-in-error').textContent = message || '';
  $('username').focus();
}

function showWho() {
  const role = t('role')[state.session.role] || state.session.role;
  $('who-name').textContent = state.session.username + ' (' + role + ')';
}

function showApp() {
  $('sign-in-view').hidden = true;
  $('who').hidden = false;
  showWho();
  const nav = $('views-nav');
  for (const link of nav.querySelectorAll('[data-permission]')) link.hidden = !allowed(link.dataset.permission);
  nav.hidden = false;
  $('sound').hidden = audioRunning() || !allowed('view_alerts');
  if (allowed('view_alerts')) follow();
  route();
}

// #board, #resident/<tenant>/<pseudonym, encoded>[/<range>], #fleet, #audit; a view the account may not
// see falls back to the first it may.
function route() {
  if (!state.session) return;
  const [name, ...args] = location.hash.replace(/^#/, '').split('/');
  const permitted = (view) => (view === 'board' ? allowed('view_alerts') : views[view] && allowed(views[view].permission));
  let chosen = VIEWS.includes(name) && permitted(name) ? name : VIEWS.find(permitted);
  hideViews();
  for (const link of $('views-nav').querySelectorAll('a')) {
    if (link.id === 'nav-' + chosen) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  if (!chosen) return;
  $(chosen + '-view').hidden = false;
  if (chosen === 'board') loadBoard(); else views[chosen].show(chosen === name ? args : []);
}

// Live updates: the server says "alerts changed"; the board reads them again through the API.
function follow() {
  if (state.events) state.events.close();
  const events = new EventSource('/api/events');
  state.events = events;
  events.addEventListener('alerts', () => loadBoard());
  // Every (re)connection reads the board: notices sent while the stream was down are not replayed.
  events.onopen = () => loadBoard();
  events.addEventListener('signed_out', () => showSignIn());
  events.onerror = () => { $('board-status').textContent = t('live_lost'); };
}

// One read of the board at a time: changes that come while one is under way make one more read after
// it. Without this an older reply that arrives last (two reads under a burst of changes) would draw a
// board without the newest alert until the next change came.
let boardRead = null;
let boardReadAgain = false;
function loadBoard() {
  if (boardRead) {
    boardReadAgain = true;
    return boardRead;
  }
  boardRead = (async () => {
    try {
      do {
        boardReadAgain = false;
        // A read that failed (the network, a console restarting, the database away) is tried again in
        // 2 s for as long as it fails: a notice it answered must not be lost with it.
        if (!(await readBoard())) {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          if (state.session) boardReadAgain = true;
        }
      } while (boardReadAgain);
    } finally {
      boardRead = null;
    }
  })();
  return boardRead;
}

// True when the board was read (or the session is over: nothing to retry).
async function readBoard() {
  let answer;
  try {
    answer = await api('GET', '/api/alerts');
  } catch (error) {
    $('board-status').textContent = t('unavailable');
    return false;
  }
  const { status, data } = answer;
  if (status === 401) { showSignIn(); return true; }
  if (status !== 200 || !data) { $('board-status').textContent = t('unavailable'); return false; }
  state.clockOffset = data.now - Date.now();
  state.alerts = data.alerts;
  render();
  $('board-status').textContent = t('updated') + ' ' + new Date(data.now).toLocaleTimeString(state.language);
  return true;
}

function age(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return (h ? h + ' t ' : '') + (h || m ? m + ' min ' : '') + s + ' s';
}

function alertItem(alert) {
  const item = document.createElement('li');
  const severity = alert.severity;
  item.className = 'alert ' + severity + (alert.stage === 1 ? ' acknowledged' : '');
  item.dataset.alertId = alert.alert_id;
  item.dataset.tenant = alert.tenant;
  const line1 = document.createElement('div');
  line1.className = 'line1';
  const badge = document.createElement('span');
  badge.className = 'badge ' + severity;
  badge.textContent = t('severity')[severity] || severity;
  const subject = document.createElement(allowed('view_residents') ? 'a' : 'span');
  subject.className = 'subject';
  subject.textContent = alert.subject;
  if (allowed('view_residents'))
    subject.href = '#resident/' + encodeURIComponent(alert.tenant) + '/' + encodeURIComponent(alert.subject);
  const what = document.createElement('span');
  what.textContent = alert.metric + ' \u00b7 ' + alert.rule_id;
  const ageText = document.createElement('span');
  ageText.className = 'age';
  ageText.dataset.raisedAt = String(alert.raised_at);
  ageText.textContent = age(Date.now() + state.clockOffset - alert.raised_at);
  line1.append(badge, subject, what, ageText);
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = [
    alert.stage === 1 ? t('acknowledged') + (alert.acknowledged_by ? ' (' + alert.acknowledged_by + ')' : '') : t('open'),
    t('worst') + ' ' + alert.worst_value,
    t('escalation') + ' ' + alert.escalation_level,
    t('municipality') + ' ' + alert.tenant,
    t('gateway') + ' ' + alert.gateway + (alert.device ? ' / ' + alert.device : ''),
  ].join(' \u00b7 ');
  item.append(line1, meta, actions(alert));
  return item;
}

const keyOf = (alert) => alert.tenant + '/' + alert.gateway + '/' + alert.alert_id;

function progress(action) {
  if (action.refused) return t('hub_refused');
  if (action.gateway_result === 'ok') return t('confirmed');
  if (action.gateway_result) return t('gateway_refused');
  return action.sent_at ? t('sent') : t('waiting_hub');
}

function button(label, onClick, className) {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  if (className) element.className = className;
  element.addEventListener('click', onClick);
  return element;
}

async function act(alert, action, note) {
  const { status, data } = await api('POST', '/api/alerts/action',
    { tenant: alert.tenant, gateway: alert.gateway, alert_id: alert.alert_id, action, note: note || '' });
  const said = $('action-status');
  if (status === 200) said.textContent = t('done');
  else if (status === 409 && data) said.textContent = t('first')(data.by);
  else if (status === 404) said.textContent = t('not_open');
  else if (status === 401) return showSignIn();
  else said.textContent = t('unavailable');
  if (action === 'resolve' && status !== 503) state.resolving = null;
  await loadBoard();
}

function actions(alert) {
  const box = document.createElement('div');
  box.className = 'actions';
  const status = [];
  if (alert.claim) status.push(t('claimed_by') + ' ' + alert.claim.by);
  else box.append(button(t('claim'), () => act(alert, 'claim')));
  if (alert.acknowledge) status.push(t('ack_by') + ' ' + alert.acknowledge.by + ': ' + progress(alert.acknowledge));
  else if (alert.stage === 0) box.append(button(t('acknowledge'), () => act(alert, 'acknowledge')));
  if (alert.resolve) {
    status.push(t('resolve_by') + ' ' + alert.resolve.by + ': ' + progress(alert.resolve));
  } else if (state.resolving && state.resolving.key === keyOf(alert)) {
    const form = document.createElement('form');
    form.className = 'resolve';
    const id = 'note-' + keyOf(alert).replace(/[^A-Za-z0-9_-]/g, '_');
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = t('note');
    const note = document.createElement('textarea');
    note.id = id;
    note.maxLength = 1000;
    note.value = state.resolving.note;
    note.addEventListener('input', () => { state.resolving.note = note.value; });
    const confirm = button(t('confirm_resolve'), () => {});
    confirm.type = 'submit';
    form.addEventListener('submit', (event) => { event.preventDefault(); act(alert, 'resolve', note.value); });
    form.append(label, note, confirm, button(t('cancel'), () => { state.resolving = null; render(); }, 'secondary'));
    box.append(form);
  } else {
    box.append(button(t('resolve'), () => { state.resolving = { key: keyOf(alert), note: '' }; render(); }, 'secondary'));
  }
  if (status.length) {
    const line = document.createElement('p');
    line.className = 'progress';
    line.textContent = status.join(' \u00b7 ');
    box.prepend(line);
  }
  return box;
}

// Each alert's drawn item, kept while what it shows is the same. A board that rebuilt every item on each
// change (a new alert anywhere in the municipality, a colleague's claim) took a nurse's half-done click
// with it (the button under her finger replaced between press and release) and the focus and caret of
// the resolve note she was typing.
const drawn = new Map();  // keyOf(alert) -> { look, item }

// Everything an item's drawing depends on but the age (ticked in place) and the note's text (kept by the
// textarea itself, and in state.resolving for a redrawn one).
function lookOf(alert) {
  const resolving = Boolean(state.resolving && state.resolving.key === keyOf(alert));
  return JSON.stringify([alert, resolving, state.language, state.session.username, state.session.permissions]);
}

function render() {
  if (!state.session) return;
  // An item that had to be drawn again (its alert changed) gets back the focus and caret its note had.
  const focused = document.activeElement;
  const focus = focused && focused.id && focused.closest('#clinical, #technical')
    ? { id: focused.id, start: focused.selectionStart, end: focused.selectionEnd } : null;
  const technical = (alert) => alert.device !== '' || alert.metric.startsWith('gateway.');
  const shown = new Set();
  for (const [lane, wanted] of [['clinical', false], ['technical', true]]) {
    const list = $(lane);
    const alerts = state.alerts.filter((alert) => technical(alert) === wanted);
    const items = alerts.map((alert) => {
      const key = keyOf(alert);
      shown.add(key);
      const look = lookOf(alert);
      let kept = drawn.get(key);
      if (!kept || kept.look !== look) {
        kept = { look, item: alertItem(alert) };
        drawn.set(key, kept);
      }
      return kept.item;
    });
    // In order, moving only what is out of place; what is left over at the end is gone from the board.
    items.forEach((item, index) => {
      if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
    });
    while (list.children.length > items.length) list.lastElementChild.remove();
    $(lane + '-empty').hidden = alerts.length > 0;
  }
  for (const key of [...drawn.keys()]) if (!shown.has(key)) drawn.delete(key);
  if (focus && document.activeElement !== focused) {
    const again = document.getElementById(focus.id);
    if (again) {
      again.focus();
      if (typeof again.setSelectionRange === 'function' && focus.start !== null) again.setSelectionRange(focus.start, focus.end);
    }
  }
  const critical = state.alerts.filter((alert) => alert.priority === 0 && alert.stage === 0).length;
  const banner = $('critical-banner');
  banner.hidden = critical === 0;
  banner.textContent = critical ? t('critical_banner')(critical) + (audioRunning() ? '' : ' \u2013 ' + t('sound_off')) : '';
  if (critical) startBeeping(); else stopBeeping();
  $('sound').hidden = audioRunning() || !allowed('view_alerts');
  window.ehgConsole.renders += 1;
  window.ehgConsole.lastRenderAt = performance.now();
  window.ehgConsole.alertIds = state.alerts.map((alert) => alert.alert_id);
}

// The critical signal: a tone every two seconds while a critical alert is not acknowledged. There is no
// way to mute it; it stops when no critical alert is open. Browsers start sound only after a user's
// action, so the sign-in click (or the "turn sound on" button after a reload) starts it.
function audioRunning() { return state.audio !== null && state.audio.state === 'running'; }

function enableAudio() {
  if (!state.audio) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    state.audio = new Context();
  }
  state.audio.resume().then(render, () => {});
}

function beep() {
  if (!audioRunning()) return;
  const oscillator = state.audio.createOscillator();
  const gain = state.audio.createGain();
  oscillator.frequency.value = 880;
  gain.gain.value = 0.2;
  oscillator.connect(gain).connect(state.audio.destination);
  oscillator.start();
  oscillator.stop(state.audio.currentTime + 0.4);
}

function startBeeping() {
  if (state.beepTimer) return;
  beep();
  state.beepTimer = setInterval(beep, 2000);
}

function stopBeeping() {
  if (state.beepTimer) { clearInterval(state.beepTimer); state.beepTimer = null; }
}

async function signIn(event) {
  event.preventDefault();
  enableAudio();
  const { status, data } = await api('POST', '/api/session', { username: $('username').value, password: $('password').value });
  $('password').value = '';
  if (status === 200 && data) { state.session = data; showApp(); return; }
  $('sign-in-error').textContent = status === 401 ? t('refused') : status === 429 ? t('locked') : t('unavailable');
}

async function signOut() {
  await api('DELETE', '/api/session');
  showSignIn();
}

async function start() {
  applyLanguage();
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', signOut);
  $('sound').addEventListener('click', enableAudio);
  $('language').addEventListener('click', () => {
    state.language = state.language === 'nb' ? 'en' : 'nb';
    localStorage.setItem('ehg-language', state.language);
    applyLanguage();
  });
  setInterval(() => {
    for (const element of document.querySelectorAll('.age'))
      element.textContent = age(Date.now() + state.clockOffset - Number(element.dataset.raisedAt));
  }, 1000);
  const { status, data } = await api('GET', '/api/session');
  window.addEventListener('hashchange', route);
  if (status === 200 && data) { state.session = data; showApp(); } else showSignIn();
}

document.addEventListener('DOMContentLoaded', start);
