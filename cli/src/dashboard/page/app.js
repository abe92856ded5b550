// The micro dashboard: polls the JSON API beside this page and renders it with DOM calls
// (textContent only, never HTML from data). Every URL is relative to the page, so it works
// at / and nested under a prefix.
'use strict';

const SERVICES_EVERY_MS = 5000;
const METRICS_EVERY_MS = 2000;

// Served at /prefix (no trailing slash), relative URLs would resolve beside it: keep the
// last path segment so they resolve under it.
const base = location.pathname.endsWith('/') ? '' : location.pathname.split('/').pop() + '/';

const state = { services: new Map(), metrics: new Map() };

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
  return { ok: response.ok, status: response.status, statusText: response.statusText, body };
}

function problem(message) {
  const box = document.getElementById('problem');
  box.hidden = !message;
  box.textContent = message || '';
}

async function refreshServices() {
  const listing = await api('api/services');
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
  const names = [...state.services.keys()];
  const answers = await Promise.all(names.map((name) => api('api/metrics/' + encodeURIComponent(name))));
  answers.forEach((answer, i) => { if (answer.ok) state.metrics.set(names[i], answer.body); });
  for (const name of names) renderMetrics(name);
  stamp();
}

function stamp() {
  document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

// Runs `task` now and then every `ms`, never two at once.
function every(ms, task) {
  const run = async () => {
    try { await task(); } catch (err) { problem('The dashboard cannot be reached: ' + err.message); }
    setTimeout(run, ms);
  };
  run();
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
    request = JSON.parse(document.getElementById('call-request').value || '{}');
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

document.getElementById('call-service').addEventListener('change', renderEndpointChoices);
document.getElementById('call-endpoint').addEventListener('change', fillTemplate);
document.getElementById('call-form').addEventListener('submit', submitCall);
every(SERVICES_EVERY_MS, async () => { await refreshServices(); await refreshMetrics(); });
every(METRICS_EVERY_MS, refreshMetrics);
