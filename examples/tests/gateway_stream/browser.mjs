// Streams through the API gateway from headless Chromium (playwright-core): the page is the
// gateway's own dashboard (same origin), and the streams are opened by the page's JavaScript
// exactly as a web app would: an EventSource on Streamer.Count, WebSockets on Streamer.Shout
// (bidi), Streamer.Sum (client streaming), Streamer.Count and Streamer.Ping, a malformed frame
// and an oversized one, and the google.api.http rule paths of the greeter-http example. Every
// wait is bounded. Prints one JSON line: {"ok":true,...} or
// {"ok":false,"step":...,"error":...}.
//
//   node browser.mjs <node_modules> <chromium> <gateway url>

import { createRequire } from 'node:module';
import path from 'node:path';

// `others`: {open, closed}, the URLs of a gateway on another origin that lets the page's
// origin call it (`--cors-origin`) and of one that does not.
const [modules, chromiumPath, gateway, othersJson] = process.argv.slice(2);
const others = JSON.parse(othersJson);
const { chromium } = createRequire(path.join(modules, 'browser.cjs'))('playwright-core');

setTimeout(() => finish({ ok: false, step: 'overall', error: 'took longer than 90 s' }), 90000);

function finish(outcome) {
  console.log(JSON.stringify(outcome));
  process.exit(outcome.ok ? 0 : 1);
}

// Runs in the page: every stream, each bounded by its own timeout.
async function streams(others) {
  const within = (ms, what, start) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no end within ${ms} ms`)), ms);
    start((value) => { clearTimeout(timer); resolve(value); });
  });

  // EventSource: the replies as `message` events, then `end`; `close()` stops the reconnect.
  const events = (query, url = `/streaming/Streamer.Count?${query}`) => within(10000, `EventSource ${url}`, (done) => {
    const seen = { messages: [], end: null, error: null };
    const source = new EventSource(url);
    source.onmessage = (event) => seen.messages.push(JSON.parse(event.data));
    source.addEventListener('end', (event) => { seen.end = event.data; source.close(); done(seen); });
    source.addEventListener('error', (event) => {
      // A MessageEvent with data is the gateway's `event: error`; a plain Event is the
      // connection failing.
      seen.error = event.data === undefined ? 'connection' : JSON.parse(event.data);
      source.close();
      done(seen);
    });
  });

  // WebSocket: sends `frames` once open (strings as they are), collects every frame and the
  // close.
  const socket = (path, frames) => within(10000, `WebSocket ${path}`, (done) => {
    const seen = { frames: [], code: null, reason: null, clean: null };
    const ws = new WebSocket(path.startsWith('ws') ? path : `ws://${location.host}${path}`);
    ws.onopen = () => frames.forEach((frame) => ws.send(frame));
    ws.onmessage = (event) => seen.frames.push(JSON.parse(event.data));
    ws.onclose = (event) => {
      Object.assign(seen, { code: event.code, reason: event.reason, clean: event.wasClean });
      done(seen);
    };
  });

  const json = (value) => JSON.stringify(value);
  // A cross-origin `fetch` (with a preflight: JSON is not a simple content type).
  const ping = async (base) => {
    try {
      const response = await fetch(`${base}/streaming/Streamer.Ping`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: json({ text: 'cors' }),
      });
      return { status: response.status, body: await response.json() };
    } catch (error) {
      return { error: String(error) };
    }
  };
  const wsUrl = (base, path) => base.replace(/^http/, 'ws') + path;
  return {
    count: await events('to=3'),
    empty: await events('to=0'),
    shout: await socket('/streaming/Streamer.Shout', [json({ text: 'hello' }), json({ text: 'world' }), '']),
    sum: await socket('/api/streaming/Streamer/Sum', [json({ value: 1 }), json({ value: '2' }), json({ value: 39 }), '']),
    countOverWebSocket: await socket('/streaming/Streamer.Count', [json({ to: 2 })]),
    countFromQuery: await socket('/streaming/Streamer.Count?to=2', ['']),
    ping: await socket('/streaming/Streamer.Ping', [json({ text: 'unary' })]),
    malformed: await socket('/streaming/Streamer.Shout', [json({ text: 'first' }), '{"text":']),
    afterMalformed: await socket('/streaming/Streamer.Shout', [json({ text: 'again' }), '']),
    oversized: await socket('/streaming/Streamer.Shout', [json({ text: 'x'.repeat(5 << 20) })]),
    unknown: await socket('/nosuch/Foo.Bar', [json({})]),
    // google.api.http rule paths of the greeter-http example.
    chatOnRule: await socket('/v1/rooms/kitchen/lines', [json({ text: 'hi' }), json({ text: 'bye' }), '']),
    tallyOnRule: await socket('/v1/polls/lunch/votes', [json('tea'), json('coffee'), json('tea'), '']),
    countdownOnRule: await socket('/v1/countdown/2', ['']),
    countdownEvents: await events('', '/v1/countdown/1'),
    badVariable: await socket('/v1/countdown/many', ['']),
    badVote: await socket('/v1/polls/lunch/votes', [json({ choice: 'tea' })]),
    // Another origin's gateway: open to this page's origin, or not.
    corsFetch: await ping(others.open),
    corsRefused: await ping(others.closed),
    corsEvents: await events('', `${others.open}/streaming/Streamer.Count?to=2`),
    corsSocket: await socket(wsUrl(others.open, '/streaming/Streamer.Shout'), [json({ text: 'cors' }), '']),
    corsSocketRefused: await socket(wsUrl(others.closed, '/streaming/Streamer.Shout'), [json({ text: 'no' }), '']),
  };
}

let step = 'launch';
try {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless=new'],
    timeout: 30000,
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));

  step = 'open the dashboard on the gateway';
  await page.goto(`${gateway}/dashboard/`, { waitUntil: 'load', timeout: 20000 });

  step = 'stream';
  const result = await page.evaluate(streams, others);
  await browser.close();
  finish({ ok: true, ...result, pageErrors: errors });
} catch (error) {
  finish({ ok: false, step, error: String(error && error.stack || error) });
}
