import type { RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
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

/** What ioredis and BullMQ both accept: the URL (parsed and decoded by ioredis) or the Sentinel nodes, plus the policy. */
export type RedisConnectionOptions = RedisOptions & { url?: string };

const RECONNECT_CAP_MS = 2_000;

/**
 * The one connection policy for every Redis client ballast opens: the shared ioredis client,
 * the BullMQ queue, its workers and QueueEvents, the cancel channel. A URL is handed to ioredis
 * whole, so usernames, passwords, db numbers and `rediss:` are read by the library, not by us;
 * with Sentinel, ioredis asks the sentinels for the current primary on every (re)connect and
 * listens for their +switch-master, so a failover moves every client to the new primary.
 */
export function redisConnectionOptions(redis: NonNullable<AppConfig['redis']>, role: RedisConnectionRole): RedisConnectionOptions {
  return {
    ...endpointOptions(redis.endpoint),
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

/** An ioredis client with the connection policy for `role`. */
export function createRedisClient(redis: NonNullable<AppConfig['redis']>, role: RedisConnectionRole): Redis {
  const { url, ...options } = redisConnectionOptions(redis, role);
  return url ? new Redis(url, options) : new Redis(options);
}
