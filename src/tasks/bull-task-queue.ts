import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { Job, Queue, QueueEvents, type JobType } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { TaskFinishedError, TaskNotFailedError, TaskNotFoundError, TaskNotReplicatedError } from '../errors/index.js';
import { bullConnection, createRedisClient, nodeFor, taskKeyPrefix, type RedisClient } from '../redis/redis-connection.js';
import { RedisHealth } from '../redis/redis-health.js';
import { whileStoreReachable } from '../redis/while-store-reachable.js';
import { JOB_STATES_OF, jobView, type TaskJobData } from './bull-job-view.js';
import { ClientTaskIndex } from './client-task-index.js';
import type { TaskSpec, TaskUpdate, TaskView } from './task.js';
import { TaskEventSequencer } from './task-event-sequencer.js';
import { TaskQueue, type CancelOutcome, type TaskCounts, type TaskListQuery } from './task-queue.js';
import { CANCELLED_ERROR } from './task-runner.js';
import { BACKOFF_TYPE, type BallastBackoff } from './task.processor.js';
import { byLatestActivity, isFinished } from './task-view.js';
import { TASK_QUEUE_NAME, TASK_WORKER, type TaskWorkerHandle } from './tasks.constants.js';

const KEEP_FINISHED = { age: 24 * 3600, count: 10_000 };
const CLOSE_WAIT_MS = 1_000;
/** How often events whose read failed are tried again (once Redis answers). */
const UNREAD_RETRY_MS = 1_000;
/** BullMQ scores a delayed job (due ms) × 4096 plus a counter. */
const DELAYED_SCORE_SCALE = 0x1000;

/**
 * Tasks in Redis through BullMQ: durable once `add` resolves, processed by the workers
 * of every instance, and observed through QueueEvents, so a socket on any instance
 * hears about a task processed on any other. Every view, whether answered to GET or sent
 * in a frame, is built from what Redis stores (jobView), never from a local clock.
 *
 * BullMQ has no cancelled state: a waiting task that is cancelled is removed from the queue and
 * its last view kept under `<prefix>:tasks:cancelled:<id>` (as long as finished jobs are kept);
 * a running one is cancelled through a pub/sub message every worker hears, and fails with the
 * reason `cancelled`, which its view shows as the status `cancelled`.
 */
