// npm run start:cluster — the seed-001 layout on one machine: CLUSTER_SIZE services on
// 8000.. and a balancer on 8080 in front of them. SIGTERM/SIGINT are forwarded to every
// child; the script exits when all have drained, with the worst exit code.
import { spawn } from 'node:child_process';
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

for (const port of servicePorts) run(`service:${port}`, { ROLE: 'service', PORT: String(port) });
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
process.exit(Math.max(...codes));
