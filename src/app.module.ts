import { DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { BalancerModule } from './balancer/balancer.module.js';
import { AppConfig, ConfigModule } from './config/index.js';
import { ItemsModule } from './items/items.module.js';
import { LifecycleModule } from './lifecycle/index.js';
import { DtoValidationPipe } from './ops/dto-validation.pipe.js';
import { OpsModule } from './ops/ops.module.js';
import { ReadinessModule } from './readiness/readiness.module.js';
import { RedisModule } from './redis/redis.module.js';
import { SmartModule } from './smart/smart.module.js';
import { TasksModule } from './tasks/tasks.module.js';
import { ViewsModule } from './views/views.module.js';

const validation = { provide: APP_PIPE, useClass: DtoValidationPipe };

/** Composes the feature modules for the configured role. */
@Module({})
export class AppModule {
  /** `extra`: the embedding application's modules (task handlers, say), with the service's features. */
  static forRoot(config: AppConfig, extra: Type[] = []): DynamicModule {
    const shared = [ConfigModule.forRoot(config), LifecycleModule, OpsModule.forRoot(config), ViewsModule.forRoot(config)];
    const features =
      config.role === 'service'
        ? [RedisModule.forRoot(config), ReadinessModule, ItemsModule.forRoot(config), SmartModule, TasksModule.forRoot(config), ...extra]
        : [BalancerModule];
    return {
      module: AppModule,
      imports: [...shared, ...features],
      providers: [validation],
    };
  }
}
