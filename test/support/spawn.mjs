// Ports, the built service and redis-server as real processes: the pieces the e2e specs
// (through the typed helpers beside this file) and the benchmarks and chaos run (bench/) share.
// Plain JavaScript so bench/ can import it without a build; types in spawn.d.mts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `npm run start:prod` runs. */
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** A port free on 127.0.0.1 right now (the OS picks it). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Resolves once GET `url` answers 200; rejects after `timeoutMs` or when `exited()` says the process is gone. */
export async function untilAnswers(url, { timeoutMs = 20_000, exited = () => false } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (exited()) throw new Error(`${url}: the process exited before it answered`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves when redis-server logs that it accepts connections. */
function untilRedisReady(child, timeoutMs) {
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), timeoutMs);
    child.stdout.on('data', (chunk) => {
      log += chunk.toString();
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited:\n${log}`));
    });
  });
}

/**
 * A redis-server of its own on a free port and a fresh data directory, restartable there.
 * `aof`: `appendonly yes` + `appendfsync everysec`, as docker-compose and k8s ship it;
 * `noeviction` always. `onSpawn` sees each pid (the e2e registry kills leftovers).
 */
export async function startRedisServer({ aof = false, onSpawn = () => undefined } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ballast-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction'];
  args.push(...(aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']));
  let server;
  const redis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
      if (child.pid !== undefined) onSpawn(child.pid);
      server = child;
      await untilRedisReady(child, 10_000);
    },
    /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: a Redis that holds connections and answers nothing. */
    freeze(frozen = true) {
      server?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
    async stop(signal = 'SIGTERM') {
      if (!server || server.exitCode !== null || server.signalCode !== null) return;
      // A frozen server would never act on the signal.
      if (signal !== 'SIGKILL') server.kill('SIGCONT');
      const exited = once(server, 'exit');
      server.kill(signal);
      await exited;
    },
  };
  await redis.start();
  return redis;
}
