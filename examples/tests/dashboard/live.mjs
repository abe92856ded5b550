// Drives the dashboard's login, publish form, streaming calls and live updates in headless
// Chromium (playwright-core). Talks to the Rust test over stdio: prints `START late` and waits
// for `REGISTERED` on stdin (the test starts a service and waits for it to register), then
// `STOP late` / `STOPPED`. Every wait is bounded. Prints one JSON line at the end:
// {"ok":true,...} or {"ok":false,"step":...,"error":...}.
//
//   node live.mjs <node_modules> <chromium> <dashboard url> <screenshot dir> <account id> <secret>

import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const [modules, chromiumPath, url, shots, accountId, secret] = process.argv.slice(2);
const { chromium } = createRequire(path.join(modules, 'drive.cjs'))('playwright-core');
const WAIT = { timeout: 20000 };

setTimeout(() => finish({ ...result, ok: false, step, error: 'took longer than 150 s' }), 150000);

let step = 'launch';
const result = { ok: false, consoleErrors: [] };

function finish(outcome) {
  console.log(JSON.stringify(outcome));
  process.exit(outcome.ok ? 0 : 1);
}

// The next line the test writes on stdin, within 30 s.
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function expectLine(expected) {
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no ' + expected + ' on stdin within 30 s')), 30000));
  const { value } = await Promise.race([lines.next(), timeout]);
  if (value !== expected) throw new Error('expected ' + expected + ' on stdin, got ' + value);
}

function serving(name) {
  const card = document.querySelector(`article.service[data-service="${name}"]`);
  const health = card ? [...card.querySelectorAll('tr.node .health')] : [];
  return health.length > 0 && health.every((cell) => cell.textContent.trim() === 'SERVING');
}

// Starts a call through the form and waits until it is over (the elapsed time is written).
async function call(page, service, endpoint, request) {
  await page.selectOption('#call-service', service, WAIT);
  await page.waitForSelector(`#call-endpoint option[value="${endpoint}"]`, { ...WAIT, state: 'attached' });
  await page.selectOption('#call-endpoint', endpoint, WAIT);
  await page.fill('#call-request', request, WAIT);
  await page.evaluate(() => { document.getElementById('call-elapsed').textContent = ''; });
  await page.click('#call-submit', WAIT);
}

async function callOutcome(page) {
  await page.waitForFunction(() => document.getElementById('call-elapsed').textContent !== '', null, WAIT);
  return {
    status: (await page.textContent('#call-status')).trim(),
    button: (await page.textContent('#call-submit')).trim(),
    replies: await page.locator('#call-reply .stream-reply').allTextContents(),
    reply: (await page.textContent('#call-reply')).trim(),
  };
}

