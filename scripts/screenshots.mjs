// npm run docs:screenshots — the README's pictures of the live views, taken from a real fleet
// (Redis on REDIS_URL or 127.0.0.1:6379, three services, the balancer) in the system Chromium,
// with some load on it so the pages have something to show. Writes docs/*.png.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const docs = fileURLToPath(new URL('../docs/', import.meta.url));
const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
if (!executablePath) throw new Error('Chromium not found: apt-get install chromium (or set CHROMIUM_PATH)');

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `ballast-screenshots-${process.pid}`;
const servicePorts = [18101, 18102, 18103];
const balancerPort = 18100;
const children = [];

function run(env) {
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: 'inherit',
  });
  children.push(child);
}

async function untilUp(port, path) {
  for (let i = 0; i < 100; i += 1) {
    const ok = await fetch(`http://127.0.0.1:${port}${path}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`port ${port} did not come up`);
}

const base = `http://127.0.0.1:${balancerPort}`;
const post = (body) =>
  fetch(`${base}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
try {
  for (const port of servicePorts)
    run({ PORT: String(port), REDIS_URL: redisUrl, REDIS_PREFIX: prefix, READY_MIN_CLIENTS: '6', READY_MAX_CLIENTS: '8' });
  await Promise.all(servicePorts.map((port) => untilUp(port, '/live')));
  run({
    ROLE: 'balancer',
    PORT: String(balancerPort),
    BACKENDS: servicePorts.map((p) => `http://127.0.0.1:${p}`).join(','),
    RETRY_DOWNTIME_MS: '60000',
  });
  await untilUp(balancerPort, '/_balancer/live');

  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  // A service page straight on one service, so its readiness chart shows that service's load.
  await page.goto(`http://127.0.0.1:${servicePorts[0]}/status`);
  const until = Date.now() + 20_000;
  let tick = 0;
  while (Date.now() < until) {
    tick += 1;
    // Waves of long requests for the clients chart, and tasks of several lengths.
    const wave = 2 + (tick % 7);
    for (let i = 0; i < wave; i += 1) void fetch(`http://127.0.0.1:${servicePorts[0]}/long_task?ms=900`).catch(() => undefined);
    if (tick % 2 === 0) await post({ durationMs: 1500 + (tick % 5) * 1000, payload: `report ${tick}` });
    if (tick === 12) await post({ durationMs: 100_000, payload: 'a long one' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await page.screenshot({ path: `${docs}service-status.png`, fullPage: true });

  // The balancer with one backend killed, so a red row shows.
  children[2].kill('SIGKILL');
  for (let i = 0; i < 60; i += 1) await fetch(`${base}/ping`);
  for (let i = 0; i < 5; i += 1)
    await fetch(`${base}/items/?item_id=${i}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":"x","price":1}',
    });
  await page.goto(`${base}/_balancer/status`);
  await page.waitForSelector('tr[data-state="ejected"]');
  await page.screenshot({ path: `${docs}balancer-status.png`, fullPage: true });

  await page.goto(`http://127.0.0.1:${servicePorts[0]}/queues`);
  await page.getByText('ballast-tasks').first().waitFor();
  await page.screenshot({ path: `${docs}queues.png`, fullPage: true });
  await browser.close();
  process.stdout.write(`wrote ${docs}{service-status,balancer-status,queues}.png\n`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
}
