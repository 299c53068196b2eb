import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startRedisServer, startSentinelFleet, type SentinelFleet } from './spawn.mjs';
import { registerSpawned } from './spawned-registry.js';

/**
 * Real Redis for tests: `REDIS_URL` when set, else a throwaway `redis-server` on a free
 * port. Without either, the suite is skipped with a loud line, and under CI=true it
 * fails instead: a CI run must never pass without having run its Redis tests.
 */
export interface TestRedis {
  readonly url: string;
  /** A key prefix no other test or run shares. */
  readonly prefix: string;
  /** Stops the server this helper started (no-op for an external REDIS_URL). */
  stop(): Promise<void>;
}

const externalUrl = process.env.REDIS_URL?.trim() || undefined;
const inCi = process.env.CI === 'true';

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function uniquePrefix(): string {
  return `ballast-test-${randomBytes(4).toString('hex')}`;
}

export async function startRedis(): Promise<TestRedis> {
  if (externalUrl) {
    return { url: externalUrl, prefix: uniquePrefix(), stop: async () => undefined };
  }
  const server = await startPrivateRedis({ aof: false });
  return { url: server.url, prefix: uniquePrefix(), stop: () => server.stop() };
}

export interface PrivateRedis {
  readonly url: string;
  /** Stops it (SIGTERM: Redis flushes its AOF first; SIGKILL: a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) it: a Redis that holds its connections and answers nothing. */
  freeze(frozen?: boolean): void;
}

/**
 * A redis-server of the test's own, always (never REDIS_URL): for tests that kill and restart
 * Redis. `aof`: run with `appendonly yes` and `appendfsync everysec`, as docker-compose and k8s
 * ship it, in a fresh data directory.
 */
export function startPrivateRedis({ aof }: { aof: boolean }): Promise<PrivateRedis> {
  return startRedisServer({ aof, onSpawn: registerSpawned });
}

export const redisAvailable = Boolean(externalUrl) || redisServerInstalled();

/**
 * `describe` for suites that need Redis Sentinel (real redis-server processes: a primary, two
 * replicas, three sentinels), started for the suite and stopped after. Needs redis-server on
 * the PATH (an external REDIS_URL cannot stand in); under CI=true its absence fails the suite.
 */
export function describeWithSentinel(name: string, body: (fleet: () => SentinelFleet) => void): void {
  let fleet: SentinelFleet | undefined;
  const withFleet = () => {
    beforeAll(async () => {
      fleet = await startSentinelFleet({ onSpawn: registerSpawned });
    }, 60_000);
    body(() => fleet!);
    afterAll(async () => {
      await fleet?.stop();
    });
  };
  if (redisServerInstalled()) {
    describe(name, withFleet);
    return;
  }
  if (inCi) {
    describe(name, () => {
      test('needs redis-server', () => {
        throw new Error('Sentinel tests cannot run in CI: no redis-server on PATH');
      });
    });
    return;
  }
  process.stderr.write(`\n!!! SKIPPING Sentinel suite "${name}": no redis-server on PATH !!!\n\n`);
  describe.skip(name, withFleet);
}

/**
 * `describe` for suites that need Redis: starts one for the suite and stops it after;
 * `body` reads it through the getter. See the module comment for the no-Redis rule.
 */
export function describeWithRedis(name: string, body: (redis: () => TestRedis) => void): void {
  let redis: TestRedis | undefined;
  const withRedis = () => {
    beforeAll(async () => {
      redis = await startRedis();
    });
    body(() => redis!);
    // Declared after the body's hooks, so it runs after them (jest runs afterAll in declaration
    // order): the suite's apps close while their Redis is still up.
    afterAll(async () => {
      await redis?.stop();
    });
  };
  if (redisAvailable) {
    describe(name, withRedis);
    return;
  }
  const reason = 'no REDIS_URL and no redis-server on PATH';
  if (inCi) {
    describe(name, () => {
      test('needs Redis', () => {
        throw new Error(`Redis tests cannot run in CI: ${reason}`);
      });
    });
    return;
  }
  process.stderr.write(`\n!!! SKIPPING Redis suite "${name}": ${reason} !!!\n\n`);
  describe.skip(name, withRedis);
}
