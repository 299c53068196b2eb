import type { RedisOptions } from 'bullmq';
import type { AppConfig } from '../config/index.js';

/**
 * `command`: request paths (items, adding and reading tasks) — a command waits at most
 * REDIS_COMMAND_TIMEOUT_MS (the first connection at boot, a reconnect under way, a Redis that
 * stopped answering) and is retried once, so callers answer 503 instead of hanging; while the
 * connection is known lost, `RedisHealth.usable` fails them at once without sending.
 * `blocking`: BullMQ workers and QueueEvents — their blocking reads must wait out an outage
 * (BullMQ requires `maxRetriesPerRequest: null` there).
 */
export type RedisConnectionRole = 'command' | 'blocking';

/** What ioredis and BullMQ both accept: the URL (parsed and decoded by ioredis) plus the policy. */
export type RedisConnectionOptions = RedisOptions & { url: string };

const RECONNECT_CAP_MS = 2_000;

/**
 * The one connection policy for every Redis client ballast opens: the shared ioredis client,
 * the BullMQ queue, its workers and QueueEvents. The URL is handed to ioredis whole, so
 * usernames, passwords, db numbers and `rediss:` are read by the library, not by us.
 */
export function redisConnectionOptions(redis: NonNullable<AppConfig['redis']>, role: RedisConnectionRole): RedisConnectionOptions {
  return {
    url: redis.url,
    connectTimeout: 2_000,
    // After quit/disconnect, stop waiting for a dead socket to close (default 2 s keeps the process alive).
    disconnectTimeout: 200,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, RECONNECT_CAP_MS),
    ...(role === 'blocking' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, commandTimeout: redis.commandTimeoutMs }),
  };
}
