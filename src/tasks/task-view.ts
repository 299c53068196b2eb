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

/** The fields of a BullMQ job a view is made of (structural: no bullmq import here). */
export interface StoredJob {
  readonly id?: string;
  readonly timestamp: number;
  readonly progress: unknown;
  readonly returnvalue: unknown;
  readonly failedReason?: string;
  readonly finishedOn?: number;
}

/**
 * The one place a task view is built: what GET /tasks/:id, GET /tasks and every `task`
 * frame carry, from either driver. Times are the store's (not the local clock of whichever
 * instance reports).
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
export function queuedView(id: string, createdAtMs: number): TaskView {
  return taskView({ id, status: 'queued', progress: 0, result: null, createdAt: createdAtMs });
}

/** The same task, now running; with `progress` when a progress report says how far. */
export function activeView(view: TaskView, progress?: unknown): TaskView {
  return { ...view, status: 'active', progress: progress === undefined ? view.progress : typeof progress === 'number' ? progress : 0 };
}

/**
 * A BullMQ job's view. `state` is what Redis last said (getJobState), or '' when unknown; a hash
 * that says finished wins over an older state reading.
 */
export function jobView(job: StoredJob, state: string): TaskView {
  const status: TaskStatus = job.finishedOn
    ? state === 'failed' || (job.failedReason && job.returnvalue == null)
      ? 'failed'
      : 'completed'
    : statusOfJobState(state);
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

/** BullMQ job states behind each task status. */
export const JOB_STATES_OF = {
  queued: ['waiting', 'delayed', 'prioritized', 'waiting-children'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
} as const satisfies Record<TaskStatus, readonly string[]>;

function statusOfJobState(state: string): TaskStatus {
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

export function isFinished(view: TaskView): boolean {
  return view.status === 'completed' || view.status === 'failed';
}

/**
 * "Newest first" for lists: by the latest thing that happened to a task, its finish for a
 * finished one (BullMQ keeps finished jobs ordered by that), its creation otherwise.
 */
export function byLatestActivity(a: TaskView, b: TaskView): number {
  return (b.finishedAt ?? b.createdAt).localeCompare(a.finishedAt ?? a.createdAt);
}
