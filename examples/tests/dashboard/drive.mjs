// Drives the dashboard in headless Chromium (playwright-core): waits for services and
// healthy nodes, calls an endpoint through the form, watches the request counter move and
// saves a screenshot, then SIGKILLs the last service's process and watches its node turn
// UNREACHABLE. Every wait is bounded. Prints one JSON line: {"ok":true,...} or
// {"ok":false,"step":...,"error":...}.
//
//   node drive.mjs <node_modules> <chromium> <dashboard url> <nested url> <screenshot.png> <pid> <service>...

import { createRequire } from 'node:module';
import path from 'node:path';

const [modules, chromiumPath, url, nestedUrl, screenshot, pid, ...services] = process.argv.slice(2);
const { chromium } = createRequire(path.join(modules, 'drive.cjs'))('playwright-core');
const WAIT = { timeout: 20000 };

setTimeout(() => finish({ ok: false, step: 'overall', error: 'took longer than 120 s' }), 120000);

let step = 'launch';
const result = { ok: false, services: {}, consoleErrors: [], failedResponses: [] };

function finish(outcome) {
  console.log(JSON.stringify(outcome));
  process.exit(outcome.ok ? 0 : 1);
}

// Every named service is listed with at least one node, and every node is SERVING.
function allServing(names) {
  return names.every((name) => {
    const card = document.querySelector(`article.service[data-service="${name}"]`);
    const health = card ? [...card.querySelectorAll('tr.node .health')] : [];
    return health.length > 0 && health.every((cell) => cell.textContent.trim() === 'SERVING');
  });
}

async function call(page, service, endpoint, request) {
  await page.selectOption('#call-service', service, WAIT);
  await page.waitForSelector(`#call-endpoint option[value="${endpoint}"]`, { ...WAIT, state: 'attached' });
  await page.selectOption('#call-endpoint', endpoint, WAIT);
  await page.fill('#call-request', request, WAIT);
  // Submitting clears the elapsed time; it is written again when the reply (or error) is in.
  await page.click('#call-submit', WAIT);
  await page.waitForFunction(() => document.getElementById('call-elapsed').textContent !== '',
    null, WAIT);
  return {
    status: (await page.textContent('#call-status')).trim(),
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
  // Failed responses are listed by URL below; the console's note on each is not an error.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      result.consoleErrors.push(message.text());
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      result.failedResponses.push(response.status() + ' ' + new URL(response.url()).pathname);
    }
  });
  page.on('pageerror', (error) => result.consoleErrors.push(String(error)));

  step = 'open the page';
  await page.goto(url, { waitUntil: 'load', timeout: 20000 });

  step = 'see every service with SERVING nodes';
  await page.waitForFunction(allServing, services, WAIT);
  for (const name of services) {
    const rows = page.locator(`article.service[data-service="${name}"] tr.node`);
    result.services[name] = {
      nodes: await rows.count(),
      health: await rows.locator('.health').allTextContents(),
      endpoints: await page.locator(`article.service[data-service="${name}"] tr.endpoint`)
        .evaluateAll((rows) => rows.map((row) => row.dataset.endpoint)),
    };
  }
  result.registry = (await page.textContent('#registry')).trim();

  step = 'see markup in node metadata shown as text';
  result.markup = await page.evaluate(() => ({
    injected: document.getElementById('injected') !== null,
    shown: [...document.querySelectorAll('.chip')].some((chip) => chip.textContent.includes('<b id=injected>')),
  }));

  step = 'call with a field the request does not have';
  result.badCall = await call(page, 'helloworld', 'Helloworld.Greeting', '{"nam":"x"}');

  step = 'call Helloworld.Greeting for alice';
  result.call = await call(page, 'helloworld', 'Helloworld.Greeting', '{"name":"alice"}');

  step = 'see the request counter of Helloworld.Greeting move';
  const counter = 'article.service[data-service="helloworld"] tr[data-endpoint="Helloworld.Greeting"] .requests';
  await page.waitForFunction((selector) => {
    const cell = document.querySelector(selector);
    return cell && Number(cell.textContent) >= 1;
  }, counter, WAIT);
  result.requests = Number(await page.textContent(counter));
  result.latency = (await page.textContent(counter.replace('.requests', '.latency'))).trim();

  step = 'screenshot';
  await page.screenshot({ path: screenshot });

  step = 'kill the last service and see its node UNREACHABLE';
  const victim = services[services.length - 1];
  process.kill(Number(pid), 'SIGKILL');
  await page.waitForFunction((name) => {
    const cells = [...document.querySelectorAll(`article.service[data-service="${name}"] tr.node .health`)];
    return cells.length > 0 && cells.every((cell) => cell.textContent.trim() === 'UNREACHABLE');
  }, victim, WAIT);
  result.killed = {
    service: victim,
    health: await page.locator(`article.service[data-service="${victim}"] tr.node .health`).allTextContents(),
  };

  step = 'open the page nested under the gateway\'s /dashboard (redirected to /dashboard/)';
  const nested = await browser.newPage();
  await nested.goto(nestedUrl, { waitUntil: 'load', timeout: 20000 });
  result.nestedUrl = nested.url();
  await nested.waitForFunction(allServing, services.slice(0, -1), WAIT);
  result.nested = true;

  await browser.close();
  result.ok = true;
  finish(result);
} catch (error) {
  finish({ ...result, ok: false, step, error: String(error && error.message || error) });
}
