import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { AppConfig } from '../config/index.js';
import { redisConnectionOptions } from './redis-connection.js';
import { REDIS_CLIENT } from './redis.constants.js';

/** Closes the shared client last, after the modules that use it have stopped. */
@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * One shared ioredis client when `REDIS_URL` is set. Commands fail fast while Redis is
 * unreachable (one retry) instead of queueing forever, so callers can answer 503.
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
          useFactory: () => {
            const logger = new Logger('Redis');
            const { url, ...options } = redisConnectionOptions(redis, 'command');
            const client = new Redis(url, options);
            let lastError = '';
            client.on('error', (error: Error) => {
              // ioredis emits on every reconnect attempt; log each distinct failure once.
              if (error.message !== lastError) logger.warn(`Redis connection: ${error.message}`);
              lastError = error.message;
            });
            client.on('ready', () => {
              lastError = '';
            });
            return client;
          },
        },
        RedisCloser,
      ],
      exports: [REDIS_CLIENT],
    };
  }
}
