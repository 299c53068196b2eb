import { LRUCache } from 'lru-cache';
import { IdempotencyKeys, type IdempotencyRecord } from './idempotency-keys.js';

/** Keys of this process only (the in-memory task driver's companion); bounded in count. */
export class MemoryIdempotencyKeys extends IdempotencyKeys {
  private readonly records = new LRUCache<string, IdempotencyRecord>({ max: 100_000 });

  async claim(key: string, record: IdempotencyRecord, ttlMs: number): Promise<IdempotencyRecord | undefined> {
    const held = this.records.get(key);
    if (held) return held;
    this.records.set(key, record, { ttl: ttlMs });
    return undefined;
  }

  async release(key: string, record: IdempotencyRecord): Promise<void> {
    if (this.records.get(key)?.taskId === record.taskId) this.records.delete(key);
  }
}
