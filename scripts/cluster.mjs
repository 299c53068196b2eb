// npm run start:cluster — the seed-001 layout on one machine: CLUSTER_SIZE services on
// 8000.. and a balancer on 8080 in front of them. SIGTERM/SIGINT are forwarded to every
// child; the script exits when all have drained, with the worst exit code. Without REDIS_URL,
// when redis-server is on the PATH, it starts one for the fleet (stopped on exit), so tasks and
// items are one fleet's: in memory each service would know only its own.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../dist/config/index.js';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SERVICE_BASE_PORT = 8000;
const BALANCER_PORT = 8080;

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

let fleetRedis;
if (!config.redis) {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0) {
    // The tests' helper (a free port, a throwaway directory, no persistence): a dev fleet's Redis.
    const { startRedisServer } = await import('../test/support/spawn.mjs');
    fleetRedis = await startRedisServer();
    process.stderr.write(
      `start:cluster: no REDIS_URL; started redis-server at ${fleetRedis.url} for the fleet's tasks and items (stopped on exit)\n`,
    );
  } else {
    process.stderr.write(
      'start:cluster: no REDIS_URL and no redis-server on the PATH: each service keeps its tasks and items in memory; ' +
        "the balancer sends a task's requests, and a clientId's creates and ?clientId= sockets, to the service that holds them\n",
    );
  }
}
const redisEnv = fleetRedis ? { REDIS_URL: fleetRedis.url } : {};

const servicePorts = Array.from({ length: config.clusterSize }, (_, i) => SERVICE_BASE_PORT + i);
const children = [];
function run(name, env) {
  const child = spawn(process.execPath, [main], { env: { ...process.env, ...env }, stdio: 'inherit' });
  children.push({ name, child, exited: once(child, 'exit') });
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    for (const { child } of children) if (child.exitCode === null) child.kill(signal);
  });
}

for (const port of servicePorts) run(`service:${port}`, { ROLE: 'service', PORT: String(port), ...redisEnv });
// The balancer starts once every service answers, so its first round robin spans them all.
await Promise.all(servicePorts.map((port) => untilLive(port)));
run(`balancer:${BALANCER_PORT}`, {
  ROLE: 'balancer',
  PORT: String(BALANCER_PORT),
  BACKENDS: servicePorts.map((port) => `http://127.0.0.1:${port}`).join(','),
  BACKENDS_DNS: '',
});

async function untilLive(port, deadlineMs = 60_000) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/live`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  process.stderr.write(`service on ${port} did not come up within ${deadlineMs} ms; starting the balancer anyway\n`);
}

const codes = await Promise.all(
  children.map(async ({ name, exited }) => {
    const [code, signal] = await exited;
    if (!stopping) process.stderr.write(`${name} exited on its own (code ${code}, signal ${signal})\n`);
    return code ?? 1;
  }),
);
await fleetRedis?.stop();
process.exit(Math.max(...codes));
