import { Logger } from '@nestjs/common';
import type { ConnectionOptions, RedisOptions } from 'bullmq';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type ClusterOptions, type RedisOptions as IORedisOptions } from 'ioredis';
import type { AppConfig, RedisEndpoint } from '../config/index.js';

/**
 * `command`: request paths (items, adding and reading tasks) — a command waits at most
 * REDIS_COMMAND_TIMEOUT_MS (the first connection at boot, a reconnect under way, a Redis that
 * stopped answering) and is retried once, so callers answer 503 instead of hanging; while the
 * connection is known lost, `RedisHealth.usable` fails them at once without sending.
 * `blocking`: BullMQ workers and QueueEvents — their blocking reads must wait out an outage
 * (BullMQ requires `maxRetriesPerRequest: null` there).
 */
export type RedisConnectionRole = 'command' | 'blocking';
/**
 * What a connection is for, as `CLIENT LIST` shows it (`<prefix>:<name>`): the request path, the
 * queue, the worker (its commands and its blocking reads), the task events, the cancel channel.
 */
export type RedisConnectionName = 'requests' | 'queue' | 'worker' | 'events' | 'cancels';

/** A client in any mode: one server or Sentinel's primary (`Redis`), or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

type AppRedis = NonNullable<AppConfig['redis']>;

/** What ioredis and BullMQ both accept: the URL (parsed and decoded by ioredis) or the Sentinel nodes, plus the policy. */
export type RedisConnectionOptions = RedisOptions & { url?: string };

// A failover takes a few seconds: reconnect attempts stay at most a second apart, so a client
// is back within about a second of the new primary being named.
const RECONNECT_CAP_MS = 1_000;

/**
 * The one connection policy for every Redis client ballast opens: the shared ioredis client,
 * the BullMQ queue, its workers and QueueEvents, the cancel channel. A URL is handed to ioredis
 * whole, so usernames, passwords, db numbers and `rediss:` are read by the library, not by us;
 * with Sentinel, ioredis asks the sentinels for the current primary on every (re)connect and
 * listens for their +switch-master, so a failover moves every client to the new primary.
 */
export function redisConnectionOptions(redis: AppRedis, role: RedisConnectionRole, name?: RedisConnectionName): RedisConnectionOptions {
  return {
    ...endpointOptions(redis.endpoint),
    ...(name && { connectionName: `${redis.prefix}:${name}` }),
    connectTimeout: 2_000,
    // After quit/disconnect, stop waiting for a dead socket to close (default 2 s keeps the process alive).
    disconnectTimeout: 200,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, RECONNECT_CAP_MS),
    // A primary demoted by a failover answers writes READONLY: reconnect (to the primary the
    // sentinels name now) and send the command again; READONLY means it was not run.
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 2 : false),
    ...(role === 'blocking' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, commandTimeout: redis.commandTimeoutMs }),
  };
}

function endpointOptions(endpoint: RedisEndpoint): RedisConnectionOptions {
  if (endpoint.mode === 'standalone') return { url: endpoint.url };
  if (endpoint.mode === 'cluster') return { username: endpoint.username, password: endpoint.password, ...(endpoint.tls && { tls: {} }) };
  return {
    sentinels: endpoint.sentinels.map(({ host, port }) => ({ host, port })),
    name: endpoint.name,
    sentinelUsername: endpoint.sentinelUsername,
    sentinelPassword: endpoint.sentinelPassword,
    username: endpoint.username,
    password: endpoint.password,
    ...(endpoint.tls && { tls: {}, enableTLSForSentinelMode: true }),
    // Reconnect at once when the sentinels announce a new primary, not at the next failed command.
    failoverDetector: true,
    sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 200, RECONNECT_CAP_MS),
  };
}

/**
 * Cluster mode: the node connections keep the per-node policy above; the cluster client learns
 * the slot map from any startup node and refreshes it on MOVED, on a node lost, and every few
 * seconds. CLUSTERDOWN and TRYAGAIN (a failover, a resharding) are retried after a short delay
 * by ioredis; a request path still fails within its command timeout (each node command is bounded).
 */
function clusterOptions(redis: AppRedis, role: RedisConnectionRole, name: RedisConnectionName): ClusterOptions {
  const { url: _none, ...redisOptions } = redisConnectionOptions(redis, role, name);
  const tls = redis.endpoint.mode === 'cluster' && redis.endpoint.tls;
  return {
    redisOptions,
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 200, RECONNECT_CAP_MS),
    slotsRefreshTimeout: Math.max(1_000, redis.commandTimeoutMs),
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    // TLS certificates name the nodes' hosts: keep them (not the resolved addresses) for SNI.
    ...(tls && { dnsLookup: (address: string, callback: (error: Error | null, address: string) => void) => callback(null, address) }),
  };
}

/** How long a Sentinel client that ended by itself waits before it connects again. */
const RECONNECT_AFTER_END_MS = 200;

