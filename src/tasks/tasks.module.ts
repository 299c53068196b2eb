import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Logger, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { AppConfig } from '../config/index.js';
import { bullConnection, releaseBullConnection, taskKeyPrefix } from '../redis/redis-connection.js';
import { RedisHealth } from '../redis/redis-health.js';
import { AsyncApiController } from './asyncapi.controller.js';
import { BullTaskQueue } from './bull-task-queue.js';
import { DemoTaskHandler } from './handlers/demo.handler.js';
import { TaskTypes } from './handlers/task-types.js';
import { IdempotencyKeys } from './idempotency/idempotency-keys.js';
import { MemoryIdempotencyKeys } from './idempotency/memory-idempotency-keys.js';
import { RedisIdempotencyKeys } from './idempotency/redis-idempotency-keys.js';
import { MemoryTaskQueue } from './memory-task-queue.js';
import { taskProcessorClass } from './task.processor.js';
import { TaskQueue } from './task-queue.js';
import { TaskQueueMetrics, TaskRunMetrics } from './task-metrics.js';
import { TaskRunner } from './task-runner.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskWorkerHandle } from './tasks.constants.js';
import { TasksController } from './tasks.controller.js';
import { TaskQueueDrain } from './task-queue-drain.js';
import { TasksGateway } from './tasks.gateway.js';
import { TasksService } from './tasks.service.js';
import { TaskWorkerWatchdog } from './task-worker-watchdog.js';

@Module({})
export class TasksModule {
  static forRoot(config: AppConfig): DynamicModule {
    const shared = { module: TasksModule, controllers: [TasksController, AsyncApiController] };
    const common: Provider[] = [
      TasksGateway,
      TasksService,
      TaskQueueDrain,
      TaskRunMetrics,
      TaskQueueMetrics,
      TaskTypes,
      TaskRunner,
      DemoTaskHandler,
    ];
    if (!config.redis) {
      return {
        ...shared,
        imports: [DiscoveryModule],
        // In memory every task is local, so this instance must work on them.
        providers: [
          ...common,
          {
            provide: TaskQueue,
            inject: [TaskRunner],
            useFactory: (runner: TaskRunner) => {
              const logger = new Logger('Tasks');
              return new MemoryTaskQueue(Math.max(1, config.tasks.concurrency), runner, (message) => logger.warn(message));
            },
          },
          { provide: IdempotencyKeys, useValue: new MemoryIdempotencyKeys() },
        ],
      };
    }
    const redis = config.redis;
    const bullPrefix = `${taskKeyPrefix(redis)}:bull`;
    const worker: Provider[] = [];
    if (config.tasks.concurrency > 0) {
      const processor = taskProcessorClass({
        concurrency: config.tasks.concurrency,
        lockMs: config.tasks.lockMs,
        // A replacement worker gets connections of its own: the stuck one's may be what is stuck.
        connect: () => bullConnection(redis, 'blocking', 'worker'),
        release: (connection) => releaseBullConnection(redis, connection),
        prefix: bullPrefix,
      });
      // A plain handle, not an alias of the processor: @nestjs/bullmq starts a Worker for every
      // provider whose instance is a @Processor class, and an alias made it start two.
      worker.push(processor, {
        provide: TASK_WORKER,
        inject: [processor],
        useFactory: (p: TaskWorkerHandle): TaskWorkerHandle => ({
          close: (force) => p.close(force),
          activeCount: () => p.activeCount(),
          concurrency: p.concurrency,
          lastStartedAt: () => p.lastStartedAt(),
          replace: () => p.replace(),
          cancel: (id) => p.cancel(id),
          onFinished: (listener) => p.onFinished(listener),
        }),
      });
      if (config.tasks.workerSilentMs > 0) worker.push(TaskWorkerWatchdog);
    }
    return {
      ...shared,
      imports: [
        DiscoveryModule,
        // Workers and events block on Redis (see the processor); the queue serves request paths and fails fast.
        BullModule.forRoot({ connection: bullConnection(redis, 'command', 'queue'), prefix: bullPrefix }),
        BullModule.registerQueue({ name: TASK_QUEUE_NAME }),
      ],
      providers: [
        ...common,
        ...worker,
        BullTaskQueue,
        { provide: TaskQueue, useExisting: BullTaskQueue },
        {
          provide: IdempotencyKeys,
          inject: [RedisHealth],
          useFactory: (health: RedisHealth) => new RedisIdempotencyKeys(health.client, taskKeyPrefix(redis), () => health.usable()),
        },
      ],
    };
  }
}
