// Ports, the built service and redis-server as real processes: the pieces the e2e specs
// (through the typed helpers beside this file) and the benchmarks and chaos run (bench/) share.
// Plain JavaScript so bench/ can import it without a build; types in spawn.d.mts.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

/**
 * The path that says a started process can be measured: a service's /live; a balancer's
 * /_balancer/ready, which waits for every worker to listen (a client's keep-alive connections
 * stay with the worker that accepted them: one that connected before the second worker
 * listened sent 99% of its requests to the first).
 */
export function readyPathFor(env) {
  return env.ROLE === 'balancer' ? '/_balancer/ready' : '/live';
}

/** Resolves when redis-server logs that it accepts connections (a sentinel: that it monitors its master). */
function untilRedisReady(child, timeoutMs, marker = 'Ready to accept connections') {
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), timeoutMs);
    child.stdout.on('data', (chunk) => {
      log += chunk.toString();
      if (log.includes(marker)) {
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
 * `snapshots`: RDB save points, so a shutdown writes an RDB, and with it a replica's replication
 * offset (loading an AOF restores no offset); `noeviction` always. `onSpawn` sees each pid (the e2e registry kills leftovers).
 */
export async function startRedisServer({ aof = false, snapshots = false, onSpawn = () => undefined, args: extraArgs = [] } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ballast-redis-'));
  const save = snapshots ? '3600 1' : '';
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', save, '--maxmemory-policy', 'noeviction'];
  args.push(...(aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']), ...extraArgs);
  let server;
  const redis = {
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return server?.pid;
    },
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

/** Runs one command on a Redis or Sentinel port with redis-cli; its trimmed output. */
export function redisCli(port, ...command) {
  return execFileSync('redis-cli', ['-p', String(port), ...command], { encoding: 'utf8' }).trim();
}

/**
 * Redis Sentinel on loopback, as real processes: a primary, `replicas` replicas of it and
 * `sentinels` sentinels monitoring it as `name` (quorum 2, down after 1 s), everything
 * replicated and known to every sentinel before it resolves. `primaryPort()` asks them who
 * the primary is now; `switchover()` is a planned failover (SENTINEL FAILOVER) that resolves
 * once every sentinel names the new primary.
 */
export async function startSentinelFleet({
  name = 'ballast',
  replicas = 2,
  sentinels = 3,
  aof = false,
  snapshots = false,
  onSpawn = () => undefined,
} = {}) {
  const primary = await startRedisServer({ aof, snapshots, onSpawn });
  const nodes = [primary];
  for (let i = 0; i < replicas; i += 1) {
    nodes.push(
      await startRedisServer({
        aof,
        snapshots,
        onSpawn,
        args: ['--replicaof', '127.0.0.1', String(primary.port), '--replica-announce-ip', '127.0.0.1'],
      }),
    );
  }
  const watchers = [];
  for (let i = 0; i < sentinels; i += 1) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ballast-sentinel-'));
    const file = join(dir, 'sentinel.conf');
    writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'sentinel announce-ip 127.0.0.1',
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 2`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [file, '--sentinel'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    if (child.pid !== undefined) onSpawn(child.pid);
    await untilRedisReady(child, 10_000, '+monitor master');
    watchers.push({ port, child });
  }
  const fleet = {
    name,
    nodes,
    sentinels: watchers.map(({ port }) => `127.0.0.1:${port}`).join(','),
    /** The primary's port as the first sentinel that answers names it. */
    primaryPort() {
      let lastError;
      for (const { port, child } of watchers) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        try {
          return Number(redisCli(port, 'SENTINEL', 'get-master-addr-by-name', name).split('\n')[1]);
        } catch (error) {
          lastError = error;
        }
      }
      throw lastError ?? new Error('no sentinel is running');
    },
    /**
     * Every sentinel names `port` as the primary and sees `replicas` replicas of it up, and the
     * primary itself has that many replicas online (synced: SENTINEL FAILOVER does not wait for
     * a replica to catch up, so switching before that loses writes).
     */
    async untilAgreed(port, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const online = (redisCli(port, 'INFO', 'replication').match(/^slave\d+:.*state=online/gm) ?? []).length;
        const agreed =
          online >= replicas &&
          watchers.every(({ port: sentinel }) => {
            const master = Number(redisCli(sentinel, 'SENTINEL', 'get-master-addr-by-name', name).split('\n')[1]);
            const seen = redisCli(sentinel, 'SENTINEL', 'replicas', name);
            const up = seen.split('\n').filter((line) => line === 'slave').length;
            const down = (seen.match(/s_down|o_down|disconnected/g) ?? []).length;
            return master === port && up >= replicas && down === 0;
          });
        if (agreed) return;
        if (Date.now() > deadline) throw new Error(`sentinels did not agree on ${port} with ${replicas} replicas within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    /** Resolves with the primary's port once the sentinels name another than `port`. */
    async untilPrimaryIsNot(port, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let now;
        try {
          now = fleet.primaryPort();
        } catch {
          now = port; // a sentinel busy failing over may not answer for a moment
        }
        if (now !== port) return now;
        if (Date.now() > deadline) throw new Error(`the sentinels still name ${port} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    /**
     * A planned switchover (SENTINEL FAILOVER, with every replica in sync first); resolves with
     * the new primary's port once the sentinels name it (the old primary rejoins as a replica
     * some seconds later: `untilAgreed` waits for that).
     */
    async switchover() {
      const before = fleet.primaryPort();
      await fleet.untilAgreed(before);
      redisCli(watchers[0].port, 'SENTINEL', 'FAILOVER', name);
      return fleet.untilPrimaryIsNot(before);
    },
    /** Resolves once the primary has at least `count` replicas online (synced). */
    async untilReplicasOnline(count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const port = fleet.primaryPort();
        const online = (redisCli(port, 'INFO', 'replication').match(/^slave\d+:.*state=online/gm) ?? []).length;
        if (online >= count) return port;
        if (Date.now() > deadline) throw new Error(`the primary has ${online} replicas online, not ${count}, after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    /** Stops `count` of the sentinels (SIGTERM): with fewer than the quorum (2) left, no failover can happen. */
    async stopSentinels(count) {
      for (const { child } of watchers.slice(0, count)) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }
      }
    },
    async stop() {
      for (const { child } of watchers) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }
      }
      for (const node of nodes) await node.stop();
    },
  };
  await fleet.untilAgreed(primary.port);
  return fleet;
}

/**
 * A Redis Cluster on loopback, as real processes: `primaries` primaries with `replicasEach`
 * replicas each (`redis-cli --cluster create`), node timeout 1 s, every node agreeing the
 * cluster is ok and every replica in sync before it resolves. `ownerOf(key)` names the
 * primary serving a key now; `untilOwnerIsNot` waits for a failover to move it.
 */
export async function startRedisCluster({ primaries = 3, replicasEach = 1, onSpawn = () => undefined } = {}) {
  const nodes = [];
  for (let i = 0; i < primaries * (1 + replicasEach); i += 1) {
    // A node's config file lives in its own data dir: a restarted node rejoins as itself.
    nodes.push(
      await startRedisServer({
        onSpawn,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000'],
      }),
    );
  }
  const addresses = nodes.map(({ port }) => `127.0.0.1:${port}`);
  execFileSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasEach), '--cluster-yes'], {
    stdio: 'ignore',
  });
  const cluster = {
    nodes,
    /** For REDIS_CLUSTER_NODES: two startup nodes, as a deployment names a few. */
    startupNodes: addresses.slice(0, 2).join(','),
    /** The port of the primary serving `key`, as a live node's slot map says. */
    ownerOf(key) {
      const slot = Number(redisCli(cluster.livePort(), 'CLUSTER', 'KEYSLOT', key));
      for (const line of redisCli(cluster.livePort(), 'CLUSTER', 'NODES').split('\n')) {
        const [, address, flags, , , , , state, ...ranges] = line.split(' ');
        if (!flags.includes('master') || flags.includes('fail') || state !== 'connected') continue;
        for (const range of ranges) {
          const [from, to = from] = range.split('-').map(Number);
          if (slot >= from && slot <= to) return Number(address.split('@')[0].split(':')[1]);
        }
      }
      return undefined;
    },
    /** The port of the primary the node on `port` replicates, or undefined for a primary. */
    replicaOf(port) {
      const lines = redisCli(port, 'CLUSTER', 'NODES').split('\n');
      const [, , , masterId] = lines.find((line) => line.includes('myself'))?.split(' ') ?? [];
      if (!masterId || masterId === '-') return undefined;
      const master = lines.find((line) => line.startsWith(`${masterId} `));
      return master ? Number(master.split(' ')[1].split('@')[0].split(':')[1]) : undefined;
    },
    /** A node that answers (any), for questions about the cluster. */
    livePort() {
      for (const node of nodes) {
        try {
          redisCli(node.port, 'PING');
          return node.port;
        } catch {
          // stopped or frozen: ask another
        }
      }
      throw new Error('no cluster node answers');
    },
    /** Every live node says cluster_state:ok and every live primary has its replicas online. */
    async untilHealthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let healthy = true;
        try {
          for (const node of nodes) {
            let info;
            try {
              info = redisCli(node.port, 'CLUSTER', 'INFO');
            } catch {
              continue;
            }
            if (!info.includes('cluster_state:ok')) healthy = false;
            const replication = redisCli(node.port, 'INFO', 'replication');
            if (replication.includes('role:master')) {
              const online = (replication.match(/^slave\d+:.*state=online/gm) ?? []).length;
              const expected = Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0);
              if (online < expected) healthy = false;
            }
          }
        } catch {
          healthy = false;
        }
        if (healthy) return;
        if (Date.now() > deadline) throw new Error(`the cluster was not healthy within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    /** Resolves with the port of the primary serving `key` once it is not `port`. */
    async untilOwnerIsNot(key, port, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let owner;
        try {
          owner = cluster.ownerOf(key);
        } catch {
          owner = port;
        }
        if (owner !== undefined && owner !== port) return owner;
        if (Date.now() > deadline) throw new Error(`${key} is still served by ${port} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    /** A planned failover (CLUSTER FAILOVER on a replica of the primary serving `key`); resolves with the new owner's port. */
    async switchover(key) {
      const owner = cluster.ownerOf(key);
      const ownerId = redisCli(owner, 'CLUSTER', 'MYID');
      const replica = nodes.find(({ port }) => {
        try {
          return redisCli(port, 'CLUSTER', 'NODES')
            .split('\n')
            .some((line) => {
              const [, , flags, masterId] = line.split(' ');
              return flags.includes('myself') && flags.includes('slave') && masterId === ownerId;
            });
        } catch {
          return false;
        }
      });
      if (!replica) throw new Error(`no replica of ${owner} to fail over to`);
      redisCli(replica.port, 'CLUSTER', 'FAILOVER');
      return cluster.untilOwnerIsNot(key, owner);
    },
    async stop() {
      for (const node of nodes) await node.stop();
    },
  };
  await cluster.untilHealthy();
  return cluster;
}
