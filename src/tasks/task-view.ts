import { FINISHED_STATUSES, type TaskStatus, type TaskView } from './task.js';

/** The stored fields a view is made of, whichever driver stores them. */
export interface StoredTask {
  readonly id: string;
  readonly type: string;
  readonly status: TaskStatus;
  readonly progress: unknown;
  readonly result: unknown;
  readonly error?: string | null;
  readonly attempt: number;
  readonly attempts: number;
  /** Epoch ms. */
  readonly createdAt: number;
  /** Epoch ms, when created with a delay. */
  readonly runAt?: number | null;
  /** Epoch ms, while retrying. */
  readonly nextAttemptAt?: number | null;
  /** Epoch ms, once finished. */
  readonly finishedAt?: number | null;
}

/**
 * The one place a task view is built: what GET /tasks/:id, GET /tasks and every `task`
 * frame carry, from either driver. Times are the store's (not the local clock of whichever
 * instance reports).
 */
export function taskView(task: StoredTask): TaskView {
  const finished = FINISHED_STATUSES.includes(task.status);
  return {
    id: task.id,
    type: task.type,
    status: task.status,
    progress: typeof task.progress === 'number' ? task.progress : 0,
    result: task.result ?? null,
    error: task.error || null,
    attempt: task.attempt,
    attempts: task.attempts,
    createdAt: isoOrNull(task.createdAt)!,
    runAt: isoOrNull(task.runAt),
    nextAttemptAt: task.status === 'retrying' ? isoOrNull(task.nextAttemptAt) : null,
    finishedAt: finished ? isoOrNull(task.finishedAt) : null,
  };
}

function isoOrNull(ms: number | null | undefined): string | null {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : null;
}

/** The same task, now running; with `progress` when a progress report says how far. */
export function activeView(view: TaskView, progress?: unknown): TaskView {
  return {
    ...view,
    status: 'active',
    attempt: view.status === 'active' ? view.attempt : view.attempt + 1,
    nextAttemptAt: null,
    progress: progress === undefined ? view.progress : typeof progress === 'number' ? progress : 0,
  };
}

export function isFinished(view: TaskView): boolean {
  return FINISHED_STATUSES.includes(view.status);
}

/**
 * "Newest first" for lists: by the latest thing that happened to a task, its finish for a
 * finished one (BullMQ keeps finished jobs ordered by that), its creation otherwise.
 */
export function byLatestActivity(a: TaskView, b: TaskView): number {
  return (b.finishedAt ?? b.createdAt).localeCompare(a.finishedAt ?? a.createdAt);
}

/**
 * A socket that reconnects with its clientId is also told of tasks that finished this
 * recently: one that ended while it was away (drained, reconnecting) would otherwise never be.
 */
export const RECENTLY_FINISHED_MS = 60_000;

/** Whether a task finished before `cutoffMs` (ms since epoch). */
export function finishedBefore(view: TaskView, cutoffMs: number): boolean {
  return isFinished(view) && (view.finishedAt == null || Date.parse(view.finishedAt) < cutoffMs);
}
