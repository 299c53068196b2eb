import type { RedisOptions } from 'bullmq';
import type { AppConfig } from '../config/index.js';

/**
 * `command`: request paths (items, adding and reading tasks) — no offline queue and a command
 * timeout, so while Redis is away a command fails at once (or within REDIS_COMMAND_TIMEOUT_MS
 * when Redis stops answering) and callers answer 503 instead of hanging.
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
    ...(role === 'blocking'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: redis.commandTimeoutMs }),
  };
}
