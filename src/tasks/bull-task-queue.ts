import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { Job, Queue, QueueEvents } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { redisConnectionOptions } from '../redis/redis-connection.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisHealth } from '../redis/redis-health.js';
import { whileStoreReachable } from '../redis/while-store-reachable.js';
import type { TaskSpec, TaskStatus, TaskUpdate, TaskView } from './task.js';
import { TaskQueue } from './task-queue.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskJobData, type TaskWorkerHandle } from './tasks.constants.js';

const KEEP_FINISHED = { age: 24 * 3600, count: 10_000 };
const CLOSE_WAIT_MS = 1_000;

/**
 * Tasks in Redis through BullMQ: durable once `add` resolves, processed by the workers
 * of every instance, and observed through QueueEvents, so a socket on any instance
 * hears about a task processed on any other.
 */
@Injectable()
export class BullTaskQueue extends TaskQueue implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Tasks');
  private readonly listeners: ((update: TaskUpdate) => void)[] = [];
  private readonly meta = new LRUCache<string, { clientId?: string; createdAt: string }>({ max: 50_000 });
  /** Per-job chains, so one job's events are handled in the order Redis sent them. */
  private readonly chains = new Map<string, Promise<void>>();
  private events?: QueueEvents;
  /** The shared client and the queue talk to the same Redis: when the one has lost it, so has the other. */
  private readonly usable = (): Promise<boolean> => this.redis.usable();

  constructor(
    @InjectQueue(TASK_QUEUE_NAME) private readonly queue: Queue<TaskJobData>,
    @InjectConfig() private readonly config: AppConfig,
    private readonly redis: RedisHealth,
    @Optional() @Inject(TASK_WORKER) private readonly worker?: TaskWorkerHandle,
  ) {
    super();
  }

  onModuleInit(): void {
    this.events = new QueueEvents(TASK_QUEUE_NAME, {
      connection: redisConnectionOptions(this.config.redis!, 'blocking'),
      prefix: this.queue.opts.prefix,
    });
    const on = (status: TaskStatus, extra: (args: Record<string, unknown>) => Partial<TaskView>) => (args: { jobId: string }) =>
      this.handle(args.jobId, status, extra(args as unknown as Record<string, unknown>));
    this.events.on(
      'waiting',
      on('queued', () => ({ progress: 0 })),
    );
    this.events.on(
      'active',
      on('active', () => ({})),
    );
    this.events.on(
      'progress',
      on('active', (args) => ({ progress: typeof args.data === 'number' ? args.data : 0 })),
    );
    this.events.on(
      'completed',
      on('completed', (args) => ({ progress: 100, result: args.returnvalue ?? null })),
    );
    this.events.on(
      'failed',
      on('failed', (args) => ({ error: String(args.failedReason ?? 'failed') })),
    );
    // Not awaited: the service must boot (and report 503 on /ready) while Redis is away.
    const warnOnce = onceEach((message) => this.logger.warn(message));
    this.events.on('error', (error) => warnOnce(`queue events: ${error.message}`));
    this.queue.on('error', (error) => warnOnce(`queue: ${error.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    // Bounded: with Redis away the events connection may never confirm its close.
    if (this.events) await Promise.race([this.events.close().catch(() => undefined), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
  }

  async add(spec: TaskSpec): Promise<TaskView> {
    const id = randomUUID();
    const createdAt = new Date().toISOString();
    this.meta.set(id, { clientId: spec.clientId, createdAt });
    await whileStoreReachable(
      () =>
        this.queue.add(
          'demo',
          { durationMs: spec.durationMs, payload: spec.payload ?? null, clientId: spec.clientId },
          { jobId: id, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
        ),
      this.usable,
    );
    return { id, status: 'queued', progress: 0, result: null, error: null, createdAt, finishedAt: null };
  }

  async get(id: string): Promise<TaskView | undefined> {
    // State first, then the job's hash: the hash is read later, so it is never older than the
    // state (read the other way round, a job finishing in between showed `completed` with
    // the result still null). A hash that has finished since wins over the state.
    const state = await whileStoreReachable(() => this.queue.getJobState(id), this.usable);
    const job = await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
    if (!job) return undefined;
    const status = job.finishedOn
      ? state === 'failed' || (job.failedReason && job.returnvalue == null)
        ? 'failed'
        : 'completed'
      : statusOf(state);
    return viewOf(job, status);
  }

  onUpdate(listener: (update: TaskUpdate) => void): void {
    this.listeners.push(listener);
  }

  async drain(): Promise<void> {
    if (!this.worker) return;
    if (!this.redis.reachable) {
      // The worker could not report its jobs done anyway. They stay in Redis, active with a
      // lock that expires: the stalled-job check (TASK_LOCK_MS) hands them to another worker.
      const active = this.worker.activeCount();
      this.logger.warn(`Redis unreachable at shutdown: leaving ${active} active jobs to the stalled-job check`);
      await this.worker.close(true);
      return;
    }
    // Closing the worker waits for its active jobs; waiting jobs stay in Redis.
    await this.worker.close();
  }

  pending(): string | undefined {
    const active = this.worker?.activeCount() ?? 0;
    return active > 0 ? `${active} jobs active on this worker` : undefined;
  }

  private handle(id: string, status: TaskStatus, change: Partial<TaskView>): void {
    const previous = this.chains.get(id) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const meta = this.meta.get(id) ?? (await this.fetchMeta(id));
        if (!meta) return;
        const finished = status === 'completed' || status === 'failed';
        const view: TaskView = {
          id,
          status,
          progress: 0,
          result: null,
          error: null,
          createdAt: meta.createdAt,
          finishedAt: finished ? new Date().toISOString() : null,
          ...change,
        };
        for (const listener of this.listeners) listener({ view, clientId: meta.clientId });
      })
      .catch((error: Error) => this.logger.warn(`task ${id} event: ${error.message}`))
      .finally(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      });
    this.chains.set(id, next);
  }

  private async fetchMeta(id: string): Promise<{ clientId?: string; createdAt: string } | undefined> {
    const job = await Job.fromId<TaskJobData>(this.queue, id);
    if (!job) return undefined;
    const meta = { clientId: job.data.clientId, createdAt: new Date(job.timestamp).toISOString() };
    this.meta.set(id, meta);
    return meta;
  }
}

/** Logs each distinct message once: BullMQ repeats connection errors on every retry. */
function onceEach(log: (message: string) => void): (message: string) => void {
  let last = '';
  return (message) => {
    if (message !== last) log(message);
    last = message;
  };
}

function statusOf(state: string): TaskStatus {
  switch (state) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    default:
      return 'queued'; // waiting, delayed, prioritized, waiting-children
  }
}

function viewOf(job: Job<TaskJobData>, status: TaskStatus): TaskView {
  return {
    id: job.id!,
    status,
    progress: typeof job.progress === 'number' ? job.progress : 0,
    result: job.returnvalue ?? null,
    error: job.failedReason || null,
    createdAt: new Date(job.timestamp).toISOString(),
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}
