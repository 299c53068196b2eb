import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { describeWithRedis, uniquePrefix } from '../../test/support/redis.js';
import type { RedisClient } from '../redis/redis-connection.js';
import { StoreUnavailableError } from '../errors/index.js';
import { itemStoreContract } from './item-store.contract.js';
import { RedisItemStore } from './redis-item-store.js';

describeWithRedis('RedisItemStore', (redis) => {
  const clients: RedisClient[] = [];
  const client = () => {
    const made = redis().client();
    clients.push(made);
    return made;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((made) => made.quit()));
  });

  // A fresh prefix per test keeps tests (and parallel runs on one Redis) apart.
  itemStoreContract('RedisItemStore', () => new RedisItemStore(client(), uniquePrefix()));

  describe('beyond the contract', () => {
    it('keeps items across clients, as a restarted instance sees them', async () => {
      const prefix = uniquePrefix();
      await new RedisItemStore(client(), prefix).create(42, { name: 'Foo', description: null, price: 1, tax: null });
      const afterRestart = new RedisItemStore(client(), prefix);
      expect(await afterRestart.get(42)).toEqual({ name: 'Foo', description: null, price: 1, tax: null });
    });

    it('reports an unreachable Redis as StoreUnavailableError', async () => {
      const unreachable = new Redis('redis://127.0.0.1:1', {
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        lazyConnect: true,
        disconnectTimeout: 0,
      });
      unreachable.on('error', () => undefined);
      const store = new RedisItemStore(unreachable, uniquePrefix());
      await expect(store.get(1)).rejects.toBeInstanceOf(StoreUnavailableError);
      unreachable.disconnect();
    });
  });
});
