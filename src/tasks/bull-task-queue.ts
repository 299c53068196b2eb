import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { Job, Queue, QueueEvents, type JobType } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { redisConnectionOptions } from '../redis/redis-connection.js';
import { RedisHealth } from '../redis/redis-health.js';
import { whileStoreReachable } from '../redis/while-store-reachable.js';
import { ClientTaskIndex } from './client-task-index.js';
import type { TaskSpec, TaskUpdate, TaskView } from './task.js';
import { TaskEventSequencer } from './task-event-sequencer.js';
import { TaskQueue, type TaskCounts, type TaskListQuery } from './task-queue.js';
import { byLatestActivity, JOB_STATES_OF, jobView, queuedView } from './task-view.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskJobData, type TaskWorkerHandle } from './tasks.constants.js';

const KEEP_FINISHED = { age: 24 * 3600, count: 10_000 };
const CLOSE_WAIT_MS = 1_000;

/**
 * Tasks in Redis through BullMQ: durable once `add` resolves, processed by the workers
 * of every instance, and observed through QueueEvents, so a socket on any instance
 * hears about a task processed on any other. Every view, whether answered to GET or sent
 * in a frame, is built from what Redis stores (taskView), never from a local clock.
 */
@Injectable()
export class BullTaskQueue extends TaskQueue implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Tasks');
  private readonly listeners: ((update: TaskUpdate) => void)[] = [];
  /** Job events in, task updates out, in event order (the reads it needs are this adapter's). */
  private readonly sequencer: TaskEventSequencer;
  private readonly clients: ClientTaskIndex;
  private events?: QueueEvents;
  /** The shared client and the queue talk to the same Redis: when the one has lost it, so has the other. */
  private readonly usable = (): boolean | Promise<boolean> => this.redis.usable();

  constructor(
    @InjectQueue(TASK_QUEUE_NAME) private readonly queue: Queue<TaskJobData>,
    @InjectConfig() private readonly config: AppConfig,
    private readonly redis: RedisHealth,
    @Optional() @Inject(TASK_WORKER) private readonly worker?: TaskWorkerHandle,
  ) {
    super();
    this.sequencer = new TaskEventSequencer(
      { stored: (id) => this.stored(id), finished: (id) => this.finished(id) },
      (update) => this.emit(update),
      (message) => this.logger.warn(message),
    );
    // A client's index lives as long as its finished tasks are kept.
    this.clients = new ClientTaskIndex(redis.client, config.redis!.prefix, KEEP_FINISHED.age);
  }

  onModuleInit(): void {
    this.worker?.onFinished((job) => {
      if (job.id) this.sequencer.finishedHere({ view: jobView(job, ''), clientId: job.data.clientId });
    });
    this.events = new QueueEvents(TASK_QUEUE_NAME, {
      connection: redisConnectionOptions(this.config.redis!, 'blocking'),
      prefix: this.queue.opts.prefix,
    });
    for (const event of ['waiting', 'active', 'completed', 'failed'] as const) {
      this.events.on(event, ({ jobId }: { jobId: string }) => this.sequencer.handle(jobId, event));
    }
    this.events.on('progress', ({ jobId, data }: { jobId: string; data: unknown }) => this.sequencer.handle(jobId, 'progress', data));
    // Not awaited: the service must boot (and report 503 on /ready) while Redis is away.
    const warn = unlessRepeated((message) => this.logger.warn(message));
    this.events.on('error', (error) => warn(`queue events: ${error.message}`));
    this.queue.on('error', (error) => warn(`queue: ${error.message}`));
  }

  async onModuleDestroy(): Promise<void> {
    // Bounded: with Redis away the events connection may never confirm its close.
    if (this.events) await Promise.race([this.events.close().catch(() => undefined), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
  }

  async add(spec: TaskSpec): Promise<TaskView> {
    const id = randomUUID();
    const job = await whileStoreReachable(
      () =>
        this.queue.add(
          'demo',
          { durationMs: spec.durationMs, payload: spec.payload ?? null, clientId: spec.clientId },
          { jobId: id, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED },
        ),
      this.usable,
    );
    if (spec.clientId) {
      // Best effort: the index only serves a reconnecting socket; the task is queued either way.
      await this.clients.add(spec.clientId, id).catch((error: Error) => this.logger.warn(`client index for task ${id}: ${error.message}`));
    }
    const view = queuedView(id, job.timestamp);
    this.sequencer.created({ view, clientId: spec.clientId });
    return view;
  }

  async get(id: string): Promise<TaskView | undefined> {
    return (await this.stored(id))?.view;
  }

  async list({ status, limit }: TaskListQuery): Promise<TaskView[]> {
    const types = (status ? JOB_STATES_OF[status] : Object.values(JOB_STATES_OF).flat()) as JobType[];
    // Newest first within each state; merged and cut to the limit across them.
    const jobs = await whileStoreReachable(() => this.queue.getJobs(types, 0, limit - 1, false), this.usable);
    // The state is known from the filter, or from the hash once a job finished (jobView); only
    // unfiltered unfinished jobs need a round trip to tell queued from active.
    const stateOf = async (job: Job<TaskJobData>) => (status ? JOB_STATES_OF[status][0] : job.finishedOn ? '' : await job.getState());
    const views = await Promise.all(
      jobs.filter((job): job is Job<TaskJobData> => Boolean(job?.id)).map(async (job) => jobView(job, await stateOf(job))),
    );
    return views.sort(byLatestActivity).slice(0, limit);
  }

  unfinishedOf(clientId: string, limit: number): Promise<TaskView[]> {
    return whileStoreReachable(() => this.clients.unfinished(clientId, limit, (id) => this.get(id)), this.usable);
  }

  onUpdate(listener: (update: TaskUpdate) => void): void {
    this.listeners.push(listener);
  }

  async counts(nowMs: number): Promise<TaskCounts> {
    const [counts, [oldest]] = await Promise.all([
      this.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
      // The oldest waiting job: the far end of the wait list (asc reads it from there).
      this.queue.getJobs(['wait'], 0, 0, true),
    ]);
    return {
      queued: counts.wait + counts.prioritized + counts.delayed,
      active: counts.active,
      completed: counts.completed,
      failed: counts.failed,
      oldestQueuedMs: oldest ? Math.max(0, nowMs - oldest.timestamp) : 0,
    };
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

  /** The stored view of a job and its creator's clientId, read from Redis. */
  private async stored(id: string): Promise<TaskUpdate | undefined> {
    // State first, then the job's hash: the hash is read later, so it is never older than the
    // state (read the other way round, a job finishing in between showed `completed` with
    // the result still null). A hash that has finished since wins over the state.
    const state = await whileStoreReachable(() => this.queue.getJobState(id), this.usable);
    const job = await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
    if (!job) return undefined;
    return { view: jobView(job, state), clientId: job.data.clientId };
  }

  private emit(update: TaskUpdate): void {
    for (const listener of this.listeners) listener(update);
  }

  /**
   * A finished job's stored view, read from its hash, which alone says how it finished (one
   * read, no state query). Only for events the sequencer could not answer from what it knows
   * (finished elsewhere, or the event came before this worker's own).
   */
  private async finished(id: string): Promise<TaskUpdate | undefined> {
    const job = await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
    if (!job) return undefined;
    if (!job.finishedOn) return this.stored(id);
    return { view: jobView(job, ''), clientId: job.data.clientId };
  }
}

/** Logs a message unless it repeats the one just before: BullMQ repeats a connection error on every retry. */
function unlessRepeated(log: (message: string) => void): (message: string) => void {
  let last = '';
  return (message) => {
    if (message !== last) log(message);
    last = message;
  };
}
