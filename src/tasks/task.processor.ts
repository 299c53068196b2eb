import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { UnrecoverableError, Worker, type ConnectionOptions, type Job, type MinimalJob, type WorkerOptions } from 'bullmq';
import { AttemptAbort } from './attempt-abort.js';
import { retryDelayMs } from './handlers/retry-delay.js';
import { jobInput, jobType, type TaskJobData } from './bull-job-view.js';
import { CANCELLED_ERROR, INTERRUPTED, TaskRunner } from './task-runner.js';
import { TASK_QUEUE_NAME, type TaskWorkerHandle } from './tasks.constants.js';

const logger = new Logger('TaskWorker');
/** The longest gap between stalled-job checks, whatever TASK_LOCK_MS is. */
const STALLED_CHECK_MAX_MS = 5_000;
/** The backoff type ballast's jobs name, computed by retryDelayMs from the policy in the job. */
export const BACKOFF_TYPE = 'ballast';

/** A job's backoff policy travels in its options: the worker that retries it needs no registry. */
export interface BallastBackoff {
  readonly type: typeof BACKOFF_TYPE;
  readonly delay: number;
  readonly maxDelay: number;
}

const RUN_RETRY_DELAY_MS = 1_000;

/** Worker options are per deployment, hence a class made from the configuration. */
export function taskProcessorClass(options: {
  concurrency: number;
  lockMs: number;
  /** The worker's connection (one per worker); `release` closes it after the worker is closed. */
  connect: () => ConnectionOptions;
  release: (connection: ConnectionOptions) => Promise<void>;
  prefix: string;
}) {
  // One set of options for the worker @nestjs/bullmq starts and for any worker made to replace it.
  const workerOptions: WorkerOptions = {
    // Its own (blocking) connection: otherwise @nestjs/bullmq hands the worker the queue's.
    connection: options.connect(),
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockMs,
    // After a connection error (a failover), BullMQ waits this long before fetching again: 15 s
    // by default, which kept a worker idle for seconds after Redis was back. One second.
    runRetryDelay: RUN_RETRY_DELAY_MS,
    // BullMQ moves a job whose lock expired at the first stalled check after it (each check
    // marks the active jobs, the next moves those still without a lock): a dead worker's job
    // runs again within lockMs + this interval. At lockMs (30 s) that was up to a minute; every
    // 5 s it is at most lockMs + 5 s, for one short script per interval (one check per queue).
    stalledInterval: Math.min(options.lockMs, STALLED_CHECK_MAX_MS),
    settings: {
      backoffStrategy: (attemptsMade: number, _type?: string, _error?: Error, job?: MinimalJob) => {
        const backoff = job?.opts.backoff as BallastBackoff | undefined;
        return retryDelayMs({ attempts: 0, backoffMs: backoff?.delay ?? 0, backoffMaxMs: backoff?.maxDelay ?? 0 }, attemptsMade);
      },
    },
  };

  @Processor(TASK_QUEUE_NAME, workerOptions)
  class TaskProcessor extends WorkerHost implements TaskWorkerHandle {
    readonly concurrency = options.concurrency;
    private active = 0;
    private replaced = false;
    private lastStarted: number | undefined;
    private closing = false;
    private lastError = '';
    private readonly finishedListeners: ((job: Job<TaskJobData>) => void)[] = [];
    /** Cancels heard before this worker held the job (it was being fetched): checked at start. */
    private readonly cancelledEarly = new Set<string>();
    /**
     * The attempts running here, by job id. Ours, not BullMQ's: a processor declaring BullMQ's
     * signal parameter gets an AbortController made for every job, which AttemptAbort makes
     * only for a handler that asks for the signal.
     */
    private readonly running = new Map<string, AttemptAbort>();

    constructor(private readonly runner: TaskRunner) {
      super();
    }

    onModuleInit(): void {
      this.listenTo(this.worker);
    }

    private listenTo(worker: Worker): void {
      // Without a listener BullMQ prints every reconnect failure to the console.
      worker.on('error', (error) => {
        if (error.message !== this.lastError) logger.warn(`worker: ${error.message}`);
        this.lastError = error.message;
      });
      const finished = (job: Job<TaskJobData>) => {
        for (const listener of this.finishedListeners) listener(job);
      };
      worker.on('completed', finished);
      // A job that will be retried is not finished; a failure without a job has nothing to say.
      worker.on('failed', (job) => {
        if (job?.finishedOn) finished(job);
      });
    }

    /**
     * A new worker in place of this one, whose fetch loop is stuck (SilentWorkerWatch). The old
     * one is closed without force: the jobs it runs finish there and report as before; it
     * fetches nothing more. False once the worker is closing (shutdown).
     */
    replace(): boolean {
      if (this.closing) return false;
      const stuck = this.worker;
      const fresh = new Worker<TaskJobData>(TASK_QUEUE_NAME, (job) => this.process(job), {
        ...workerOptions,
        connection: options.connect(),
      });
      this.listenTo(fresh);
      // WorkerHost reads its worker from this field, as @nestjs/bullmq's explorer set it.
      (this as unknown as { _worker: Worker })._worker = fresh;
      this.replaced = true;
      stuck
        .close()
        .catch((error: Error) => logger.warn(`closing the replaced worker: ${error.message}`))
        .finally(() => void options.release(stuck.opts.connection));
      return true;
    }

    /** @nestjs/bullmq closes the worker it started; a replacement is ours to close. */
    async onModuleDestroy(): Promise<void> {
      if (this.replaced) await this.close();
    }

    lastStartedAt(): number | undefined {
      return this.lastStarted;
    }

    // Fewer than three declared parameters: BullMQ then makes no AbortController per job (see `running`).
    async process(job: Job<TaskJobData>): Promise<unknown> {
      const id = job.id!;
      const abort = new AttemptAbort();
      this.active += 1;
      this.lastStarted = Date.now();
      this.running.set(id, abort);
      try {
        if (this.cancelledEarly.delete(id)) throw new UnrecoverableError(CANCELLED_ERROR);
        const outcome = await this.runner.run(
          {
            id,
            type: jobType(job.data),
            input: jobInput(job.data),
            createdAtMs: job.timestamp + (job.opts.delay ?? 0),
            attempt: job.attemptsMade + 1,
            attempts: job.opts.attempts ?? 1,
          },
          abort,
          (percent) => job.updateProgress(percent),
        );
        switch (outcome.kind) {
          case 'completed':
            return outcome.result;
          case 'cancelled':
            throw new UnrecoverableError(CANCELLED_ERROR);
          case 'interrupted':
            // Not a verdict on the task: the lock expires and another worker runs it.
            throw new Error(INTERRUPTED);
          case 'failed':
            throw outcome.retry ? new Error(outcome.error) : new UnrecoverableError(outcome.error);
        }
      } finally {
        this.active -= 1;
        this.running.delete(id);
      }
    }

    /** A cancel for `id`, from any instance: aborts its handler if this worker runs it. */
    cancel(id: string): void {
      const running = this.running.get(id);
      if (running) return running.abort(CANCELLED_ERROR);
      // Not running here (yet): remember it briefly in case this worker is fetching it now.
      this.cancelledEarly.add(id);
      setTimeout(() => this.cancelledEarly.delete(id), 10_000).unref();
    }

    onFinished(listener: (job: Job<TaskJobData>) => void): void {
      this.finishedListeners.push(listener);
    }

    close(force = false): Promise<void> {
      this.closing = true;
      if (force) for (const abort of this.running.values()) abort.abort(INTERRUPTED);
      return this.worker.close(force);
    }

    activeCount(): number {
      return this.active;
    }
  }
  return TaskProcessor;
}
