import { afterAll, beforeAll, describe, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { startRedisCluster, startRedisServer, startSentinelFleet, type RedisClusterFleet, type SentinelFleet } from './spawn.mjs';
import { registerSpawned } from './spawned-registry.js';

/**
 * Real Redis for tests, in the topology `REDIS_TEST_MODE` names (default `standalone`):
 * - `standalone`: `REDIS_URL` when set, else a throwaway `redis-server` on a free port;
 * - `sentinel`: a primary, two replicas and three sentinels of the suite's own;
 * - `cluster`: a 6-node Redis Cluster (3 primaries, 3 replicas) of the suite's own.
 * Without redis-server (and no REDIS_URL), the suite is skipped with a loud line, and under
 * CI=true it fails instead: a CI run must never pass without having run its Redis tests.
 */
export type RedisTestMode = 'standalone' | 'sentinel' | 'cluster';

export interface TestRedis {
  readonly mode: RedisTestMode;
  /** The variables that point ballast at it: REDIS_URL, REDIS_SENTINELS + REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES. */
  readonly env: Readonly<Record<string, string>>;
  /** Standalone only (the suites that need a URL run only there): the server's URL. */
  readonly url: string;
  /** A key prefix no other test or run shares. */
  readonly prefix: string;
  /** A new ioredis client to the same data (the caller closes it). */
  client(): Redis | Cluster;
  /** Stops the servers this helper started (no-op for an external REDIS_URL). */
  stop(): Promise<void>;
}

const externalUrl = process.env.REDIS_URL?.trim() || undefined;
const inCi = process.env.CI === 'true';

function testMode(): RedisTestMode {
  const mode = process.env.REDIS_TEST_MODE?.trim() || 'standalone';
  if (mode === 'standalone' || mode === 'sentinel' || mode === 'cluster') return mode;
  throw new Error(`REDIS_TEST_MODE must be standalone, sentinel or cluster (not "${mode}")`);
}

export const redisTestMode = testMode();

function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function uniquePrefix(): string {
  return `ballast-test-${randomBytes(4).toString('hex')}`;
}

export async function startRedis(mode: RedisTestMode = redisTestMode): Promise<TestRedis> {
  const prefix = uniquePrefix();
  if (mode === 'sentinel') {
    const fleet = await startSentinelFleet({ onSpawn: registerSpawned });
    const sentinels = fleet.sentinels.split(',').map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
    return {
      mode,
      env: { REDIS_SENTINELS: fleet.sentinels, REDIS_SENTINEL_NAME: fleet.name },
      get url(): string {
        throw new Error('a Sentinel fleet has no single URL: use env');
      },
      prefix,
      client: () => new Redis({ sentinels, name: fleet.name }),
      stop: () => fleet.stop(),
    };
  }
  if (mode === 'cluster') {
    const cluster = await startRedisCluster({ onSpawn: registerSpawned });
    const nodes = cluster.startupNodes.split(',').map((address) => ({ host: '127.0.0.1', port: Number(address.split(':')[1]) }));
    return {
      mode,
      env: { REDIS_CLUSTER_NODES: cluster.startupNodes },
      get url(): string {
        throw new Error('a Redis Cluster has no single URL: use env');
      },
      prefix,
      client: () => new Cluster(nodes),
      stop: () => cluster.stop(),
    };
  }
  const server = externalUrl ? undefined : await startPrivateRedis({ aof: false });
  const url = externalUrl ?? server!.url;
  return { mode, env: { REDIS_URL: url }, url, prefix, client: () => new Redis(url), stop: async () => server?.stop() };
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
  describeWithServers('Sentinel', name, () => startSentinelFleet({ onSpawn: registerSpawned }), body);
}

/** `describe` for suites that need a Redis Cluster (6 real nodes: 3 primaries, 3 replicas); as describeWithSentinel. */
export function describeWithCluster(name: string, body: (cluster: () => RedisClusterFleet) => void): void {
  describeWithServers('Cluster', name, () => startRedisCluster({ onSpawn: registerSpawned }), body);
}

function describeWithServers<T extends { stop(): Promise<void> }>(
  kind: string,
  name: string,
  start: () => Promise<T>,
  body: (servers: () => T) => void,
): void {
  let servers: T | undefined;
  const withServers = () => {
    beforeAll(async () => {
      servers = await start();
    }, 60_000);
    body(() => servers!);
    afterAll(async () => {
      await servers?.stop();
    });
  };
  if (redisServerInstalled()) {
    describe(name, withServers);
    return;
  }
  if (inCi) {
    describe(name, () => {
      test('needs redis-server', () => {
        throw new Error(`${kind} tests cannot run in CI: no redis-server on PATH`);
      });
    });
    return;
  }
  process.stderr.write(`\n!!! SKIPPING ${kind} suite "${name}": no redis-server on PATH !!!\n\n`);
  describe.skip(name, withServers);
}

/**
 * `describe` for suites that need Redis: starts one for the suite, in REDIS_TEST_MODE's
 * topology, and stops it after; `body` reads it through the getter. See the module comment for
 * the no-Redis rule. `modes`: the topologies the suite is about (one that tests a URL's ACL
 * user or restarts the one server); under another REDIS_TEST_MODE it is not declared at all
 * (it runs in the default standalone run).
 */
export function describeWithRedis(
  name: string,
  body: (redis: () => TestRedis) => void,
  { modes = ['standalone', 'sentinel', 'cluster'] }: { modes?: readonly RedisTestMode[] } = {},
): void {
  if (!modes.includes(redisTestMode)) return;
  let redis: TestRedis | undefined;
  const withRedis = () => {
    beforeAll(async () => {
      redis = await startRedis();
    }, 60_000);
    body(() => redis!);
    // Declared after the body's hooks, so it runs after them (jest runs afterAll in declaration
    // order): the suite's apps close while their Redis is still up.
    afterAll(async () => {
      await redis?.stop();
    });
  };
  if (redisAvailable && (redisTestMode === 'standalone' || redisServerInstalled())) {
    describe(redisTestMode === 'standalone' ? name : `${name} [${redisTestMode}]`, withRedis);
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