/**
 * A Sentinel client that stays connected until it is closed on purpose, and then closes all of
 * itself. Two ioredis faults, both seen here with real sentinels:
 * - In a failover ioredis can end a Sentinel client for good (status `end`, every command
 *   "Connection is closed", ioredis#1683): after a primary's kill -9, the workers, the queue and
 *   its events of every service stopped for good. Ended without quit() or disconnect(), it is
 *   connected again (it asks the sentinels anew).
 * - quit() (BullMQ's close, a graceful shutdown) leaves the failover detector's subscriptions to
 *   every sentinel open, so the process never exits: only disconnect() closes them.
 * Its duplicates (BullMQ duplicates a worker's connection for the blocking reads) are the same.
 */
class SentinelClient extends Redis {
  private static readonly logger = new Logger('Redis');
  private closedOnPurpose = false;

  constructor(options: IORedisOptions & { replyMapping?: 'legacy' }) {
    super(options);
    this.on('end', () => {
      if (this.closedOnPurpose) return this.disconnect();
      SentinelClient.logger.warn('a Redis client stopped reconnecting: connecting it again');
      setTimeout(() => {
        if (!this.closedOnPurpose && this.status === 'end') this.connect().catch(() => undefined);
      }, RECONNECT_AFTER_END_MS).unref();
    });
  }

  override quit(callback?: Parameters<Redis['quit']>[0]): Promise<'OK'> {
    this.closedOnPurpose = true;
    return super.quit(callback);
  }

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closedOnPurpose = true;
    super.disconnect(reconnect);
  }
}
// ioredis types duplicate() generically; at run time it is `new Redis(options)`, made ours here.
SentinelClient.prototype.duplicate = function (this: Redis, override?: Partial<IORedisOptions>) {
  return new SentinelClient({ ...this.options, ...override, replyMapping: 'legacy' });
} as Redis['duplicate'];

/** An ioredis client with the connection policy for `role`, in the configured mode. */
export function createRedisClient(redis: AppRedis, role: RedisConnectionRole, name: RedisConnectionName): RedisClient {
  if (redis.endpoint.mode === 'cluster') {
    return new Cluster(
      redis.endpoint.nodes.map(({ host, port }) => ({ host, port })),
      clusterOptions(redis, role, name),
    );
  }
  const { url, ...options } = redisConnectionOptions(redis, role, name);
  if (url) return new Redis(url, options);
  return new SentinelClient({ ...(options as IORedisOptions), replyMapping: 'legacy' });
}

/** Clients made for BullMQ, by the config they were made for: BullMQ does not close a client it was given. */
const ownedByConfig = new WeakMap<AppRedis, Set<RedisClient>>();

/**
 * The connection BullMQ opens for `role`: options for one server (BullMQ builds and closes the
 * client); with Sentinel or Cluster, a client of ours (BullMQ builds only plain single-node
 * clients, see SentinelClient). Those are closed by `closeBullConnections`, after BullMQ has
 * stopped using them.
 */
export function bullConnection(redis: AppRedis, role: RedisConnectionRole, name: RedisConnectionName): ConnectionOptions {
  if (redis.endpoint.mode === 'standalone') return redisConnectionOptions(redis, role, name);
  const client = createRedisClient(redis, role, name);
  // BullMQ listens on the connections it uses, but may only duplicate this one (QueueEvents and
  // a worker's blocking reads): its failed reconnects would be unhandled 'error' events.
  client.on('error', () => undefined);
  const owned = ownedByConfig.get(redis) ?? new Set<RedisClient>();
  ownedByConfig.set(redis, owned);
  owned.add(client);
  return client as unknown as ConnectionOptions;
}

/** Closes one client bullConnection made, once BullMQ is done with it (a replaced worker's). */
export async function releaseBullConnection(redis: AppRedis, connection: ConnectionOptions): Promise<void> {
  const client = connection as unknown as RedisClient;
  if (ownedByConfig.get(redis)?.delete(client)) await closeOwned(client);
}

export async function closeBullConnections(redis: AppRedis): Promise<void> {
  const owned = ownedByConfig.get(redis);
  if (!owned) return;
  ownedByConfig.delete(redis);
  await Promise.all([...owned].map(closeOwned));
}

/** Quits a client made for BullMQ (quit fails at once while Redis is away), then drops what is left of it. */
async function closeOwned(client: RedisClient): Promise<void> {
  await client.quit().catch(() => undefined);
  client.disconnect();
}

/**
 * The prefix of every task key (the BullMQ queue's and ballast's own task keys). In a Cluster a
 * BullMQ queue's keys must share one hash slot (its scripts touch several at once), so the
 * prefix is a hash tag there: `{ballast}`. Items keep the plain prefix and spread over the shards.
 * One server and Sentinel keep the plain prefix, so upgrading loses nothing queued.
 */
export function taskKeyPrefix(redis: AppRedis): string {
  return redis.endpoint.mode === 'cluster' ? `{${redis.prefix}}` : redis.prefix;
}

/**
 * The node connection that serves `key`: in a Cluster, the primary owning its slot (WAIT and
 * replication questions are per node); otherwise the client itself.
 */
export function nodeFor(client: RedisClient, key: string): Redis | undefined {
  if (!(client instanceof Cluster) && !(client as { isCluster?: boolean }).isCluster) return client as Redis;
  const cluster = client as Cluster;
  const owner = cluster.slots[calculateSlot(key)]?.[0];
  return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === owner);
}
