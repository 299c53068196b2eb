import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import type { ConnectionOptions, Job } from 'bullmq';
import { doDemoWork } from './demo-work.js';
import { TaskRunMetrics } from './task-metrics.js';
import { TASK_QUEUE_NAME, type TaskJobData, type TaskWorkerHandle } from './tasks.constants.js';

const logger = new Logger('TaskWorker');
/** The longest gap between stalled-job checks, whatever TASK_LOCK_MS is. */
const STALLED_CHECK_MAX_MS = 5_000;

/** Worker options are per deployment, hence a class made from the configuration. */
export function taskProcessorClass(options: { concurrency: number; lockMs: number; connection: ConnectionOptions }) {
  @Processor(TASK_QUEUE_NAME, {
    // Its own (blocking) connection: otherwise @nestjs/bullmq hands the worker the queue's.
    connection: options.connection,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    // BullMQ moves a job whose lock expired at the first stalled check after it (each check
    // marks the active jobs, the next moves those still without a lock): a dead worker's job
    // runs again within lockMs + this interval. At lockMs (30 s) that was up to a minute; every
    // 5 s it is at most lockMs + 5 s, for one short script per interval (one check per queue).
    stalledInterval: Math.min(options.lockMs, STALLED_CHECK_MAX_MS),
  })
  class TaskProcessor extends WorkerHost implements TaskWorkerHandle {
    private active = 0;
    private lastError = '';
    private readonly finishedListeners: ((job: Job<TaskJobData>) => void)[] = [];

    constructor(private readonly metrics: TaskRunMetrics) {
      super();
    }

    onModuleInit(): void {
      // Without a listener BullMQ prints every reconnect failure to the console.
      this.worker.on('error', (error) => {
        if (error.message !== this.lastError) logger.warn(`worker: ${error.message}`);
        this.lastError = error.message;
      });
      const finished = (job: Job<TaskJobData>) => {
        for (const listener of this.finishedListeners) listener(job);
      };
      this.worker.on('completed', finished);
      // A job that will be retried is not finished; a failure without a job has nothing to say.
      this.worker.on('failed', (job) => {
        if (job?.finishedOn) finished(job);
      });
    }

    async process(job: Job<TaskJobData>): Promise<unknown> {
      this.active += 1;
      const startedAt = Date.now();
      this.metrics.started(job.timestamp, startedAt);
      let outcome: 'completed' | 'failed' = 'failed';
      try {
        const result = await doDemoWork(job.data.durationMs, job.data.payload, (progress) => job.updateProgress(progress));
        outcome = 'completed';
        return result;
      } finally {
        this.active -= 1;
        this.metrics.finished(outcome, Date.now() - startedAt);
      }
    }

    onFinished(listener: (job: Job<TaskJobData>) => void): void {
      this.finishedListeners.push(listener);
    }

    close(force = false): Promise<void> {
      return this.worker.close(force);
    }

    activeCount(): number {
      return this.active;
    }
  }
  return TaskProcessor;
}
