import { createHash } from 'node:crypto';
import type { RedisClient } from '../../redis/redis-connection.js';
import { whileStoreReachable, type StoreGate } from '../../redis/while-store-reachable.js';
import { IdempotencyKeys, type IdempotencyRecord } from './idempotency-keys.js';

/** Deletes the key only while it still holds the value given (another claim may have taken it since). */
const RELEASE_IF_HELD = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Keys shared by every instance: `SET NX PX` claims one atomically, so of 50 concurrent creates
 * with one key across the fleet exactly one queues a task. Stored under a hash of the key
 * (`<prefix>:tasks:idem:<sha256>`), so a client's key never shapes Redis key names.
 */
export class RedisIdempotencyKeys extends IdempotencyKeys {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly usable: StoreGate,
  ) {
    super();
  }

  async claim(key: string, record: IdempotencyRecord, ttlMs: number): Promise<IdempotencyRecord | undefined> {
    const redisKey = this.keyOf(key);
    const value = JSON.stringify(record);
    // Twice at most: a holder that expires between the SET and the GET leaves the key free.
    for (let round = 0; round < 2; round += 1) {
      const set = await whileStoreReachable(() => this.redis.set(redisKey, value, 'PX', ttlMs, 'NX'), this.usable);
      if (set === 'OK') return undefined;
      const held = await whileStoreReachable(() => this.redis.get(redisKey), this.usable);
      if (held) return JSON.parse(held) as IdempotencyRecord;
    }
    return undefined;
  }

  async release(key: string, record: IdempotencyRecord): Promise<void> {
    await whileStoreReachable(() => this.redis.eval(RELEASE_IF_HELD, 1, this.keyOf(key), JSON.stringify(record)), this.usable);
  }

  private keyOf(key: string): string {
    return `${this.prefix}:tasks:idem:${createHash('sha256').update(key).digest('base64url')}`;
  }
}
