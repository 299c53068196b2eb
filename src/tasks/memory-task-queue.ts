import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { IdleWaiters } from '../lifecycle/idle-waiters.js';
import { doDemoWork } from './demo-work.js';
import type { TaskSpec, TaskUpdate, TaskView } from './task.js';
import { TaskQueue, type TaskCounts, type TaskListQuery, type TaskRunObserver } from './task-queue.js';
import { byLatestActivity, taskView, type StoredTask } from './task-view.js';

interface Entry {
  /** What the process stores of the task; `view` is built from it (taskView) on every change. */
  stored: StoredTask;
  view: TaskView;
  readonly spec: TaskSpec;
}

/** Finished tasks kept for GET /tasks/:id; the oldest are forgotten first. */
const FINISHED_KEPT = 10_000;

/** In-process queue, so `npm start` needs no Redis. Tasks live as long as the process. */
export class MemoryTaskQueue extends TaskQueue {
  private readonly live = new Map<string, Entry>();
  private readonly finished = new LRUCache<string, TaskView>({ max: FINISHED_KEPT });
  private readonly waiting: Entry[] = [];
  private running = 0;
  private readonly listeners: ((update: TaskUpdate) => void)[] = [];
  private readonly idle = new IdleWaiters();

  constructor(
    private readonly concurrency: number,
    private readonly observer?: TaskRunObserver,
  ) {
    super();
  }

  async add(spec: TaskSpec): Promise<TaskView> {
    const stored: StoredTask = { id: randomUUID(), status: 'queued', progress: 0, result: null, createdAt: Date.now() };
    const entry: Entry = { spec, stored, view: taskView(stored) };
    this.live.set(entry.view.id, entry);
    this.waiting.push(entry);
    this.emit(entry);
    queueMicrotask(() => this.pump());
    return entry.view;
  }

  async get(id: string): Promise<TaskView | undefined> {
    return this.live.get(id)?.view ?? this.finished.get(id);
  }

  async list({ status, limit }: TaskListQuery): Promise<TaskView[]> {
    const views = [...[...this.live.values()].map((entry) => entry.view), ...this.finished.values()];
    return views
      .filter((view) => status === undefined || view.status === status)
      .sort(byLatestActivity)
      .slice(0, limit);
  }

  async unfinishedOf(clientId: string, limit: number): Promise<TaskView[]> {
    return [...this.live.values()]
      .filter((entry) => entry.spec.clientId === clientId)
      .map((entry) => entry.view)
      .sort(byLatestActivity)
      .slice(0, limit);
  }

  onUpdate(listener: (update: TaskUpdate) => void): void {
    this.listeners.push(listener);
  }

  drain(): Promise<void> {
    return this.idle.until(this.live.size === 0);
  }

  async counts(nowMs: number): Promise<TaskCounts> {
    let completed = 0;
    for (const view of this.finished.values()) if (view.status === 'completed') completed += 1;
    const oldest = this.waiting[0];
    return {
      queued: this.waiting.length,
      active: this.running,
      completed,
      failed: this.finished.size - completed,
      oldestQueuedMs: oldest ? nowMs - oldest.stored.createdAt : 0,
    };
  }

  pending(): string | undefined {
    return this.live.size > 0 ? `${this.running} tasks active, ${this.waiting.length} waiting (in memory)` : undefined;
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
    this.update(entry, { status: 'active' });
    const startedAt = Date.now();
    this.observer?.started(entry.stored.createdAt, startedAt);
    try {
      const result = await doDemoWork(entry.spec.durationMs, entry.spec.payload, (progress) => this.update(entry, { progress }));
      this.finish(entry, { status: 'completed', progress: 100, result });
      this.observer?.finished('completed', Date.now() - startedAt);
    } catch (error) {
      this.finish(entry, { status: 'failed', error: (error as Error).message });
      this.observer?.finished('failed', Date.now() - startedAt);
    }
  }

  private finish(entry: Entry, change: Partial<StoredTask>): void {
    this.update(entry, { ...change, finishedAt: Date.now() });
    this.live.delete(entry.view.id);
    this.finished.set(entry.view.id, entry.view);
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
