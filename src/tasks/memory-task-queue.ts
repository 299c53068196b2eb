import { LRUCache } from 'lru-cache';
import { TaskFinishedError, TaskNotFailedError, TaskNotFoundError } from '../errors/index.js';
import { IdleWaiters } from '../lifecycle/idle-waiters.js';
import { AttemptAbort } from './attempt-abort.js';
import { retryDelayMs } from './handlers/retry-delay.js';
import { TASK_STATUSES, type TaskSpec, type TaskStatus, type TaskUpdate, type TaskView } from './task.js';
import { TaskQueue, type CancelOutcome, type TaskCounts, type TaskListQuery } from './task-queue.js';
import { CANCELLED_ERROR, INTERRUPTED, type RunnableTask, type RunOutcome } from './task-runner.js';
import { byLatestActivity, finishedBefore, RECENTLY_FINISHED_MS, taskView, type StoredTask } from './task-view.js';

/** Runs one attempt (TaskRunner in the app; a stand-in in unit tests). */
export interface AttemptRunner {
  run(task: RunnableTask, abort: AttemptAbort, progress: (percent: number) => void): Promise<RunOutcome>;
}

interface Entry {
  /** What the process stores of the task; `view` is built from it (taskView) on every change. */
  stored: StoredTask;
  view: TaskView;
  readonly spec: TaskSpec;
  /** Arrival order among equal priorities. */
  readonly seq: number;
  /** Until a scheduled task is due, or a retry. */
  timer?: NodeJS.Timeout;
  /** While an attempt runs. */
  abort?: AttemptAbort;
}

/** Finished tasks kept for GET /tasks/:id; the oldest are forgotten first. */
const FINISHED_KEPT = 10_000;

/**
 * In-process queue, so `npm start` needs no Redis. Tasks live as long as the process. Same
 * semantics as the BullMQ driver: priority (lower first, 0 before any), delays, retries with
 * the type's backoff, cancel.
 */
export class MemoryTaskQueue extends TaskQueue {
  private readonly live = new Map<string, Entry>();
  private readonly finished = new LRUCache<string, { view: TaskView; spec: TaskSpec }>({ max: FINISHED_KEPT });
  /** Due tasks, in run order. */
  private readonly waiting: Entry[] = [];
  private running = 0;
  private seq = 0;
  private readonly listeners: ((update: TaskUpdate) => void)[] = [];
  private readonly idle = new IdleWaiters();

  constructor(
    private readonly concurrency: number,
    private readonly runner: AttemptRunner,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    super();
  }

  async add(spec: TaskSpec): Promise<TaskView> {
    const now = Date.now();
    const delay = spec.runAt === undefined ? 0 : spec.runAt - now;
    const stored: StoredTask = {
      id: spec.id,
      type: spec.type,
      status: delay > 0 ? 'scheduled' : 'queued',
      progress: 0,
      result: null,
      attempt: 0,
      attempts: spec.retry.attempts,
      createdAt: now,
      runAt: spec.runAt,
    };
    const entry: Entry = { spec, stored, view: taskView(stored), seq: this.seq++ };
    this.live.set(spec.id, entry);
    this.emit(entry);
    if (delay > 0) entry.timer = setTimeout(() => this.due(entry), delay);
    else this.due(entry);
    return entry.view;
  }

  async get(id: string): Promise<TaskView | undefined> {
    return this.live.get(id)?.view ?? this.finished.get(id)?.view;
  }

  async list({ status, limit }: TaskListQuery): Promise<TaskView[]> {
    const views = [...[...this.live.values()].map((entry) => entry.view), ...[...this.finished.values()].map((kept) => kept.view)];
    return views
      .filter((view) => status === undefined || view.status === status)
      .sort(byLatestActivity)
      .slice(0, limit);
  }

  async recentOf(clientId: string, limit: number): Promise<TaskView[]> {
    const cutoff = Date.now() - RECENTLY_FINISHED_MS;
    return [...this.live.values(), ...this.finished.values()]
      .filter((entry) => entry.spec.clientId === clientId && !finishedBefore(entry.view, cutoff))
      .map((entry) => entry.view)
      .sort(byLatestActivity)
      .slice(0, limit);
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const entry = this.live.get(id);
    if (!entry) {
      const kept = this.finished.get(id);
      if (!kept) throw new TaskNotFoundError(id);
      throw new TaskFinishedError(id, kept.view.status);
    }
    if (entry.abort) {
      entry.abort.abort(CANCELLED_ERROR);
      return { view: entry.view, requested: true };
    }
    clearTimeout(entry.timer);
    const at = this.waiting.indexOf(entry);
    if (at >= 0) this.waiting.splice(at, 1);
    this.finish(entry, { status: 'cancelled', error: CANCELLED_ERROR });
    return { view: entry.view, requested: false };
  }

