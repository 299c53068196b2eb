import type { TaskStatus, TaskView } from './task.js';

/** The stored fields a view is made of, whichever driver stores them. */
export interface StoredTask {
  readonly id: string;
  readonly status: TaskStatus;
  readonly progress: unknown;
  readonly result: unknown;
  readonly error?: string | null;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms, once finished. */
  readonly finishedAt?: number | null;
}

/**
 * The one place a task view is built: what GET /tasks/:id, GET /tasks and every `task`
 * frame carry. Times are the store's (not the local clock of whichever instance reports).
 */
export function taskView(task: StoredTask): TaskView {
  const finished = task.status === 'completed' || task.status === 'failed';
  return {
    id: task.id,
    status: task.status,
    progress: typeof task.progress === 'number' ? task.progress : 0,
    result: task.result ?? null,
    error: task.error || null,
    createdAt: new Date(task.createdAt).toISOString(),
    finishedAt: finished && task.finishedAt ? new Date(task.finishedAt).toISOString() : null,
  };
}

/** A task just accepted. */
export function queuedView(id: string, createdAt: Date): TaskView {
  return taskView({ id, status: 'queued', progress: 0, result: null, createdAt: createdAt.getTime() });
}

/**
 * "Newest first" for lists: by the latest thing that happened to a task, its finish for a
 * finished one (BullMQ keeps finished jobs ordered by that), its creation otherwise.
 */
export function byLatestActivity(a: TaskView, b: TaskView): number {
  return (b.finishedAt ?? b.createdAt).localeCompare(a.finishedAt ?? a.createdAt);
}
