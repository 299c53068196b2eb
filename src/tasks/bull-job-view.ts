import type { TaskStatus, TaskView } from './task.js';
import { CANCELLED_ERROR } from './task-runner.js';
import { taskView } from './task-view.js';

/** What ballast stores in a BullMQ job. Jobs queued before task types have no `type` (they are `demo`). */
export interface TaskJobData {
  type?: string;
  input?: unknown;
  clientId?: string;
  /** Epoch ms, when created with a delay. */
  runAt?: number;
  /** Before task types: the demo's input, at the top level. */
  durationMs?: number;
  payload?: unknown;
}

/** The fields of a BullMQ job a view is made of (structural: no bullmq import here). */
export interface StoredJob {
  readonly id?: string;
  readonly data: TaskJobData;
  readonly opts: { readonly attempts?: number };
  readonly timestamp: number;
  readonly progress: unknown;
  readonly returnvalue: unknown;
  readonly failedReason?: string;
  readonly finishedOn?: number;
  readonly attemptsMade: number;
}

export function jobType(data: TaskJobData): string {
  return data.type ?? 'demo';
}

export function jobInput(data: TaskJobData): unknown {
  return data.type ? data.input : { durationMs: data.durationMs, payload: data.payload };
}

/**
 * A BullMQ job's view. `state` is what Redis last said (getJobState), or '' when unknown; a hash
 * that says finished wins over an older state reading. `nextAttemptAtMs`: a retrying job's due
 * time (its score in the delayed set), when read.
 */
export function jobView(job: StoredJob, state: string, nextAttemptAtMs?: number): TaskView {
  const status = jobStatus(job, state);
  return taskView({
    id: job.id!,
    type: jobType(job.data),
    status,
    progress: job.progress,
    result: status === 'completed' ? job.returnvalue : null,
    error: status === 'completed' ? null : job.failedReason,
    attempt: status === 'active' ? job.attemptsMade + 1 : job.attemptsMade,
    attempts: job.opts.attempts ?? 1,
    createdAt: job.timestamp,
    runAt: job.data.runAt,
    nextAttemptAt: nextAttemptAtMs,
    finishedAt: job.finishedOn,
  });
}

function jobStatus(job: StoredJob, state: string): TaskStatus {
  if (job.finishedOn) {
    const failed = state === 'failed' || (job.failedReason && job.returnvalue == null);
    if (!failed) return 'completed';
    return job.failedReason === CANCELLED_ERROR ? 'cancelled' : 'failed';
  }
  switch (state) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return job.failedReason === CANCELLED_ERROR ? 'cancelled' : 'failed';
    case 'delayed':
      return job.attemptsMade > 0 ? 'retrying' : 'scheduled';
    default:
      // waiting, prioritized, waiting-children; after a failed attempt without backoff, a retry.
      return job.attemptsMade > 0 && job.failedReason ? 'retrying' : 'queued';
  }
}

/** The BullMQ job states a status may be found in (the view then says which it is). */
export const JOB_STATES_OF = {
  queued: ['waiting', 'prioritized', 'waiting-children'],
  scheduled: ['delayed'],
  active: ['active'],
  retrying: ['delayed', 'waiting', 'prioritized'],
  completed: ['completed'],
  failed: ['failed'],
  cancelled: ['failed'],
} as const satisfies Record<TaskStatus, readonly string[]>;
