import { DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { AppConfig, ConfigModule } from './config/index.js';
import { LifecycleModule } from './lifecycle/index.js';
import { DtoValidationPipe } from './ops/dto-validation.pipe.js';
import { OpsModule } from './ops/ops.module.js';
import { ViewsModule } from './views/views.module.js';

const validation = { provide: APP_PIPE, useClass: DtoValidationPipe };

/** Composes the feature modules for the configured role. */
@Module({})
export class AppModule {
  /**
   * `extra`: the embedding application's modules (task handlers, say), with the service's features.
   * Each role loads only its own modules: a balancer never reads BullMQ, ioredis or the task
   * code, a service never reads the proxy's.
   */
  static async forRoot(config: AppConfig, extra: Type[] = []): Promise<DynamicModule> {
    const shared = [ConfigModule.forRoot(config), LifecycleModule, OpsModule.forRoot(config), ViewsModule.forRoot(config)];
    const features =
      config.role === 'service' ? await serviceModules(config, extra) : [(await import('./balancer/balancer.module.js')).BalancerModule];
    return {
      module: AppModule,
      imports: [...shared, ...features],
      providers: [validation],
    };
  }
}

async function serviceModules(config: AppConfig, extra: Type[]): Promise<(Type | DynamicModule)[]> {
  const [{ RedisModule }, { ReadinessModule }, { ItemsModule }, { SmartModule }, { TasksModule }] = await Promise.all([
    import('./redis/redis.module.js'),
    import('./readiness/readiness.module.js'),
    import('./items/items.module.js'),
    import('./smart/smart.module.js'),
    import('./tasks/tasks.module.js'),
  ]);
  return [RedisModule.forRoot(config), ReadinessModule, ItemsModule.forRoot(config), SmartModule, TasksModule.forRoot(config), ...extra];
}
