import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { Counter } from 'prom-client';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { MetricsService } from '../ops/metrics.service.js';
import { RedisHealth } from '../redis/redis-health.js';
import { SilentWorkerWatch } from './silent-worker-watch.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskWorkerHandle } from './tasks.constants.js';

/** Looks at most this far apart, and at least four times per silent period. */
const LOOK_MAX_MS = 1_000;
const LOOK_MIN_MS = 100;

/**
 * Replaces this instance's worker when it stays silent while jobs wait (SilentWorkerWatch):
 * BullMQ resets a blocking read that never returns, but a fetch loop can stall in other ways
 * (a client ended in a failover and never connected again), and then the instance looks
 * healthy while it works on nothing. One read of two counts per look.
 */
@Injectable()
export class TaskWorkerWatchdog implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('TaskWorker');
  private readonly watch: SilentWorkerWatch;
  private readonly replacedTotal: Counter;
  private timer?: NodeJS.Timeout;
  private looking = false;

  constructor(
    @InjectQueue(TASK_QUEUE_NAME) private readonly queue: Queue,
    @Inject(TASK_WORKER) private readonly worker: TaskWorkerHandle,
    private readonly redis: RedisHealth,
    @InjectConfig() private readonly config: AppConfig,
    metrics: MetricsService,
  ) {
    this.watch = new SilentWorkerWatch(config.tasks.workerSilentMs);
    this.replacedTotal = new Counter({
      name: 'ballast_task_workers_replaced_total',
      help: 'Workers replaced because they took no job while jobs waited and they had free slots (TASK_WORKER_SILENT_MS)',
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    const silentMs = this.config.tasks.workerSilentMs;
    if (silentMs === 0) return;
    const everyMs = Math.max(LOOK_MIN_MS, Math.min(LOOK_MAX_MS, Math.floor(silentMs / 4)));
    this.timer = setInterval(() => void this.look(), everyMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private async look(): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    try {
      // Redis away: the store is at fault, and a new worker would fare no better.
      if (!(await this.redis.usable())) return this.watch.reset();
      const counts = await this.queue.getJobCounts('wait', 'prioritized');
      const ready = (counts.wait ?? 0) + (counts.prioritized ?? 0);
      const silent = this.watch.observe({
        atMs: Date.now(),
        ready,
        active: this.worker.activeCount(),
        concurrency: this.worker.concurrency,
        lastStartedAtMs: this.worker.lastStartedAt(),
      });
      if (silent && this.worker.replace()) {
        this.replacedTotal.inc();
        this.logger.warn(
          `the worker took no job for ${this.config.tasks.workerSilentMs} ms while ${ready} waited and it had free slots: replaced by a new worker`,
        );
      }
    } catch {
      this.watch.reset();
    } finally {
      this.looking = false;
    }
  }
}
