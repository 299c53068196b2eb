import type { Redis } from 'ioredis';
import type { Item, ItemId } from './item.js';
import type { ItemStore } from './item-store.js';
import { whileStoreReachable } from '../redis/while-store-reachable.js';

/**
 * Items as JSON strings under `<prefix>:item:<id>`. Single-key commands with NX/XX
 * make create and replace atomic without transactions, and the data outlives the
 * process, so every instance sharing the Redis sees the same items.
 */
export class RedisItemStore implements ItemStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async get(id: ItemId): Promise<Item | undefined> {
    const raw = await whileStoreReachable(() => this.redis.get(this.key(id)));
    return raw === null ? undefined : (JSON.parse(raw) as Item);
  }

  async create(id: ItemId, item: Item): Promise<boolean> {
    const reply = await whileStoreReachable(() => this.redis.set(this.key(id), JSON.stringify(item), 'NX'));
    return reply === 'OK';
  }

  async replace(id: ItemId, item: Item): Promise<boolean> {
    const reply = await whileStoreReachable(() => this.redis.set(this.key(id), JSON.stringify(item), 'XX'));
    return reply === 'OK';
  }

  async delete(id: ItemId): Promise<boolean> {
    return (await whileStoreReachable(() => this.redis.del(this.key(id)))) === 1;
  }

  private key(id: ItemId): string {
    return `${this.prefix}:item:${id}`;
  }
}
