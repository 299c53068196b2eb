import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../ops/metrics.service.js';
import { TaskQueue, type TaskCounts, type TaskRunObserver } from './task-queue.js';

/** Counts are read from the queue (Redis with BullMQ) at most this often, however often it is scraped. */
const COUNTS_MAX_AGE_MS = 1_000;
const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/**
 * How tasks run on this instance: time from creation to start (wait), run time and outcome.
 * Recorded where a task runs, so the fleet's figures are the sum over its instances.
 */
@Injectable()
export class TaskRunMetrics implements TaskRunObserver {
  private readonly wait: Histogram;
  private readonly run: Histogram<'outcome'>;
  private readonly finishedTotal: Counter<'outcome'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.wait = new Histogram({
      name: 'ballast_task_wait_seconds',
      help: 'Time from a task being created to a worker starting it',
      buckets: RUN_BUCKETS,
      registers,
    });
    this.run = new Histogram({
      name: 'ballast_task_run_seconds',
      help: 'Time a task ran, by outcome (completed, failed)',
      labelNames: ['outcome'],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.finishedTotal = new Counter({
      name: 'ballast_tasks_finished_total',
      help: 'Tasks this instance ran to an end, by outcome (completed, failed)',
      labelNames: ['outcome'],
      registers,
    });
    // Both outcomes from the start: rate() over a series that appears only at the first failure misses it.
    for (const outcome of ['completed', 'failed']) {
      this.finishedTotal.inc({ outcome }, 0);
      this.run.zero({ outcome });
    }
  }

  started(createdAtMs: number, nowMs: number): void {
    this.wait.observe(Math.max(0, nowMs - createdAtMs) / 1000);
  }

  finished(outcome: 'completed' | 'failed', runMs: number): void {
    this.run.observe({ outcome }, runMs / 1000);
    this.finishedTotal.inc({ outcome });
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
      help: 'Tasks in the queue by status (queued, active, completed, failed; finished ones as long as they are kept)',
      labelNames: ['status'],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        const counts = await read();
        if (!counts) return;
        for (const status of ['queued', 'active', 'completed', 'failed'] as const) this.set({ status }, counts[status]);
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
