import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../ops/metrics.service.js';
import { TASK_STATUSES } from './task.js';
import { TaskTypes } from './handlers/task-types.js';
import { TaskQueue, type TaskCounts } from './task-queue.js';

/** Counts are read from the queue (Redis with BullMQ) at most this often, however often it is scraped. */
const COUNTS_MAX_AGE_MS = 1_000;
const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/** How an attempt ended: `retried` failed with attempts left; `interrupted` by a forced shutdown. */
export type AttemptOutcome = 'completed' | 'failed' | 'retried' | 'cancelled' | 'interrupted';
const OUTCOMES: readonly AttemptOutcome[] = ['completed', 'failed', 'retried', 'cancelled', 'interrupted'];

/**
 * How tasks run on this instance, per type: time from creation to start (wait), run time and
 * how each attempt ended. Recorded where a task runs, so the fleet's figures are the sum over
 * its instances.
 */
@Injectable()
export class TaskRunMetrics implements OnApplicationBootstrap {
  private readonly wait: Histogram<'type'>;
  private readonly run: Histogram<'type' | 'outcome'>;
  private readonly finishedTotal: Counter<'type' | 'outcome'>;

  constructor(
    metrics: MetricsService,
    private readonly types: TaskTypes,
  ) {
    const registers = [metrics.registry];
    this.wait = new Histogram({
      name: 'ballast_task_wait_seconds',
      help: 'Time from a task being created (or due) to a worker starting an attempt, by type',
      labelNames: ['type'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.run = new Histogram({
      name: 'ballast_task_run_seconds',
      help: 'Time an attempt ran, by type and outcome (completed, failed, retried, cancelled, interrupted)',
      labelNames: ['type', 'outcome'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.finishedTotal = new Counter({
      name: 'ballast_tasks_finished_total',
      help: 'Attempts this instance ran to an end, by type and outcome (retried: failed with attempts left)',
      labelNames: ['type', 'outcome'],
      registers,
    });
  }

  /** Every registered type's series from the start: rate() over a series that appears only at the first failure misses it. */
  onApplicationBootstrap(): void {
    for (const type of this.types.names()) {
      this.wait.zero({ type });
      for (const outcome of OUTCOMES) {
        this.finishedTotal.inc({ type, outcome }, 0);
        this.run.zero({ type, outcome });
      }
    }
  }

  started(type: string, dueAtMs: number, nowMs: number): void {
    this.wait.observe({ type }, Math.max(0, nowMs - dueAtMs) / 1000);
  }

  finished(type: string, outcome: AttemptOutcome, runMs: number): void {
    this.run.observe({ type, outcome }, runMs / 1000);
    this.finishedTotal.inc({ type, outcome });
  }
}

/**
 * The queue's state as gauges: tasks per status and the age of the one waiting longest. With
 * BullMQ every instance reads the same shared queue (aggregate with max, not sum); a read that
 * fails (Redis away) drops the series rather than report stale numbers.
 */
@Injectable()
export class TaskQueueMetrics {
  private cached?: { readonly atMs: number; readonly counts: Promise<TaskCounts | undefined> };

  constructor(metrics: MetricsService, queue: TaskQueue) {
    const read = (): Promise<TaskCounts | undefined> => {
      const now = Date.now();
      if (!this.cached || now - this.cached.atMs >= COUNTS_MAX_AGE_MS) {
        this.cached = { atMs: now, counts: queue.counts(now).catch(() => undefined) };
      }
      return this.cached.counts;
    };
    new Gauge({
      name: 'ballast_tasks',
      help: 'Tasks in the queue by status (finished ones as long as they are kept)',
      labelNames: ['status'],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        const counts = await read();
        if (!counts) return;
        for (const status of TASK_STATUSES) this.set({ status }, counts[status]);
      },
    });
    new Gauge({
      name: 'ballast_tasks_oldest_queued_seconds',
      help: 'How long the task waiting longest has waited (0 when none waits)',
      registers: [metrics.registry],
      async collect() {
        this.reset();
        const counts = await read();
        if (counts) this.set(counts.oldestQueuedMs / 1000);
      },
    });
  }
}
