import { DynamicModule, Module } from '@nestjs/common';
import type { RedisClient } from '../redis/redis-connection.js';
import type { AppConfig } from '../config/index.js';
import { RedisHealth } from '../redis/redis-health.js';
import { REDIS_CLIENT } from '../redis/redis.constants.js';
import { ITEM_STORE } from './item-store.js';
import { ItemsController } from './items.controller.js';
import { ItemsService } from './items.service.js';
import { MemoryItemStore } from './memory-item-store.js';
import { PingController } from './ping.controller.js';
import { RedisItemStore } from './redis-item-store.js';

@Module({})
export class ItemsModule {
  static forRoot(config: AppConfig): DynamicModule {
    const redis = config.redis;
    const store = redis
      ? {
          provide: ITEM_STORE,
          inject: [REDIS_CLIENT, RedisHealth],
          useFactory: (client: RedisClient, health: RedisHealth) => new RedisItemStore(client, redis.prefix, () => health.usable()),
        }
      : { provide: ITEM_STORE, useValue: new MemoryItemStore() };
    return {
      module: ItemsModule,
      controllers: [ItemsController, PingController],
      providers: [store, ItemsService],
    };
  }
}
