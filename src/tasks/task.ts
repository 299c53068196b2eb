import type { RetryPolicy } from '../config/index.js';

/**
 * Where a task is. `scheduled`: created with a delay, not due yet; `retrying`: an attempt failed
 * and another will run (at `nextAttemptAt`); `cancelled`: a DELETE stopped it.
 */
export type TaskStatus = 'queued' | 'scheduled' | 'active' | 'retrying' | 'completed' | 'failed' | 'cancelled';

export const TASK_STATUSES: readonly TaskStatus[] = ['queued', 'scheduled', 'active', 'retrying', 'completed', 'failed', 'cancelled'];
export const FINISHED_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

/** What GET /tasks/:id and every `task` WebSocket frame carry. */
export interface TaskView {
  readonly id: string;
  readonly type: string;
  readonly status: TaskStatus;
  /** 0-100. */
  readonly progress: number;
  readonly result: unknown;
  /** The last attempt's error: set while `retrying` and once `failed` or `cancelled`. */
  readonly error: string | null;
  /** The attempt running or last run, from 1; 0 before the first starts. */
  readonly attempt: number;
  /** How many attempts the task may have. */
  readonly attempts: number;
  readonly createdAt: string;
  /** When a delayed task was asked to run (null without a delay). */
  readonly runAt: string | null;
  /** While `retrying`: when the next attempt is due. */
  readonly nextAttemptAt: string | null;
  readonly finishedAt: string | null;
}

/** A task as a driver queues it: validated, its type known, its id chosen. */
export interface TaskSpec {
  readonly id: string;
  readonly type: string;
  /** The input as the client sent it; the handler's schema parses it again when it runs. */
  readonly input: unknown;
  /** Socket clients that connected with this id get the task's frames unasked. */
  readonly clientId?: string;
  /** Epoch ms; absent: now. */
  readonly runAt?: number;
  /** Lower runs first; 0 (no priority) before any prioritized task, as in BullMQ. */
  readonly priority: number;
  readonly retry: RetryPolicy;
}

/** A status change, with the creator's client id for routing frames. */
export interface TaskUpdate {
  readonly view: TaskView;
  readonly clientId?: string;
}
