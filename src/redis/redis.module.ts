import { DynamicModule, Global, Module } from '@nestjs/common';
import type { AppConfig } from '../config/index.js';
import { createRedisClient } from './redis-connection.js';
import { RedisHealth } from './redis-health.js';
import { REDIS_CLIENT } from './redis.constants.js';

/**
 * One shared ioredis client when `REDIS_URL` is set, for request paths: commands fail fast
 * while Redis is unreachable (see redis-connection.ts), so callers answer 503 instead of hanging. `RedisHealth` reports on it and closes it last.
 */
@Global()
@Module({})
export class RedisModule {
  static forRoot(config: AppConfig): DynamicModule {
    if (!config.redis) return { module: RedisModule };
    const redis = config.redis;
    return {
      module: RedisModule,
      providers: [
        {
          provide: REDIS_CLIENT,
          useFactory: () => createRedisClient(redis, 'command', 'requests'),
        },
        RedisHealth,
      ],
      exports: [REDIS_CLIENT, RedisHealth],
    };
  }
}
