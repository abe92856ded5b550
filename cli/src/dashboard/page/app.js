// The micro dashboard: reads the JSON API beside this page and renders it with DOM calls
// (textContent only, never HTML from data). Services refresh when api/events says the
// registry changed (and, slower, on a timer, for health); metrics poll. Every URL is relative
// to the page, so it works at / and nested under a prefix.
'use strict';

const SERVICES_EVERY_MS = 5000;
const SERVICES_EVERY_MS_WHEN_LIVE = 10000;
const METRICS_EVERY_MS = 2000;
const EVENT_DEBOUNCE_MS = 150;

// Served at /prefix (no trailing slash), relative URLs would resolve beside it: keep the
// last path segment so they resolve under it.
const base = location.pathname.endsWith('/') ? '' : location.pathname.split('/').pop() + '/';

const state = {
  services: new Map(), metrics: new Map(),
  // False while the login form shows: the timers then skip their work.
  authorized: false, started: false, live: false, events: null, stream: null,
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch(base + path, options);
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch (_) { body = text; }
  if (response.status === 401 && path !== 'api/login') showLogin(body.detail || 'Log in again.');
  return { ok: response.ok, status: response.status, statusText: response.statusText, body };
}

function postJson(path, value, signal) {
  return { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value), signal };
}

function problem(message) {
  const box = document.getElementById('problem');
  box.hidden = !message;
  box.textContent = message || '';
}