  async retry(id: string): Promise<TaskView> {
    const kept = this.finished.get(id);
    const status = kept?.view.status ?? this.live.get(id)?.view.status;
    if (!status) throw new TaskNotFoundError(id);
    if (status !== 'failed') throw new TaskNotFailedError(id, status);
    this.finished.delete(id);
    const stored: StoredTask = {
      id,
      type: kept!.view.type,
      status: 'queued',
      progress: 0,
      result: null,
      attempt: 0,
      attempts: kept!.spec.retry.attempts,
      createdAt: Date.parse(kept!.view.createdAt),
      runAt: kept!.spec.runAt,
    };
    const entry: Entry = { spec: kept!.spec, stored, view: taskView(stored), seq: this.seq++ };
    this.live.set(id, entry);
    this.emit(entry);
    this.due(entry);
    return entry.view;
  }

  onUpdate(listener: (update: TaskUpdate) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Runs what is due or running, retries included, to its end. Scheduled tasks cannot outlive
   * the process: they are dropped, and said so.
   */
  drain(): Promise<void> {
    const scheduled = [...this.live.values()].filter((entry) => entry.stored.status === 'scheduled');
    if (scheduled.length > 0) {
      this.warn(`shutdown: dropping ${scheduled.length} scheduled tasks (in memory they cannot outlive the process; use Redis)`);
      for (const entry of scheduled) {
        clearTimeout(entry.timer);
        this.live.delete(entry.stored.id);
      }
    }
    return this.idle.until(this.live.size === 0);
  }

  async counts(nowMs: number): Promise<TaskCounts> {
    const byStatus = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Record<TaskStatus, number>;
    for (const entry of this.live.values()) byStatus[entry.view.status] += 1;
    for (const kept of this.finished.values()) byStatus[kept.view.status] += 1;
    const dueAt = (entry: Entry) => entry.stored.runAt ?? entry.stored.createdAt;
    const oldest = Math.min(...this.waiting.map(dueAt));
    return { ...byStatus, oldestQueuedMs: this.waiting.length > 0 ? nowMs - oldest : 0 };
  }

  pending(): string | undefined {
    return this.live.size > 0 ? `${this.running} tasks active, ${this.live.size - this.running} waiting (in memory)` : undefined;
  }

  /** Into the run order: by priority (0 first, then lower first), then by arrival. */
  private due(entry: Entry): void {
    entry.timer = undefined;
    if (entry.stored.status === 'scheduled') this.update(entry, { status: 'queued' });
    const rank = (e: Entry) => (e.spec.priority === 0 ? -1 : e.spec.priority);
    let at = this.waiting.length;
    while (
      at > 0 &&
      (rank(this.waiting[at - 1]) > rank(entry) || (rank(this.waiting[at - 1]) === rank(entry) && this.waiting[at - 1].seq > entry.seq))
    ) {
      at -= 1;
    }
    this.waiting.splice(at, 0, entry);
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const entry = this.waiting.shift()!;
      this.running += 1;
      void this.run(entry).finally(() => {
        this.running -= 1;
        this.pump();
        if (this.live.size === 0) this.idle.release();
      });
    }
  }

  private async run(entry: Entry): Promise<void> {
    const attempt = entry.stored.attempt + 1;
    this.update(entry, { status: 'active', attempt, nextAttemptAt: null });
    entry.abort = new AttemptAbort();
    const outcome = await this.runner.run(
      {
        id: entry.stored.id,
        type: entry.stored.type,
        input: entry.spec.input,
        createdAtMs: entry.stored.runAt ?? entry.stored.createdAt,
        attempt,
        attempts: entry.stored.attempts,
      },
      entry.abort,
      (progress) => this.update(entry, { progress }),
    );
    entry.abort = undefined;
    switch (outcome.kind) {
      case 'completed':
        return this.finish(entry, { status: 'completed', progress: 100, result: outcome.result, error: null });
      case 'cancelled':
        return this.finish(entry, { status: 'cancelled', error: CANCELLED_ERROR });
      case 'interrupted':
        return this.finish(entry, { status: 'failed', error: INTERRUPTED });
      case 'failed': {
        if (!outcome.retry) return this.finish(entry, { status: 'failed', error: outcome.error });
        const delay = retryDelayMs(entry.spec.retry, attempt);
        this.update(entry, { status: 'retrying', error: outcome.error, nextAttemptAt: Date.now() + delay });
        entry.timer = setTimeout(() => this.due(entry), delay);
      }
    }
  }

  private finish(entry: Entry, change: Partial<StoredTask>): void {
    this.update(entry, { ...change, nextAttemptAt: null, finishedAt: Date.now() });
    this.live.delete(entry.stored.id);
    this.finished.set(entry.stored.id, { view: entry.view, spec: entry.spec });
  }

  private update(entry: Entry, change: Partial<StoredTask>): void {
    entry.stored = { ...entry.stored, ...change };
    entry.view = taskView(entry.stored);
    this.emit(entry);
  }

  private emit(entry: Entry): void {
    for (const listener of this.listeners) listener({ view: entry.view, clientId: entry.spec.clientId });
  }
}
