import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module, type Provider } from '@nestjs/common';
import type { AppConfig } from '../config/index.js';
import { redisConnectionOptions } from '../redis/redis-connection.js';
import { BullTaskQueue } from './bull-task-queue.js';
import { MemoryTaskQueue } from './memory-task-queue.js';
import { taskProcessorClass } from './task.processor.js';
import { TaskQueue } from './task-queue.js';
import { TaskQueueMetrics, TaskRunMetrics } from './task-metrics.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskWorkerHandle } from './tasks.constants.js';
import { TasksController } from './tasks.controller.js';
import { TaskQueueDrain } from './task-queue-drain.js';
import { TasksGateway } from './tasks.gateway.js';
import { TasksService } from './tasks.service.js';

@Module({})
export class TasksModule {
  static forRoot(config: AppConfig): DynamicModule {
    const shared = { module: TasksModule, controllers: [TasksController] };
    const common: Provider[] = [TasksGateway, TasksService, TaskQueueDrain, TaskRunMetrics, TaskQueueMetrics];
    if (!config.redis) {
      return {
        ...shared,
        // In memory every task is local, so this instance must work on them.
        providers: [
          ...common,
          {
            provide: TaskQueue,
            inject: [TaskRunMetrics],
            useFactory: (metrics: TaskRunMetrics) => new MemoryTaskQueue(Math.max(1, config.tasks.concurrency), metrics),
          },
        ],
      };
    }
    const worker: Provider[] = [];
    if (config.tasks.concurrency > 0) {
      const processor = taskProcessorClass({
        concurrency: config.tasks.concurrency,
        lockMs: config.tasks.lockMs,
        connection: redisConnectionOptions(config.redis, 'blocking'),
      });
      // A plain handle, not an alias of the processor: @nestjs/bullmq starts a Worker for every
      // provider whose instance is a @Processor class, and an alias made it start two.
      worker.push(processor, {
        provide: TASK_WORKER,
        inject: [processor],
        useFactory: (p: TaskWorkerHandle): TaskWorkerHandle => ({
          close: (force) => p.close(force),
          activeCount: () => p.activeCount(),
          onFinished: (listener) => p.onFinished(listener),
        }),
      });
    }
    return {
      ...shared,
      imports: [
        // Workers and events block on Redis (see the processor); the queue serves request paths and fails fast.
        BullModule.forRoot({ connection: redisConnectionOptions(config.redis, 'command'), prefix: `${config.redis.prefix}:bull` }),
        BullModule.registerQueue({ name: TASK_QUEUE_NAME }),
      ],
      providers: [...common, ...worker, BullTaskQueue, { provide: TaskQueue, useExisting: BullTaskQueue }],
    };
  }
}
