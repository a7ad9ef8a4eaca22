// The console's other views: a resident's charts, alerts, devices and rules (care staff), the fleet of
// gateways (municipal IT) and the audit log (administrators). console.js signs in, routes and shares its
// helpers; Chart.js (Debian's libjs-chart.js) draws the charts.
'use strict';

(() => {
  const { TEXT, state, api, $, t, showSignIn } = window.ehgShared;

  Object.assign(TEXT.nb, {
    nav_board: 'Varsler', nav_fleet: 'Gatewayer', nav_audit: 'Tilgangslogg', range: 'Periode',
    range_24h: '24 timer', range_7d: '7 dager', range_90d: '90 dager', resident: 'Beboer',
    news2_history: 'NEWS2', alert_timeline: 'Varsler i perioden', devices: 'Utstyr', rules_in_force: 'Regler i bruk',
    no_news2: 'Ingen NEWS2-poeng rapportert i perioden (gatewayen sender poeng når risikoen når regelens terskel).',
    no_alerts: 'Ingen varsler i perioden.', no_devices: 'Ingen enheter kjent.', no_rules: 'Gatewayen har ikke rapportert reglene sine ennå.',
    unknown_resident: 'Ingenting er lagret om denne beboeren her.', loading: 'Henter …',
    device: 'Enhet', link: 'Tilkobling', battery: 'Batteri', last_reading: 'Siste måling', connected: 'tilkoblet',
    disconnected: 'frakoblet', unknown: 'ukjent', rule: 'Regel', kind: 'Type', metric: 'Måling', limits: 'Grenser',
    severity_col: 'Alvorlighet', reported: 'Rapportert', lowest: 'laveste', highest: 'høyeste', mean: 'snitt',
    readings: 'målinger', evidence: 'Grunnlag', changes: { raised: 'utløst', updated: 'oppdatert', escalated: 'eskalert',
      acknowledged: 'kvittert', resolved: 'løst', delivered: 'mottatt' },
    attention_only: 'Bare de som trenger tilsyn', state_col: 'Tilstand', heartbeat: 'Siste livstegn', version: 'Versjon',
    backlog: 'Kø', clock: 'Klokke', update: 'Siste oppdatering', attention: 'Trenger tilsyn', online: 'tilkoblet',
    offline: 'frakoblet', synced: 'synkronisert', unsynced: 'ikke synkronisert', gateways_shown: (n, total) => n + ' av ' + total + ' gatewayer',
    reasons: { never_heard: 'aldri hørt fra', offline: 'frakoblet', silent: 'taus', clock_unsynchronised: 'klokke ikke synkronisert',
      alerts_waiting: 'varsler uten kvittering', update_failed: 'oppdatering feilet' },
    request_update: 'Oppdater …', confirm_update: 'Bekreft oppdatering', action_col: 'Handling',
    update_target: (gateway, tenant) => 'Be ' + gateway + ' (kommune ' + tenant + ') installere versjonen:',
    update_sent: 'Oppdateringen er bedt om; huben sender den.', update_refused: 'Ikke sendt: ',
    change_rules: 'Regler \u2026', rules_col: 'Regelendring', rules_text: 'Reglene som JSON-liste, som i gatewayens konfigurasjonsfil',
    send_rules: 'Send reglene \u2026', confirm_rules: 'Bekreft regelendring',
    rules_target: (gateway, tenant) => 'Nye varslingsregler for ' + gateway + ' (kommune ' + tenant + '):',
    rules_confirm: (gateway, n) => 'Erstatte alle varslingsreglene til ' + gateway + ' med ' + (n === null ? 'denne listen' : n === 1 ? 'én regel' : n + ' regler') + '? Gatewayen sjekker dem som sin egen konfigurasjon og svarer.',
    rules_sent: 'Regelendringen er bedt om; huben sender den, og gatewayen svarer.',
    enrol_heading: 'Registrer en ny gateway', enrol_tenant: 'Kommunenummer', enrol_gateway: 'Gatewayens id', public_key: 'Gatewayens offentlige nøkkel (JWK eller PEM)',
    certificate_sha256: 'Klientsertifikatets SHA-256 (valgfritt)', enrol: 'Registrer \u2026', confirm_enrol: 'Bekreft registrering',
    enrol_target: (gateway, tenant) => 'Registrere ' + gateway + ' i kommune ' + tenant + '? Huben godtar fra nå av meldinger signert med denne nøkkelen.',
    enrol_done: (gateway, key) => gateway + ' er registrert med nøkkel ' + key + '. Motoren må også slippe inn sertifikatet (se driftsveiledningen).',
    enrol_already: (gateway, key) => gateway + ' var allerede registrert med nøkkel ' + key + '.', enrol_refused: 'Ikke registrert: ',
    private_key: 'Dette er en privat nøkkel, og den er ikke sendt. Lim inn gatewayens offentlige nøkkel; den private forlater aldri gatewayen.',
    request_states: { requested: 'venter på sending', sent: 'sendt', ok: 'bekreftet', rejected: 'avvist av gatewayen',
      refused: 'ikke sendt' },
    actor: 'Hvem', subject: 'Beboer (pseudonym)', action: 'Handling', search: 'Søk', older: 'Eldre', when: 'Når',
    what: 'Hva', detail: 'Detaljer', audit_rows: (n) => n + ' rader', chart_label: (metric, n, unit) => metric + ': ' + n + ' punkter i ' + unit,
  });
  Object.assign(TEXT.en, {
    nav_board: 'Alerts', nav_fleet: 'Gateways', nav_audit: 'Access log', range: 'Range',
    range_24h: '24 hours', range_7d: '7 days', range_90d: '90 days', resident: 'Resident',
    news2_history: 'NEWS2', alert_timeline: 'Alerts in the range', devices: 'Devices', rules_in_force: 'Rules in force',
    no_news2: 'No NEWS2 score reported in the range (the gateway sends a score once the risk reaches the rule\u2019s threshold).',
    no_alerts: 'No alerts in the range.', no_devices: 'No devices known.', no_rules: 'The gateway has not reported its rules yet.',
    unknown_resident: 'Nothing is stored for this resident here.', loading: 'Loading \u2026',
    device: 'Device', link: 'Link', battery: 'Battery', last_reading: 'Last reading', connected: 'connected',
    disconnected: 'disconnected', unknown: 'unknown', rule: 'Rule', kind: 'Kind', metric: 'Metric', limits: 'Limits',
    severity_col: 'Severity', reported: 'Reported', lowest: 'lowest', highest: 'highest', mean: 'mean',
    readings: 'readings', evidence: 'Evidence', changes: { raised: 'raised', updated: 'updated', escalated: 'escalated',
      acknowledged: 'acknowledged', resolved: 'resolved', delivered: 'received' },
    attention_only: 'Only those needing attention', state_col: 'State', heartbeat: 'Last heartbeat', version: 'Version',
    backlog: 'Backlog', clock: 'Clock', update: 'Last update', attention: 'Needs attention', online: 'online',
    offline: 'offline', synced: 'synchronised', unsynced: 'not synchronised', gateways_shown: (n, total) => n + ' of ' + total + ' gateways',
    reasons: { never_heard: 'never heard from', offline: 'offline', silent: 'silent', clock_unsynchronised: 'clock not synchronised',
      alerts_waiting: 'alerts without receipt', update_failed: 'update failed' },
    request_update: 'Update \u2026', confirm_update: 'Confirm the update', action_col: 'Action',
    update_target: (gateway, tenant) => 'Ask ' + gateway + ' (municipality ' + tenant + ') to install version:',
    update_sent: 'The update is requested; the hub sends it.', update_refused: 'Not sent: ',
    change_rules: 'Rules \u2026', rules_col: 'Rules change', rules_text: 'The rules as a JSON list, as in the gateway\'s config file',
    send_rules: 'Send the rules \u2026', confirm_rules: 'Confirm the rules change',
    rules_target: (gateway, tenant) => 'New alert rules for ' + gateway + ' (municipality ' + tenant + '):',
    rules_confirm: (gateway, n) => 'Replace all alert rules of ' + gateway + ' with ' + (n === null ? 'this list' : n === 1 ? 'one rule' : n + ' rules') + '? The gateway checks them as its own config and answers.',
    rules_sent: 'The rules change is requested; the hub sends it and the gateway answers.',
    enrol_heading: 'Enrol a new gateway', enrol_tenant: 'Municipality number', enrol_gateway: 'The gateway\'s id', public_key: 'The gateway\'s public key (JWK or PEM)',
    certificate_sha256: 'SHA-256 of its client certificate (optional)', enrol: 'Enrol \u2026', confirm_enrol: 'Confirm the enrolment',
    enrol_target: (gateway, tenant) => 'Enrol ' + gateway + ' in municipality ' + tenant + '? The hub accepts messages signed with this key from now on.',
    enrol_done: (gateway, key) => gateway + ' is enrolled with key ' + key + '. The engine must also let its certificate in (see the operations guide).',
    enrol_already: (gateway, key) => gateway + ' was already enrolled with key ' + key + '.', enrol_refused: 'Not enrolled: ',
    private_key: 'This is a private key, and it was not sent. Paste the gateway\'s public key; the private one never leaves the gateway.',
    request_states: { requested: 'waiting to be sent', sent: 'sent', ok: 'confirmed', rejected: 'refused by the gateway',
      refused: 'not sent' },
    actor: 'Who', subject: 'Resident (pseudonym)', action: 'Action', search: 'Search', older: 'Older', when: 'When',
    what: 'What', detail: 'Detail', audit_rows: (n) => n + ' rows', chart_label: (metric, n, unit) => metric + ': ' + n + ' points in ' + unit,
  });

  const time = (ms) => (ms === null || ms === undefined ? '\u2013' : new Date(ms).toLocaleString(state.language));
  const element = (tag, text, className) => {
    const made = document.createElement(tag);
    if (text !== undefined && text !== null) made.textContent = String(text);
    if (className) made.className = className;
    return made;
  };
  // A table with a header row; cells are text only (never HTML: every value may come from a device).
  const table = (headers, rows) => {
    const made = element('table');
    const head = made.createTHead().insertRow();
    for (const header of headers) { const cell = element('th', header); cell.scope = 'col'; head.append(cell); }
    const body = made.createTBody();
    for (const row of rows) {
      const line = body.insertRow();
      for (const value of row) {
        const cell = line.insertCell();
        if (value instanceof Node) cell.append(value);
        else cell.textContent = value === null || value === undefined ? '\u2013' : String(value);
      }
    }
    return made;
  };

  // ---- The resident view.
  const charts = [];
  const HOUR = 3600 * 1000;
  const TICK_STEP = { '24h': 4 * HOUR, '7d': 24 * HOUR, '90d': 15 * 24 * HOUR };
  const LIMIT_KEYS = ['above', 'below', 'rise', 'fall', 'above_by', 'below_by', 'battery_below'];

  function limitsOf(rule) {
    const parts = LIMIT_KEYS.filter((key) => rule[key] !== undefined).map((key) => key + ' ' + rule[key]);
    if (rule.daily_by) parts.push(rule.daily_from + '\u2013' + rule.daily_by);
    if (rule.within_seconds) parts.push('within ' + Math.round(rule.within_seconds / 3600) + ' h');
    if (rule.min_risk) parts.push('min ' + rule.min_risk);
    return parts.join(', ');
  }

  function drawChart(series, view) {
    const figure = element('figure', undefined, 'chart');
    const caption = element('figcaption', series.metric + ' (' + series.unit + ')');
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    const last = series.points[series.points.length - 1];
    canvas.setAttribute('aria-label', t('chart_label')(series.metric, series.points.length, series.unit) +
      (last ? ', ' + t('mean') + ' ' + last[2].toFixed(1) + ' ' + time(last[0]) : ''));
    figure.append(caption, canvas);
    $('charts').append(figure);
    const datasets = [
      { label: t('lowest'), data: series.points.map((p) => ({ x: p[0], y: p[1] })), borderWidth: 0, pointRadius: 0, fill: false },
      { label: t('highest'), data: series.points.map((p) => ({ x: p[0], y: p[3] })), borderWidth: 0, pointRadius: 0,
        fill: '-1', backgroundColor: 'rgba(11, 83, 148, 0.15)' },
      { label: t('mean'), data: series.points.map((p) => ({ x: p[0], y: p[2] })), borderColor: '#0b5394',
        backgroundColor: '#0b5394', pointRadius: series.points.length > 60 ? 0 : 3, borderWidth: 2 },
    ];
    // The limits of the rules in force on this metric, as dashed lines across the range.
    for (const rule of view.rules.filter((r) => r.metric === series.metric && r.kind === 'threshold')) {
      for (const key of ['above', 'below']) {
        if (rule[key] === undefined) continue;
        datasets.push({ label: rule.id + ' ' + key + ' ' + rule[key], data: [{ x: view.from, y: rule[key] }, { x: view.to, y: rule[key] }],
          borderColor: rule.severity === 'critical' ? '#b00020' : '#8a4b00', borderDash: [6, 4], pointRadius: 0, borderWidth: 2, fill: false });
      }
    }
    const chart = new window.Chart(canvas, {
      type: 'line',
      data: { datasets },
      options: {
        animation: false, parsing: false, normalized: true, maintainAspectRatio: false, responsive: true,
        interaction: { mode: 'nearest', intersect: false },
        // Ticks on whole hours and days (UTC multiples of the step, shown in local time).
        scales: { x: { type: 'linear', min: view.from, max: view.to, ticks: { stepSize: TICK_STEP[view.range], callback: (value) =>
          new Date(value).toLocaleString(state.language, view.range === '24h' ? { hour: '2-digit', minute: '2-digit' } : { day: 'numeric', month: 'short' }) } } },
        plugins: { legend: { labels: { filter: (item) => item.text !== t('lowest') && item.text !== t('highest') } },
          tooltip: { callbacks: { title: (items) => time(items[0].parsed.x) } } },
      },
    });
    charts.push(chart);
  }

  function drawTimeline(view) {
    const list = $('timeline');
    list.replaceChildren();
    if (!view.alerts.length) { list.append(element('li', t('no_alerts'), 'empty')); return; }
    for (const alert of view.alerts) {
      const item = element('li', undefined, 'alert ' + alert.severity);
      const line = element('div', undefined, 'line1');
      line.append(element('span', t('severity')[alert.severity] || alert.severity, 'badge ' + alert.severity),
        element('span', alert.metric + ' \u00b7 ' + alert.rule_id), element('span', time(alert.raised_at)));
      const steps = (alert.events || []).map((e) => (t('changes')[e.change] || e.change) + ' ' + time(e.at)).join(' \u2192 ');
      item.append(line, element('div', steps, 'meta'));
      const evidence = (alert.evidence || []).map((e) => e.metric + ' ' + e.value + ' ' + e.unit + ' (' + e.device + ', ' + time(Date.parse(e.time)) + ')');
      if (evidence.length) item.append(element('div', t('evidence') + ': ' + evidence.join('; '), 'meta'));
      list.append(item);
    }
  }

  // Each read of the view has a number: a reply that comes back after the nurse moved on (another
  // resident, another range) is dropped, never drawn under the new heading.
  let residentRead = 0;
  async function showResident(args) {
    const [tenant, encoded, range] = args;
    const read = ++residentRead;
    for (const chart of charts.splice(0)) chart.destroy();
    $('charts').replaceChildren();
    let subject = null;
    try { subject = encoded ? decodeURIComponent(encoded) : null; } catch (error) { subject = null; }
    if (!tenant || !subject) { $('resident-heading').textContent = t('resident'); return; }
    const chosen = ['24h', '7d', '90d'].includes(range) ? range : '24h';
    $('resident-heading').textContent = t('resident') + ' ' + subject + ' (' + t('municipality') + ' ' + tenant + ')';
    for (const button of document.querySelectorAll('[data-range]')) {
      button.setAttribute('aria-pressed', String(button.dataset.range === chosen));
      button.onclick = () => { location.hash = '#resident/' + encodeURIComponent(tenant) + '/' + encodeURIComponent(subject) + '/' + button.dataset.range; };
    }
    $('resident-status').textContent = t('loading');
    const { status, data } = await api('GET', '/api/resident?tenant=' + encodeURIComponent(tenant) + '&subject=' +
      encodeURIComponent(subject) + '&range=' + chosen);
    if (read !== residentRead) return;
    if (status === 401) return showSignIn();
    if (status === 404) { $('resident-status').textContent = t('unknown_resident'); return; }
    if (status !== 200 || !data) { $('resident-status').textContent = t('unavailable'); return; }
    $('resident-status').textContent = t('updated') + ' ' + time(data.now);
    // What a gateway reported is its own: anything but a list of objects is shown as no rules.
    data.rules = Array.isArray(data.rules) ? data.rules.filter((r) => r && typeof r === 'object') : [];
    for (const series of data.series) drawChart(series, data);
    $('news2').replaceChildren(data.news2.length
      ? table([t('when'), 'NEWS2', t('severity_col')], data.news2.map((p) => [time(p[0]), p[1], p[2]]))
      : element('p', t('no_news2'), 'empty'));
    drawTimeline(data);
    $('devices').replaceChildren(data.devices.length
      ? table([t('device'), t('gateway'), t('link'), t('battery'), t('last_reading')], data.devices.map((d) => [
        d.device, d.gateway, d.connected === null ? t('unknown') : d.connected ? t('connected') : t('disconnected') + (d.detail ? ': ' + d.detail : ''),
        d.battery === null ? null : d.battery + ' %', time(d.last_reading_at)]))
      : element('p', t('no_devices'), 'empty'));
    $('rules-reported').textContent = data.rules_reported_at ? t('reported') + ' ' + time(data.rules_reported_at) : '';
    $('rules').replaceChildren(data.rules.length
      ? table([t('rule'), t('kind'), t('metric'), t('limits'), t('severity_col')], data.rules.map((r) => [
        r.id, r.kind, r.metric || (r.metrics || []).join(', '), limitsOf(r), t('severity')[r.severity] || r.severity]))
      : element('p', t('no_rules'), 'empty'));
    window.ehgConsole.residentRenderedAt = performance.now();
  }

  // ---- The fleet view.
  let fleet = [];
  let updating = null;  // the gateway whose update form is open
  const canCommand = () => state.session && state.session.permissions.includes('command_gateways');
  function updateText(g) {
    const parts = [];
    if (g.last_update) parts.push(g.last_update.replace(/^update\./, '') + ' ' + time(g.last_update_at));
    if (g.update_request) parts.push('\u2192 ' + g.update_request.version + ': ' + (t('request_states')[g.update_request.state] || g.update_request.state));
    return parts.join(' ') || '\u2013';
  }
  function updateButton(g) {
    const button = element('button', t('request_update'), 'secondary');
    button.type = 'button';
    button.dataset.gateway = g.gateway;
    button.addEventListener('click', () => {
      updating = g;
      $('fleet-update-target').textContent = t('update_target')(g.gateway, g.tenant);
      $('fleet-update').hidden = false;
      $('fleet-update-version').focus();
    });
    return button;
  }
  // A confirmed request is sent once: its button stays disabled until the answer (a double tap on a
  // tablet would otherwise send two).
  async function sending(button, request) {
    button.disabled = true;
    try { return await request(); } finally { button.disabled = false; }
  }

  // ---- A rules change (municipal IT): the list, then a confirmation step naming the gateway.
  let changingRules = null;  // the gateway whose rules form is open
  let rulesConfirmed = null;  // the text the confirmation was shown for
  function rulesText(g) {
    const r = g.rules_request;
    if (!r) return '\u2013';
    return (t('request_states')[r.state] || r.state) + (r.detail && r.state !== 'ok' ? ': ' + r.detail : '');
  }
  function closeRules() {
    changingRules = null;
    rulesConfirmed = null;
    $('fleet-rules').hidden = true;
    $('fleet-rules-confirm').hidden = true;
    $('fleet-rules-submit').textContent = t('send_rules');
  }
  function rulesButton(g) {
    const button = element('button', t('change_rules'), 'secondary');
    button.type = 'button';
    button.dataset.rulesGateway = g.gateway;
    button.addEventListener('click', () => {
      closeRules();
      $('fleet-rules-text').value = '';  // never another gateway's list left in the form
      changingRules = g;
      $('fleet-rules-target').textContent = t('rules_target')(g.gateway, g.tenant);
      $('fleet-rules').hidden = false;
      $('fleet-rules-text').focus();
    });
    return button;
  }
  async function requestRules(event) {
    event.preventDefault();
    if (!changingRules) return;
    const text = $('fleet-rules-text').value.trim();
    if (rulesConfirmed !== text) {
      let count = null;
      try { const parsed = JSON.parse(text); if (Array.isArray(parsed)) count = parsed.length; } catch (error) { count = null; }
      rulesConfirmed = text;
      $('fleet-rules-confirm').textContent = t('rules_confirm')(changingRules.gateway, count);
      $('fleet-rules-confirm').hidden = false;
      $('fleet-rules-submit').textContent = t('confirm_rules');
      return;
    }
    const { status, data } = await sending($('fleet-rules-submit'),
      () => api('POST', '/api/fleet/rules', { tenant: changingRules.tenant, gateway: changingRules.gateway, rules: text }));
    if (status === 401) return showSignIn();
    $('fleet-rules-status').textContent = status === 200 ? t('rules_sent') : t('update_refused') + ((data && data.message) || status);
    if (status === 200) { closeRules(); $('fleet-rules-text').value = ''; } else { rulesConfirmed = null; $('fleet-rules-confirm').hidden = true; $('fleet-rules-submit').textContent = t('send_rules'); }
    await showFleet();
  }

  function actionsOf(g) {
    const box = element('div', '', 'row-actions');
    box.append(updateButton(g), rulesButton(g));
    return box;
  }

  function drawFleet() {
    const only = $('attention-only').checked;
    const shown = only ? fleet.filter((g) => g.attention.length) : fleet;
    const command = canCommand();
    $('fleet-status').textContent = t('gateways_shown')(shown.length, fleet.length);
    const headers = [t('municipality'), t('gateway'), t('state_col'), t('heartbeat'), t('version'), t('backlog'), t('clock'), t('update'), t('rules_col'), t('attention')];
    if (command) headers.push(t('action_col'));
    $('fleet').replaceChildren(table(headers,
      shown.map((g) => [g.tenant, g.gateway, g.status === 'revoked' ? g.status : (t(g.state) || t('unknown')),
        time(g.last_heartbeat), g.version, g.backlog_events + ' / ' + g.alerts_awaiting_receipt,
        g.clock_synchronised === undefined ? t('unknown') : g.clock_synchronised ? t('synced') : t('unsynced'),
        updateText(g), rulesText(g), g.attention.map((r) => t('reasons')[r] || r).join(', ')]
        .concat(command ? [g.status === 'enrolled' ? actionsOf(g) : ''] : []))));
    window.ehgConsole.fleetRenderedAt = performance.now();
  }
  async function requestUpdate(event) {
    event.preventDefault();
    if (!updating) return;
    const { status, data } = await sending(document.querySelector('#fleet-update button[type=submit]'),
      () => api('POST', '/api/fleet/update', { tenant: updating.tenant, gateway: updating.gateway, version: $('fleet-update-version').value.trim() }));
    if (status === 401) return showSignIn();
    $('fleet-update-status').textContent = status === 200 ? t('update_sent') : t('update_refused') + ((data && data.message) || status);
    if (status === 200) { updating = null; $('fleet-update').hidden = true; $('fleet-update-version').value = ''; }
    await showFleet();
  }
  // ---- Enrolling a new gateway (municipal IT): the form, then a confirmation step naming it.
  let enrolling = null;  // the values the confirmation was shown for
  const canEnrol = () => state.session && state.session.permissions.includes('enrol_gateways');
  function resetEnrol() {
    enrolling = null;
    $('enrol-confirm').hidden = true;
    $('enrol-cancel').hidden = true;
    $('enrol-submit').textContent = t('enrol');
  }
  // A private key is never sent anywhere: the page stops it before the request (the console refuses it
  // too, and keeps nothing of it).
  const looksPrivate = (text) => /PRIVATE KEY|"d"\s*:/.test(text);
  async function enrol(event) {
    event.preventDefault();
    const values = { tenant: $('enrol-tenant').value.trim(), gateway: $('enrol-gateway').value.trim(),
      public_key: $('enrol-key').value.trim(), certificate_sha256: $('enrol-certificate').value.trim() };
    if (looksPrivate(values.public_key)) {
      $('enrol-key').value = '';
      resetEnrol();
      $('enrol-status').textContent = t('private_key');
      return;
    }
    if (!enrolling || JSON.stringify(enrolling) !== JSON.stringify(values)) {
      enrolling = values;
      $('enrol-confirm').textContent = t('enrol_target')(values.gateway, values.tenant);
      $('enrol-confirm').hidden = false;
      $('enrol-cancel').hidden = false;
      $('enrol-submit').textContent = t('confirm_enrol');
      $('enrol-status').textContent = '';
      return;
    }
    const { status, data } = await sending($('enrol-submit'), () => api('POST', '/api/fleet/enrol', values));
    if (status === 401) return showSignIn();
    resetEnrol();
    if (status === 200 && data) {
      $('enrol-status').textContent = t(data.already ? 'enrol_already' : 'enrol_done')(values.gateway, data.key_id);
      for (const id of ['enrol-gateway', 'enrol-key', 'enrol-certificate']) $(id).value = '';
      await showFleet();
    } else {
      $('enrol-status').textContent = t('enrol_refused') + ((data && data.message) || status);
    }
  }

  async function showFleet() {
    const enrolForm = $('fleet-enrol');
    enrolForm.hidden = !canEnrol();
    const own = state.session ? state.session.tenants.filter((tenant) => tenant !== '*') : [];
    if (!enrolForm.hidden && !$('enrol-tenant').value && own.length === 1) $('enrol-tenant').value = own[0];
    const { status, data } = await api('GET', '/api/fleet');
    if (status === 401) return showSignIn();
    if (status !== 200 || !data) { $('fleet-status').textContent = t('unavailable'); return; }
    fleet = data.gateways;
    drawFleet();
  }

  // ---- The audit view.
  let auditRows = [];
  async function loadAudit(older) {
    const query = new URLSearchParams();
    for (const [name, id] of [['actor', 'audit-actor'], ['subject', 'audit-subject'], ['action', 'audit-action']])
      if ($(id).value.trim()) query.set(name, $(id).value.trim());
    if (older && auditRows.length) query.set('before', String(auditRows[auditRows.length - 1].id));
    const { status, data } = await api('GET', '/api/audit?' + query.toString().replace(/\+/g, '%20'));
    if (status === 401) return showSignIn();
    if (status !== 200 || !data) { $('audit-status').textContent = t('unavailable'); return; }
    auditRows = older ? auditRows.concat(data.rows) : data.rows;
    $('audit-status').textContent = t('audit_rows')(auditRows.length);
    $('audit').replaceChildren(table([t('when'), t('actor'), t('what'), t('municipality'), t('subject'), t('detail')],
      auditRows.map((r) => [time(r.at), r.actor, r.action, r.tenant, r.subject, r.detail])));
    $('audit-more').hidden = data.rows.length < 200;
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('attention-only').addEventListener('change', drawFleet);
    $('fleet-update').addEventListener('submit', requestUpdate);
    $('fleet-update-cancel').addEventListener('click', () => { updating = null; $('fleet-update').hidden = true; });
    $('fleet-enrol').addEventListener('submit', enrol);
    $('fleet-rules').addEventListener('submit', requestRules);
    $('fleet-rules-cancel').addEventListener('click', closeRules);
    $('enrol-cancel').addEventListener('click', resetEnrol);
    $('audit-filter').addEventListener('submit', (event) => { event.preventDefault(); loadAudit(false); });
    $('audit-more').addEventListener('click', () => loadAudit(true));
  });

  window.ehgRegisterView('resident', { permission: 'view_residents', show: showResident });
  window.ehgRegisterView('fleet', { permission: 'view_fleet', show: showFleet });
  window.ehgRegisterView('audit', { permission: 'view_audit', show: () => loadAudit(false) });
})();