// Refreshes the services; a refresh asked for while one runs runs once more after it.
let refreshing = null;
let refreshAgain = false;
async function refreshServices() {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    do { refreshAgain = false; await loadServices(); } while (refreshAgain);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

async function loadServices() {
  if (!state.authorized) return;
  const listing = await api('api/services');
  if (listing.status === 401) return;
  if (!listing.ok) {
    problem('Cannot list services: ' + (listing.body.detail || listing.body));
    return;
  }
  problem('');
  document.getElementById('registry').textContent = listing.body.registry;
  const names = listing.body.services.map((s) => s.name);
  const details = await Promise.all(names.map((name) => api('api/services/' + encodeURIComponent(name))));
  state.services = new Map();
  details.forEach((answer, i) => { if (answer.ok) state.services.set(names[i], answer.body); });
  renderServices();
  renderServiceChoices();
  stamp();
}

async function refreshMetrics() {
  if (!state.authorized) return;
  const names = [...state.services.keys()];
  const answers = await Promise.all(names.map((name) => api('api/metrics/' + encodeURIComponent(name))));
  answers.forEach((answer, i) => { if (answer.ok) state.metrics.set(names[i], answer.body); });
  for (const name of names) renderMetrics(name);
  stamp();
}

function stamp() {
  document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

// Runs `task` now and then every `ms()` milliseconds, never two at once.
function every(ms, task) {
  const run = async () => {
    try { await task(); } catch (err) { problem('The dashboard cannot be reached: ' + err.message); }
    setTimeout(run, ms());
  };
  run();
}

// Live updates: api/events says when the registry changes; the list is refreshed then.
function listen() {
  if (state.events) state.events.close();
  const events = new EventSource(base + 'api/events');
  state.events = events;
  let timer = null;
  events.addEventListener('ready', () => setLive(true));
  events.addEventListener('services', () => {
    clearTimeout(timer);
    timer = setTimeout(() => refreshServices().catch(() => {}), EVENT_DEBOUNCE_MS);
  });
  events.addEventListener('problem', (event) => {
    setLive(false, JSON.parse(event.data).detail);
  });
  // The browser reconnects by itself; until then the timer keeps the list fresh.
  events.onerror = () => setLive(false, 'the event stream dropped; reconnecting');
}

function setLive(live, why) {
  state.live = live;
  const badge = document.getElementById('live');
  badge.className = 'live' + (live ? ' on' : '');
  badge.textContent = live ? 'live' : 'polling';
  badge.title = live ? 'the list follows the registry as it changes' : (why || '');
}

// Login.

function showLogin(message) {
  state.authorized = false;
  if (state.events) { state.events.close(); state.events = null; }
  if (state.stream) state.stream.abort();
  document.getElementById('app').hidden = true;
  document.getElementById('who').hidden = true;
  document.getElementById('login').hidden = false;
  const error = document.getElementById('login-error');
  error.hidden = !message;
  error.textContent = message || '';
}

function showApp(account) {
  state.authorized = true;
  document.getElementById('login').hidden = true;
  document.getElementById('app').hidden = false;
  const who = document.getElementById('who');
  who.hidden = !account;
  if (account) {
    document.getElementById('who-name').replaceChildren('logged in as ', el('strong', {}, account.id));
  }
  listen();
  if (!state.started) {
    state.started = true;
    every(() => state.live ? SERVICES_EVERY_MS_WHEN_LIVE : SERVICES_EVERY_MS,
      async () => { await refreshServices(); await refreshMetrics(); });
    every(() => METRICS_EVERY_MS, refreshMetrics);
  } else {
    refreshServices().then(refreshMetrics).catch(() => {});
  }
}

async function submitLogin(event) {
  event.preventDefault();
  const button = document.getElementById('login-submit');
  const credentials = {
    id: document.getElementById('login-id').value.trim(),
    secret: document.getElementById('login-secret').value.trim(),
    token: document.getElementById('login-token').value.trim(),
  };
  button.disabled = true;
  try {
    const answer = await api('api/login', postJson('api/login', credentials));
    if (answer.ok) {
      document.getElementById('login-secret').value = '';
      document.getElementById('login-token').value = '';
      showApp(answer.body.account);
    } else {
      showLogin('Not logged in: ' + (answer.body.detail || answer.body));
    }
  } catch (err) {
    showLogin('The dashboard cannot be reached: ' + err.message);
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  await api('api/logout', { method: 'POST' });
  showLogin('Logged out.');
}

async function boot() {
  const session = await api('api/session');
  if (!session.ok) { problem('The dashboard cannot be reached: ' + session.status); return; }
  if (session.body.auth === 'jwt' && !session.body.account) {
    showLogin('');
    return;
  }
  showApp(session.body.account);
}

function renderServices() {
  const root = document.getElementById('services');
  const count = state.services.size;
  document.getElementById('service-count').textContent = count + (count === 1 ? ' service' : ' services');
  if (count === 0) {
    root.replaceChildren(el('p', { class: 'empty' }, 'No services are registered.'));
    return;
  }
  root.replaceChildren(...[...state.services.values()].map(serviceCard));
  for (const name of state.services.keys()) renderMetrics(name);
}

function serviceCard(service) {
  const versions = [...new Set(service.nodes.map((n) => n.version))].filter(Boolean);
  return el('article', { class: 'card service', 'data-service': service.name },
    el('div', { class: 'service-head' },
      el('h2', {}, service.name),
      ...versions.map((v) => el('span', { class: 'chip' }, v)),
      el('span', { class: 'muted' }, plural(service.nodes.length, 'node'))),
    el('h3', {}, 'Nodes'),
    nodesTable(service),
    el('h3', {}, 'Endpoints'),
    endpointsTable(service));
}

function nodesTable(service) {
  const rows = service.nodes.map((node) => el('tr', { class: 'node', 'data-node-id': node.id },
    el('td', { class: 'mono' }, node.id),
    el('td', { class: 'mono nowrap' }, node.address),
    el('td', {}, metadataChips(node.metadata)),
    el('td', { class: 'health' }, healthBadge(node))));
  return table(['Id', 'Address', 'Metadata', 'Health'], rows);
}

function healthBadge(node) {
  const tone = { SERVING: 'good', NOT_SERVING: 'bad', UNREACHABLE: 'bad' }[node.health] || 'neutral';
  return el('span', { class: 'badge ' + tone, title: node.error || '' }, node.health);
}

function metadataChips(metadata) {
  const entries = Object.entries(metadata || {});
  if (entries.length === 0) return el('span', { class: 'muted' }, '—');
  return el('div', { class: 'chips' }, ...entries.map(([k, v]) => el('span', { class: 'chip' }, k + '=' + v)));
}

function endpointsTable(service) {
  const rows = service.endpoints.map((endpoint) => el('tr', { class: 'endpoint', 'data-endpoint': endpoint.name },
    el('td', {}, el('div', { class: 'mono strong' }, endpoint.name), streamNote(endpoint)),
    el('td', {}, fields(endpoint.request)),
    el('td', {}, fields(endpoint.response)),
    el('td', { class: 'num requests' }, '–'),
    el('td', { class: 'num errors' }, '–'),
    el('td', { class: 'num latency' }, '–'),
    el('td', {}, el('button', { class: 'small', type: 'button', onclick: () => chooseCall(service.name, endpoint.name) }, 'Try'))));
  const body = table(['Endpoint', 'Request', 'Response', 'Requests', 'Errors', 'Mean latency', ''], rows);
  body.classList.add('endpoints');
  return body;
}

function streamNote(endpoint) {
  const stream = (endpoint.metadata || {}).stream;
  return stream ? el('div', { class: 'muted small-text' }, 'stream') : null;
}

function fields(value, depth = 0) {
  if (!value || !value.values || value.values.length === 0) {
    return el('span', { class: 'muted mono' }, value ? value.type || value.name : '—');
  }
  const list = el('ul', { class: 'fields' });
  for (const field of value.values) {
    list.append(el('li', {},
      el('span', { class: 'mono' }, field.name), ' ',
      el('span', { class: 'type' }, field.type),
      depth < 2 && field.values && field.values.length ? fields(field, depth + 1) : null));
  }
  return list;
}

function renderMetrics(name) {
  const card = document.querySelector('article.service[data-service="' + CSS.escape(name) + '"]');
  const metrics = state.metrics.get(name);
  if (!card || !metrics) return;
  const body = card.querySelector('table.endpoints tbody');
  for (const m of metrics.endpoints) {
    let row = body.querySelector('tr[data-endpoint="' + CSS.escape(m.endpoint) + '"]');
    if (!row) {
      row = el('tr', { class: 'endpoint system', 'data-endpoint': m.endpoint },
        el('td', {}, el('div', { class: 'mono' }, m.endpoint)), el('td', {}), el('td', {}),
        el('td', { class: 'num requests' }), el('td', { class: 'num errors' }),
        el('td', { class: 'num latency' }), el('td', {}));
      body.append(row);
    }
    row.querySelector('.requests').textContent = m.requests;
    const errors = row.querySelector('.errors');
    errors.textContent = m.errors;
    errors.classList.toggle('bad-text', m.errors > 0);
    row.querySelector('.latency').textContent =
      m.mean_latency_ms === null ? '–' : m.mean_latency_ms.toFixed(m.mean_latency_ms < 10 ? 2 : 0) + ' ms';
  }
  const failed = metrics.nodes.filter((n) => n.error);
  card.querySelector('.scrape-problem')?.remove();
  if (failed.length) {
    card.append(el('p', { class: 'scrape-problem' }, 'Metrics missing from ' +
      failed.map((n) => n.address + ' (' + n.error + ')').join(', ')));
  }
}

function table(headings, rows) {
  return el('table', {},
    el('thead', {}, el('tr', {}, ...headings.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows));
}

function plural(n, word) {
  return n + ' ' + word + (n === 1 ? '' : 's');
}

// The call form.

function setOptions(select, values) {
  const current = [...select.options].map((o) => o.value);
  if (current.length === values.length && current.every((v, i) => v === values[i])) return;
  const chosen = select.value;
  select.replaceChildren(...values.map((v) => el('option', { value: v }, v)));
  if (values.includes(chosen)) select.value = chosen;
}

function renderServiceChoices() {
  const select = document.getElementById('call-service');
  const before = select.value;
  setOptions(select, [...state.services.keys()]);
  if (select.value !== before || document.getElementById('call-endpoint').options.length === 0) {
    renderEndpointChoices();
  }
}

function renderEndpointChoices() {
  const service = state.services.get(document.getElementById('call-service').value);
  const select = document.getElementById('call-endpoint');
  const before = select.value;
  setOptions(select, service ? service.endpoints.map((e) => e.name) : []);
  if (select.value !== before) fillTemplate();
}

function chosenEndpoint() {
  const service = state.services.get(document.getElementById('call-service').value);
  const name = document.getElementById('call-endpoint').value;
  return service && service.endpoints.find((e) => e.name === name);
}

function isStream(endpoint) {
  return Boolean(endpoint && (endpoint.metadata || {}).stream === 'true');
}

// The call button says what it does; the stream note shows for streams.
function renderCallKind() {
  const stream = isStream(chosenEndpoint());
  document.getElementById('call-stream-note').hidden = !stream;
  document.getElementById('call-submit').textContent = stream ? 'Start stream' : 'Call';
}

// A request skeleton from the endpoint's request fields.
function fillTemplate() {
  const service = state.services.get(document.getElementById('call-service').value);
  const name = document.getElementById('call-endpoint').value;
  const endpoint = service && service.endpoints.find((e) => e.name === name);
  const skeleton = {};
  for (const field of (endpoint && endpoint.request && endpoint.request.values) || []) {
    skeleton[field.name] = sample(field.type);
  }
  document.getElementById('call-request').value = JSON.stringify(skeleton, null, 2);
  renderCallKind();
}

function sample(type) {
  if (/^\[\]/.test(type)) return [];
  if (/int|float|double|fixed/.test(type)) return 0;
  if (type === 'bool') return false;
  if (type === 'string' || type === 'bytes') return '';
  return {};
}

function chooseCall(service, endpoint) {
  document.getElementById('call-service').value = service;
  renderEndpointChoices();
  document.getElementById('call-endpoint').value = endpoint;
  fillTemplate();
  document.getElementById('call-request').focus();
}

function metadataLines(text) {
  const metadata = {};
  for (const line of text.split('\n')) {
    const at = line.search(/[:=]/);
    if (at > 0) metadata[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return metadata;
}

async function submitCall(event) {
  event.preventDefault();
  const status = document.getElementById('call-status');
  const reply = document.getElementById('call-reply');
  const button = document.getElementById('call-submit');
  const elapsed = document.getElementById('call-elapsed');
  elapsed.textContent = '';
  let request;
  try {
    request = requestMessages(document.getElementById('call-request').value,
      isStream(chosenEndpoint()));
  } catch (err) {
    status.className = 'status bad';
    status.textContent = 'Invalid JSON';
    reply.textContent = err.message;
    elapsed.textContent = 'not sent';
    return;
  }
  const call = {
    service: document.getElementById('call-service').value,
    endpoint: document.getElementById('call-endpoint').value,
    request,
    metadata: metadataLines(document.getElementById('call-metadata').value),
    timeout: document.getElementById('call-timeout').value,
  };
  if (isStream(chosenEndpoint())) return streamCall(call);
  button.disabled = true;
  status.className = 'status';
  status.textContent = 'Calling…';
  reply.textContent = '';
  const started = performance.now();
  try {
    const answer = await api('api/call', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(call),
    });
    status.className = 'status ' + (answer.ok ? 'good' : 'bad');
    status.textContent = answer.status + ' ' + (answer.statusText || (answer.ok ? 'OK' : 'Error'));
    reply.textContent = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2);
  } catch (err) {
    status.className = 'status bad';
    status.textContent = 'Failed';
    reply.textContent = err.message;
  } finally {
    elapsed.textContent = Math.round(performance.now() - started) + ' ms';
    button.disabled = false;
  }
}

// The request: one JSON document, or for streams one JSON message a line (an array of them).
function requestMessages(text, stream) {
  if (!text.trim()) return stream ? [{}] : {};
  try {
    const value = JSON.parse(text);
    return stream ? [value] : value;
  } catch (err) {
    if (!stream) throw err;
  }
  return text.split('\n').map((line, i) => [line, i + 1]).filter(([line]) => line.trim())
    .map(([line, number]) => {
      try { return JSON.parse(line); } catch (err) { throw new Error('line ' + number + ': ' + err.message); }
    });
}

// A streaming call through api/stream: JSON lines, each reply shown as it arrives, until the
// stream ends, the reply limit is reached or Stop is pressed (which cancels the call).
async function streamCall(call) {
  const status = document.getElementById('call-status');
  const reply = document.getElementById('call-reply');
  const button = document.getElementById('call-submit');
  const stop = document.getElementById('call-stop');
  const elapsed = document.getElementById('call-elapsed');
  const body = { service: call.service, endpoint: call.endpoint, requests: call.request,
    metadata: call.metadata, timeout: call.timeout,
    max: Number(document.getElementById('call-max').value) || undefined };
  const controller = new AbortController();
  state.stream = controller;
  let count = 0;
  const show = (tone, text) => { status.className = 'status ' + tone; status.textContent = text; };
  const line = (item) => {
    if (item.reply !== undefined) {
      count += 1;
      reply.append(el('div', { class: 'stream-reply' }, JSON.stringify(item.reply)));
      show('', 'Streaming… ' + repliesText(count));
    } else if (item.error) {
      reply.append(el('div', { class: 'stream-error' }, JSON.stringify(item.error, null, 2)));
      show('bad', (item.error.code || '') + ' ' + (item.error.status || 'Error') + ' after ' + repliesText(count));
    } else if (item.end) {
      show('good', '200 OK · ' + repliesText(count) + (item.end === 'limit' ? ' (limit reached, stopped)' : ''));
    }
  };
  button.disabled = true;
  stop.hidden = false;
  show('', 'Starting stream…');
  reply.replaceChildren();
  const started = performance.now();
  try {
    const response = await fetch(base + 'api/stream', postJson('api/stream', body, controller.signal));
    if (!response.ok) {
      const text = await response.text();
      let error;
      try { error = JSON.parse(text); } catch (_) { error = text; }
      if (response.status === 401) showLogin(error.detail || 'Log in again.');
      show('bad', response.status + ' ' + (response.statusText || 'Error'));
      reply.textContent = typeof error === 'string' ? error : JSON.stringify(error, null, 2);
      return;
    }
    await readLines(response.body, line);
  } catch (err) {
    if (err.name === 'AbortError') show('', 'Stopped · ' + repliesText(count));
    else show('bad', 'Failed: ' + err.message);
  } finally {
    state.stream = null;
    elapsed.textContent = Math.round(performance.now() - started) + ' ms';
    button.disabled = false;
    stop.hidden = true;
  }
}

function repliesText(count) {
  return count + (count === 1 ? ' reply' : ' replies');
}

// Calls `each` with every JSON line of a response body as it arrives.
async function readLines(stream, each) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (text.trim()) each(JSON.parse(text));
    }
  }
}

// The publish form.
async function submitPublish(event) {
  event.preventDefault();
  const status = document.getElementById('publish-status');
  const reply = document.getElementById('publish-reply');
  const button = document.getElementById('publish-submit');
  let message;
  try {
    message = JSON.parse(document.getElementById('publish-message').value || '{}');
  } catch (err) {
    status.className = 'status bad';
    status.textContent = 'Invalid JSON, not sent';
    reply.textContent = err.message;
    return;
  }
  const publication = {
    topic: document.getElementById('publish-topic').value.trim(),
    message,
    metadata: metadataLines(document.getElementById('publish-metadata').value),
  };
  button.disabled = true;
  status.className = 'status';
  status.textContent = 'Publishing…';
  reply.textContent = '';
  try {
    const answer = await api('api/publish', postJson('api/publish', publication));
    status.className = 'status ' + (answer.ok ? 'good' : 'bad');
    status.textContent = answer.ok ? 'Published to ' + answer.body.topic
      : answer.status + ' ' + (answer.statusText || 'Error');
    reply.textContent = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body, null, 2);
  } catch (err) {
    status.className = 'status bad';
    status.textContent = 'Failed';
    reply.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

document.getElementById('call-service').addEventListener('change', renderEndpointChoices);
document.getElementById('call-endpoint').addEventListener('change', fillTemplate);
document.getElementById('call-form').addEventListener('submit', submitCall);
document.getElementById('call-stop').addEventListener('click', () => state.stream && state.stream.abort());
document.getElementById('publish-form').addEventListener('submit', submitPublish);
document.getElementById('login-form').addEventListener('submit', submitLogin);
document.getElementById('logout').addEventListener('click', logout);
setLive(false, 'connecting');
boot().catch((err) => problem('The dashboard cannot be reached: ' + err.message));
