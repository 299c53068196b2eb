import type { RedisClient } from '../redis/redis-connection.js';
import type { Item, ItemId } from './item.js';
import type { ItemStore } from './item-store.js';
import { whileStoreReachable, type StoreGate } from '../redis/while-store-reachable.js';

/**
 * Items as JSON strings under `<prefix>:item:<id>`. Single-key commands with NX/XX
 * make create and replace atomic without transactions, and the data outlives the
 * process, so every instance sharing the Redis sees the same items.
 */
export class RedisItemStore implements ItemStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** RedisHealth.usable in the app: fail at once while Redis is known away. */
    private readonly usable?: StoreGate,
  ) {}

  async get(id: ItemId): Promise<Item | undefined> {
    const raw = await whileStoreReachable(() => this.redis.get(this.key(id)), this.usable);
    return raw === null ? undefined : (JSON.parse(raw) as Item);
  }

  async create(id: ItemId, item: Item): Promise<boolean> {
    const reply = await whileStoreReachable(() => this.redis.set(this.key(id), JSON.stringify(item), 'NX'), this.usable);
    return reply === 'OK';
  }

  async replace(id: ItemId, item: Item): Promise<boolean> {
    const reply = await whileStoreReachable(() => this.redis.set(this.key(id), JSON.stringify(item), 'XX'), this.usable);
    return reply === 'OK';
  }

  async delete(id: ItemId): Promise<boolean> {
    return (await whileStoreReachable(() => this.redis.del(this.key(id)), this.usable)) === 1;
  }

  private key(id: ItemId): string {
    return `${this.prefix}:item:${id}`;
  }
}