@Injectable()
export class BullTaskQueue extends TaskQueue implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Tasks');
  private readonly listeners: ((update: TaskUpdate) => void)[] = [];
  /** Job events in, task updates out, in event order (the reads it needs are this adapter's). */
  private readonly sequencer: TaskEventSequencer;
  private readonly clients: ClientTaskIndex;
  private events?: QueueEvents;
  /** Hears cancels published by any instance (only where a worker runs). */
  private cancels?: RedisClient;
  private unreadRetry?: NodeJS.Timeout;
  private readonly keys: {
    cancelChannel: string;
    cancelled: (id: string) => string;
    cancelledIndex: string;
    replicationFence: string;
  };
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
    const prefix = taskKeyPrefix(config.redis!);
    // A client's index lives as long as its finished tasks are kept.
    this.clients = new ClientTaskIndex(redis.client, prefix, KEEP_FINISHED.age);
    this.keys = {
      cancelChannel: `${prefix}:tasks:cancel`,
      cancelled: (id) => `${prefix}:tasks:cancelled:${id}`,
      cancelledIndex: `${prefix}:tasks:cancelled`,
      // In a Cluster it shares the queue's hash tag, so it is written on the queue's primary.
      replicationFence: `${prefix}:tasks:replication-fence`,
    };
  }

  onModuleInit(): void {
    this.worker?.onFinished((job) => {
      if (job.id) this.sequencer.finishedHere({ view: jobView(job, ''), clientId: job.data.clientId });
    });
    this.events = new QueueEvents(TASK_QUEUE_NAME, {
      connection: bullConnection(this.config.redis!, 'blocking', 'events'),
      prefix: this.queue.opts.prefix,
    });
    for (const event of ['waiting', 'delayed', 'active', 'completed', 'failed', 'removed'] as const) {
      this.events.on(event, ({ jobId }: { jobId: string }) => this.sequencer.handle(jobId, event));
    }
    this.events.on('progress', ({ jobId, data }: { jobId: string; data: unknown }) => this.sequencer.handle(jobId, 'progress', data));
    // Not awaited: the service must boot (and report 503 on /ready) while Redis is away.
    const warn = unlessRepeated((message) => this.logger.warn(message));
    this.events.on('error', (error) => warn(`queue events: ${error.message}`));
    // Reconnected after losing Redis (a failover, an outage): what happened meanwhile may be
    // missing from the events it reads now (a primary that died with them), so say so.
    let lost = false;
    this.events.backend.on('close', () => (lost = true));
    this.events.backend.on('ready', () => {
      if (!lost) return;
      lost = false;
      this.catchUp();
    });
    // A Cluster client stays connected while one of its primaries fails over (it moves the
    // slots to the promoted replica): a new primary is the sign that events may be missing.
    if (this.config.redis!.endpoint.mode === 'cluster') this.redis.onPrimarySwitch(() => this.catchUp());
    // An event whose read failed (Redis away for a moment: a failover, a slow fork) is read
    // again once Redis answers, so its followers still hear the task's present.
    this.unreadRetry = setInterval(() => {
      if (!this.redis.reachable) return;
      for (const id of this.sequencer.takeUnread()) this.sequencer.handle(id, 'reread');
    }, UNREAD_RETRY_MS);
    this.unreadRetry.unref();
    this.queue.on('error', (error) => warn(`queue: ${error.message}`));
    if (this.worker) {
      const worker = this.worker;
      this.cancels = createRedisClient(this.config.redis!, 'blocking', 'cancels');
      this.cancels.on('error', (error: Error) => warn(`cancel channel: ${error.message}`));
      this.cancels.on('message', (_channel: string, id: string) => worker.cancel(id));
      // ioredis subscribes again after every reconnect.
      void this.cancels.subscribe(this.keys.cancelChannel).catch(() => undefined);
    }
  }

  /**
   * After a gap in the queue's events: every task last seen unfinished is read again (its
   * followers by clientId and `all` hear the present), and the gateway re-reads the ones
   * followed by id.
   */
  private catchUp(): void {
    for (const id of this.sequencer.unfinishedKnown()) this.sequencer.handle(id, 'reread');
    this.eventsResumed();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.unreadRetry);
    this.cancels?.disconnect();
    // Bounded: with Redis away the events connection may never confirm its close.
    if (this.events) await Promise.race([this.events.close().catch(() => undefined), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
  }

  /**
   * REDIS_MIN_REPLICAS_ACK: WAIT on the connection that wrote the job (WAIT counts that
   * connection's writes). `fence`: the task was written by another connection (a replayed
   * create): a write on this one first, ordered after it in the replication stream, so replicas
   * that have the fence have the task. The wait is at most half the command timeout and ends by
   * the create's `deadlineAt`, so its answer is this one (503 naming the task), not a timeout.
   * Fewer replicas than required: the task stays queued on the primary, and the client is told
   * so (503 with its id).
   */
  override async confirmReplicated(taskId: string, { deadlineAt = Infinity, fence = false } = {}): Promise<void> {
    const { minReplicasAck, commandTimeoutMs } = this.config.redis!;
    if (minReplicasAck === 0) return;
    const waitMs = Math.floor(Math.min(commandTimeoutMs / 2, deadlineAt - Date.now()));
    // BullMQ's ioredis client (a Cluster's: the node owning the queue's slot wrote the job).
    const client = nodeFor((await this.queue.backend.client) as unknown as RedisClient, this.keys.replicationFence);
    if (!client || waitMs < 1) throw new TaskNotReplicatedError(taskId, 0, minReplicasAck, Math.max(0, waitMs));
    // A connection lost meanwhile (a failover) says nothing of the replicas: not acknowledged.
    const acknowledged = await (async () => {
      if (fence) await client.set(this.keys.replicationFence, taskId, 'PX', commandTimeoutMs);
      return Number(await client.call('WAIT', minReplicasAck, waitMs));
    })().catch(() => 0);
    if (acknowledged < minReplicasAck) throw new TaskNotReplicatedError(taskId, acknowledged, minReplicasAck, waitMs);
  }

  async add(spec: TaskSpec, { deadlineAt = Infinity }: { deadlineAt?: number } = {}): Promise<TaskView> {
    const now = Date.now();
    const delay = spec.runAt === undefined ? 0 : Math.max(0, spec.runAt - now);
    const backoff: BallastBackoff = { type: BACKOFF_TYPE, delay: spec.retry.backoffMs, maxDelay: spec.retry.backoffMaxMs };
    const job = await whileStoreReachable(
      () =>
        this.queue.add(
          spec.type,
          { type: spec.type, input: spec.input ?? null, clientId: spec.clientId, ...(spec.runAt !== undefined && { runAt: spec.runAt }) },
          {
            jobId: spec.id,
            attempts: spec.retry.attempts,
            backoff,
            ...(delay > 0 && { delay }),
            ...(spec.priority > 0 && { priority: spec.priority }),
            removeOnComplete: KEEP_FINISHED,
            removeOnFail: KEEP_FINISHED,
          },
        ),
      this.usable,
    );
    await this.confirmReplicated(spec.id, { deadlineAt });
    if (spec.clientId) {
      // Best effort: the index only serves a reconnecting socket; the task is queued either way.
      await this.clients
        .add(spec.clientId, spec.id)
        .catch((error: Error) => this.logger.warn(`client index for task ${spec.id}: ${error.message}`));
    }
    const view = jobView(job, delay > 0 ? 'delayed' : 'waiting');
    this.sequencer.created({ view, clientId: spec.clientId });
    return view;
  }

  async get(id: string): Promise<TaskView | undefined> {
    return (await this.stored(id))?.view;
  }

  async list({ status, limit }: TaskListQuery): Promise<TaskView[]> {
    const types = [...new Set((status ? JOB_STATES_OF[status] : Object.values(JOB_STATES_OF).flat()) as JobType[])];
    // Newest first within each state; merged and cut to the limit across them.
    const [jobs, cancelled] = await Promise.all([
      whileStoreReachable(() => this.queue.getJobs(types, 0, limit - 1, false), this.usable),
      !status || status === 'cancelled' ? this.removedCancelled(limit) : [],
    ]);
    // A filter on one state needs no round trip (the hash tells scheduled from retrying, failed
    // from cancelled); the others (waiting jobs, unfiltered unfinished ones) read their state.
    const onlyState = status && JOB_STATES_OF[status].length === 1;
    const stateOf = async (job: Job<TaskJobData>) => (onlyState ? JOB_STATES_OF[status][0] : job.finishedOn ? '' : await job.getState());
    const views = await Promise.all(
      jobs.filter((job): job is Job<TaskJobData> => Boolean(job?.id)).map(async (job) => jobView(job, await stateOf(job))),
    );
    return [...views, ...cancelled]
      .filter((view) => !status || view.status === status)
      .sort(byLatestActivity)
      .slice(0, limit);
  }

  recentOf(clientId: string, limit: number): Promise<TaskView[]> {
    return whileStoreReachable(() => this.clients.recent(clientId, limit, (id) => this.get(id), Date.now()), this.usable);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const current = await this.stored(id);
    if (!current) throw new TaskNotFoundError(id);
    if (isFinished(current.view)) throw new TaskFinishedError(id, current.view.status);
    if (current.view.status !== 'active') {
      const cancelled: TaskUpdate = {
        ...current,
        view: { ...current.view, status: 'cancelled', error: CANCELLED_ERROR, nextAttemptAt: null, finishedAt: new Date().toISOString() },
      };
      // The view first, so the `removed` event every instance hears finds it.
      await whileStoreReachable(
        () =>
          this.redis.client
            .multi()
            .set(this.keys.cancelled(id), JSON.stringify(cancelled), 'EX', KEEP_FINISHED.age)
            .zadd(this.keys.cancelledIndex, Date.now(), id)
            .exec(),
        this.usable,
      );
      // 0: it was taken by a worker in between (locked): cancel it as a running task.
      if ((await whileStoreReachable(() => this.queue.remove(id), this.usable)) === 1) return { view: cancelled.view, requested: false };
      await this.redis.client.multi().del(this.keys.cancelled(id)).zrem(this.keys.cancelledIndex, id).exec();
    }
    await whileStoreReachable(() => this.redis.client.publish(this.keys.cancelChannel, id), this.usable);
    // Requested: the handler decides when it stops (it may have by now).
    return { view: (await this.stored(id))?.view ?? current.view, requested: true };
  }

  async retry(id: string): Promise<TaskView> {
    const current = await this.stored(id);
    if (!current) throw new TaskNotFoundError(id);
    if (current.view.status !== 'failed') throw new TaskNotFailedError(id, current.view.status);
    const job = await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
    await whileStoreReachable(() => job!.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }), this.usable);
    return (await this.stored(id))!.view;
  }

  onUpdate(listener: (update: TaskUpdate) => void): void {
    this.listeners.push(listener);
  }

  async counts(nowMs: number): Promise<TaskCounts> {
    const [counts, [oldest], cancelled] = await Promise.all([
      this.queue.getJobCounts('wait', 'prioritized', 'waiting-children', 'delayed', 'active', 'completed', 'failed'),
      // The oldest waiting job: the far end of the wait list (asc reads it from there).
      this.queue.getJobs(['wait'], 0, 0, true),
      this.redis.client.zcount(this.keys.cancelledIndex, nowMs - KEEP_FINISHED.age * 1000, '+inf'),
    ]);
    // Counted by BullMQ state, without reading jobs: delayed holds scheduled tasks and those
    // waiting for a retry (both `scheduled` here); failed holds those cancelled while running.
    return {
      queued: counts.wait + counts.prioritized + counts['waiting-children'],
      scheduled: counts.delayed,
      active: counts.active,
      retrying: 0,
      completed: counts.completed,
      failed: counts.failed,
      cancelled,
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
      // Bounded: with Redis away (stopped, not refusing) the close can wait on a blocking command
      // that never returns; it was seen to hold the shutdown for over a minute.
      await Promise.race([this.worker.close(true).catch(() => undefined), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
      return;
    }
    // Closing the worker waits for its active jobs; waiting jobs stay in Redis.
    await this.worker.close();
  }

  pending(): string | undefined {
    const active = this.worker?.activeCount() ?? 0;
    return active > 0 ? `${active} jobs active on this worker` : undefined;
  }

  /** The stored view of a task and its creator's clientId, read from Redis. */
  private async stored(id: string): Promise<TaskUpdate | undefined> {
    // State first, then the job's hash: the hash is never older than the state (read the other
    // way round, a job finishing in between showed `completed` with the result still null), and a
    // hash that has finished since wins. A job with a failed attempt can also move back (active
    // -> retrying -> active): its state is read again after the hash, so the view is built from
    // a pair that held together (once each, a fast failing attempt showed `active` with the next
    // attempt's number). Such a job is read at most three times.
    let state = await whileStoreReachable(() => this.queue.getJobState(id), this.usable);
    for (let round = 0; ; round += 1) {
      const job = state === 'unknown' ? undefined : await whileStoreReachable(() => Job.fromId<TaskJobData>(this.queue, id), this.usable);
      if (!job) return this.removedAsCancelled(id);
      const settled = job.attemptsMade === 0 || state === 'completed' || state === 'failed' || round === 2;
      const now = settled ? state : await whileStoreReachable(() => this.queue.getJobState(id), this.usable);
      if (now === state) {
        const nextAttemptAt = state === 'delayed' && job.attemptsMade > 0 ? await this.dueAt(id) : undefined;
        return { view: jobView(job, state, nextAttemptAt), clientId: job.data.clientId };
      }
      state = now;
    }
  }

  /** When a delayed job is due: its score in BullMQ's delayed set. */
  private async dueAt(id: string): Promise<number | undefined> {
    const score = await whileStoreReachable(() => this.redis.client.zscore(this.queue.keys.delayed, id), this.usable);
    return score === null ? undefined : Math.floor(Number(score) / DELAYED_SCORE_SCALE);
  }

  private async removedAsCancelled(id: string): Promise<TaskUpdate | undefined> {
    const raw = await whileStoreReachable(() => this.redis.client.get(this.keys.cancelled(id)), this.usable);
    return raw ? (JSON.parse(raw) as TaskUpdate) : undefined;
  }

  /** The newest tasks cancelled while waiting (they left BullMQ's sets). */
  private async removedCancelled(limit: number): Promise<TaskView[]> {
    const ids = await whileStoreReachable(() => this.redis.client.zrevrange(this.keys.cancelledIndex, 0, limit - 1), this.usable);
    if (ids.length === 0) return [];
    const raws = await whileStoreReachable(() => this.redis.client.mget(ids.map((id) => this.keys.cancelled(id))), this.usable);
    const gone = ids.filter((_, i) => raws[i] === null);
    if (gone.length > 0) await this.redis.client.zrem(this.keys.cancelledIndex, ...gone).catch(() => undefined);
    return raws.filter((raw): raw is string => raw !== null).map((raw) => (JSON.parse(raw) as TaskUpdate).view);
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
    if (!job) return this.removedAsCancelled(id);
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