try {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless=new'],
    timeout: 30000,
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      result.consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => result.consoleErrors.push(String(error)));
  const status = (path, options) => page.evaluate(([path, options]) =>
    fetch(path, options).then((response) => response.status), [path, options || {}]);

  step = 'open the page and see the login form';
  await page.goto(url, { waitUntil: 'load', timeout: 20000 });
  await page.waitForSelector('#login-form', { ...WAIT, state: 'visible' });
  result.loginShown = await page.isVisible('#login-form');
  result.appHidden = !(await page.isVisible('#app'));
  result.servicesBeforeLogin = await status('api/services');
  await page.fill('#login-id', accountId);
  await page.screenshot({ path: path.join(shots, 'login.png') });

  step = 'log in with a wrong secret';
  await page.fill('#login-secret', 'not-the-secret');
  await page.click('#login-submit', WAIT);
  await page.waitForSelector('#login-error', { ...WAIT, state: 'visible' });
  result.wrongLogin = (await page.textContent('#login-error')).trim();
  result.appHiddenAfterWrongLogin = !(await page.isVisible('#app'));

  step = 'log in with the right secret';
  await page.fill('#login-secret', secret);
  await page.click('#login-submit', WAIT);
  await page.waitForSelector('#who', { ...WAIT, state: 'visible' });
  result.who = (await page.textContent('#who-name')).trim();
  result.cookieReadable = await page.evaluate(() => document.cookie.includes('micro_dashboard_token'));
  result.servicesAfterLogin = await status('api/services');
  result.servicesWithoutCookie = await status('api/services', { credentials: 'omit' });

  step = 'see streaming SERVING and the page live';
  await page.waitForFunction(serving, 'streaming', WAIT);
  await page.waitForFunction(() => document.getElementById('live').textContent === 'live', null, WAIT);
  result.live = (await page.textContent('#live')).trim();

  step = 'publish a message';
  await page.fill('#publish-topic', 'dashboard.live');
  await page.fill('#publish-message', '{"greeting": "hello from chromium"}');
  await page.click('#publish-form summary');
  await page.fill('#publish-metadata', 'X-Origin: dashboard-test');
  await page.click('#publish-submit', WAIT);
  await page.waitForFunction(() => /^Published|^\d/.test(document.getElementById('publish-status').textContent), null, WAIT);
  result.publish = {
    status: (await page.textContent('#publish-status')).trim(),
    reply: (await page.textContent('#publish-reply')).trim(),
  };
  await page.locator('#publish-form').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'publish.png') });

  step = 'publish something that is not JSON';
  await page.fill('#publish-message', '{not json');
  await page.click('#publish-submit', WAIT);
  await page.waitForFunction(() => document.getElementById('publish-status').textContent.startsWith('Invalid'), null, WAIT);
  result.badPublish = (await page.textContent('#publish-status')).trim();

  step = 'server streaming: Streamer.Count to 5';
  await page.locator('#call-form').scrollIntoViewIfNeeded();
  await call(page, 'streaming', 'Streamer.Count', '{"to": 5, "interval_ms": 100}');
  // The first replies show while the stream still runs.
  await page.waitForFunction(() => document.querySelectorAll('#call-reply .stream-reply').length >= 1, null, WAIT);
  result.countWhileRunning = {
    replies: await page.locator('#call-reply .stream-reply').count(),
    status: (await page.textContent('#call-status')).trim(),
  };
  result.count = await callOutcome(page);
  await page.screenshot({ path: path.join(shots, 'stream.png') });

  step = 'bidirectional streaming: Streamer.Shout, one message a line';
  await call(page, 'streaming', 'Streamer.Shout', '{"text": "hello"}\n{"text": "micro dashboard"}\n{"text": "bye"}');
  result.shout = await callOutcome(page);

  step = 'client streaming: Streamer.Sum';
  await call(page, 'streaming', 'Streamer.Sum', '{"value": 2}\n{"value": 3}\n{"value": 37}');
  result.sum = await callOutcome(page);

  step = 'stop a long stream';
  await call(page, 'streaming', 'Streamer.Count', '{"to": 1000, "interval_ms": 100}');
  await page.waitForFunction(() => document.querySelectorAll('#call-reply .stream-reply').length >= 2, null, WAIT);
  result.stopVisible = await page.isVisible('#call-stop');
  await page.click('#call-stop', WAIT);
  result.stopped = await callOutcome(page);
  // Nothing more arrives once stopped.
  await page.waitForTimeout(500);
  result.stopped.after = await page.locator('#call-reply .stream-reply').count();

  step = 'a service started after the page loaded appears without a reload';
  result.helloworldBefore = await page.locator('article.service[data-service="helloworld"]').count();
  console.log('START late');
  await expectLine('REGISTERED');
  let since = Date.now();
  await page.waitForSelector('article.service[data-service="helloworld"]', { timeout: 15000 });
  result.appearedMs = Date.now() - since;

  step = 'and disappears when it deregisters';
  console.log('STOP late');
  await expectLine('STOPPED');
  since = Date.now();
  await page.waitForSelector('article.service[data-service="helloworld"]', { state: 'detached', timeout: 15000 });
  result.disappearedMs = Date.now() - since;

  step = 'log out';
  await page.click('#logout', WAIT);
  await page.waitForSelector('#login-form', { ...WAIT, state: 'visible' });
  result.afterLogout = {
    login: await page.isVisible('#login-form'),
    message: (await page.textContent('#login-error')).trim(),
    services: await status('api/services'),
  };

  await browser.close();
  result.ok = true;
  finish(result);
} catch (error) {
  finish({ ...result, ok: false, step, error: String(error && error.message || error) });
}
