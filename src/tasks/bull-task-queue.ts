import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { Job, Queue, QueueEvents, type JobType } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { redisConnectionOptions } from '../redis/redis-connection.js';
import { RedisHealth } from '../redis/redis-health.js';
import { whileStoreReachable } from '../redis/while-store-reachable.js';
import type { TaskSpec, TaskStatus, TaskUpdate, TaskView } from './task.js';
import { TaskQueue, type TaskListQuery } from './task-queue.js';
import { byLatestActivity, queuedView, taskView } from './task-view.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskJobData, type TaskWorkerHandle } from './tasks.constants.js';

const KEEP_FINISHED = { age: 24 * 3600, count: 10_000 };
const CLOSE_WAIT_MS = 1_000;
/** A client's task index lives as long as its finished tasks are kept. */
const CLIENT_INDEX_TTL_S = KEEP_FINISHED.age;

type TaskEvent = 'waiting' | 'active' | 'progress' | 'completed' | 'failed';
/** fromKnown's answer when only Redis can say what an event changed. */
const NEEDS_READ = Symbol('needs read');

/** BullMQ job states behind each task status. */
const STATES_OF: Record<TaskStatus, JobType[]> = {
  queued: ['waiting', 'delayed', 'prioritized', 'waiting-children'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
};

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
  /** The last stored view seen per task (with its clientId), so progress events need no fetch. */
  private readonly known = new LRUCache<string, TaskUpdate>({ max: 50_000 });
  /** Per-job chains, so one job's events are handled in the order Redis sent them. */
  private readonly chains = new Map<string, Promise<void>>();
  /**
   * Jobs this instance's worker finished, as the worker left them (finish time included):
   * their `completed`/`failed` event then needs no read. Bounded: an entry whose event was
   * handled first (the read won the race) is never asked for and ages out.
   */
  private readonly finishedHere = new LRUCache<string, TaskUpdate>({ max: 10_000 });
  /** Events whose update waits on a read (or on one ahead of it): later events queue behind them. */
  private reading = 0;
  /** Updates leave in event order (see handle). */
  private emitted: Promise<void> = Promise.resolve();
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
  }

  onModuleInit(): void {
    this.worker?.onFinished((job) => {
      if (job.id) this.finishedHere.set(job.id, { view: viewOf(job, ''), clientId: job.data.clientId });
    });
    this.events = new QueueEvents(TASK_QUEUE_NAME, {
      connection: redisConnectionOptions(this.config.redis!, 'blocking'),
      prefix: this.queue.opts.prefix,
    });
    for (const event of ['waiting', 'active', 'completed', 'failed'] as const) {
      this.events.on(event, ({ jobId }: { jobId: string }) => this.handle(jobId, event));
    }
    this.events.on('progress', ({ jobId, data }: { jobId: string; data: unknown }) => this.handle(jobId, 'progress', data));
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
      const key = this.clientIndexKey(spec.clientId);
      await this.redis.client
        .multi()
        .sadd(key, id)
        .expire(key, CLIENT_INDEX_TTL_S)
        .exec()
        .catch((error: Error) => this.logger.warn(`client index for task ${id}: ${error.message}`));
    }
    const view = queuedView(id, new Date(job.timestamp));
    // Seeds what this instance knows, so the job's `waiting` and `active` events need no read.
    if (!this.known.has(id)) this.known.set(id, { view, clientId: spec.clientId });
    return view;
  }

  async get(id: string): Promise<TaskView | undefined> {
    return (await this.stored(id))?.view;
  }

  async list({ status, limit }: TaskListQuery): Promise<TaskView[]> {
    const types = status ? STATES_OF[status] : (Object.values(STATES_OF).flat() as JobType[]);
    // Newest first within each state; merged and cut to the limit across them.
    const jobs = await whileStoreReachable(() => this.queue.getJobs(types, 0, limit - 1, false), this.usable);
    // The state is known from the filter, or from the hash once a job finished (viewOf); only
    // unfiltered unfinished jobs need a round trip to tell queued from active.
    const stateOf = async (job: Job<TaskJobData>) => (status ? STATES_OF[status][0] : job.finishedOn ? '' : await job.getState());
    const views = await Promise.all(
      jobs.filter((job): job is Job<TaskJobData> => Boolean(job?.id)).map(async (job) => viewOf(job, await stateOf(job))),
    );
    return views.sort(byLatestActivity).slice(0, limit);
  }

  async unfinishedOf(clientId: string, limit: number): Promise<TaskView[]> {
    const key = this.clientIndexKey(clientId);
    const ids = await whileStoreReachable(() => this.redis.client.smembers(key), this.usable);
    const views = (await Promise.all(ids.map((id) => this.get(id)))).filter((view): view is TaskView => view !== undefined);
    const finished = views.filter((view) => view.status === 'completed' || view.status === 'failed').map((view) => view.id);
    const gone = ids.filter((id) => !views.some((view) => view.id === id));
    if (finished.length + gone.length > 0) await this.redis.client.srem(key, ...finished, ...gone).catch(() => undefined);
    return views
      .filter((view) => view.status === 'queued' || view.status === 'active')
      .sort(byLatestActivity)
      .slice(0, limit);
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

  /** The stored view of a job and its creator's clientId, read from Redis. */
  private async stored(id: string): Promise<TaskUpdate | undefined> {
    // State first, then the job's hash: the hash is read later, so it is never older than the
    // state (read the other way round, a job finishing in between showed `completed` with
    // the result still null). A hash that has finished since wins over the state.
    const state = await whileStoreReachable(() => this.queue.getJobState(id), this.usable);
    const job = await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
    if (!job) return undefined;
    return { view: viewOf(job, state), clientId: job.data.clientId };
  }

  /**
   * One event of one job, turned into the view GET would answer now, with as few reads as
   * that allows: `waiting` and `active` of a job this instance knows change only the status;
   * progress changes only the progress; a job this instance's worker finished is sent as the
   * worker left it, any other finished job is read back once (its hash holds the result and the
   * stored finish time every instance must agree on); anything else is read whole (state, then
   * hash).
   */
  private handle(id: string, event: TaskEvent, progress?: unknown): void {
    // The usual case, nothing to read from Redis and nothing ahead of it waiting on a read:
    // sent now, without allocating the chain below (five events per task).
    if (this.reading === 0) {
      const known = this.fromKnown(id, event, progress);
      if (known !== NEEDS_READ) {
        if (known) this.emit(known);
        return;
      }
    }
    this.reading += 1;
    const previous = this.chains.get(id) ?? Promise.resolve();
    const computed = previous.then(async (): Promise<TaskUpdate | undefined> => {
      const known = this.fromKnown(id, event, progress);
      if (known !== NEEDS_READ) return known;
      const update = event === 'completed' || event === 'failed' ? await this.finished(id) : await this.stored(id);
      if (update) this.known.set(id, update);
      return update;
    });
    const next = computed
      .then(() => undefined)
      .catch((error: Error) => this.logger.warn(`task ${id} event: ${error.message}`))
      .finally(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      });
    this.chains.set(id, next);
    // Views are worked out concurrently (one job's read does not hold up another's), but sent
    // in the order Redis reported the events: a job never shows active before the one ahead of
    // it on a single worker shows completed.
    this.emitted = this.emitted
      .then(() => computed)
      .then(
        (update) => {
          if (update) this.emit(update);
        },
        () => undefined,
      )
      .finally(() => {
        this.reading -= 1;
      });
  }

  /**
   * The update an event makes from what this instance already knows (recorded as the latest),
   * `undefined` when it changes nothing worth a frame, or NEEDS_READ when only Redis can say.
   */
  private fromKnown(id: string, event: TaskEvent, progress: unknown): TaskUpdate | undefined | typeof NEEDS_READ {
    const last = this.known.peek(id);
    const unfinished = last && last.view.status !== 'completed' && last.view.status !== 'failed';
    // Finished is final: an event read late (a `waiting` handled after the job already
    // finished showed as finished) must not send the finished frame twice.
    if (last && !unfinished) return undefined;
    let update: TaskUpdate | undefined;
    if (unfinished && event === 'progress') {
      update = { ...last, view: { ...last.view, status: 'active', progress: typeof progress === 'number' ? progress : 0 } };
    } else if (unfinished && event === 'active') {
      update = { ...last, view: { ...last.view, status: 'active' } };
    } else if (unfinished && event === 'waiting' && last.view.status === 'queued') {
      update = last;
    } else if (event === 'completed' || event === 'failed') {
      update = this.takeFinishedHere(id);
    }
    if (!update) return NEEDS_READ;
    this.known.set(id, update);
    return update;
  }

  private emit(update: TaskUpdate): void {
    for (const listener of this.listeners) listener(update);
  }

  /** A job this instance's worker finished, as the worker left it (taken once). */
  private takeFinishedHere(id: string): TaskUpdate | undefined {
    const local = this.finishedHere.get(id);
    if (local) this.finishedHere.delete(id);
    return local;
  }

  /**
   * A finished job's stored view, read from its hash, which alone says how it finished (one
   * read, no state query). Only for jobs fromKnown could not answer (finished elsewhere, or
   * the event came before this worker's own).
   */
  private async finished(id: string): Promise<TaskUpdate | undefined> {
    const job = await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
    if (!job) return undefined;
    if (!job.finishedOn) return this.stored(id);
    return { view: viewOf(job, ''), clientId: job.data.clientId };
  }

  private clientIndexKey(clientId: string): string {
    return `${this.config.redis!.prefix}:tasks:client:${clientId}`;
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

/** A job's stored view; a hash that says finished wins over an older state reading. */
function viewOf(job: Job<TaskJobData>, state: string): TaskView {
  const status: TaskStatus = job.finishedOn
    ? state === 'failed' || (job.failedReason && job.returnvalue == null)
      ? 'failed'
      : 'completed'
    : statusOf(state);
  return taskView({
    id: job.id!,
    status,
    progress: job.progress,
    result: job.returnvalue,
    error: job.failedReason,
    createdAt: job.timestamp,
    finishedAt: job.finishedOn,
  });
}
