import type { TaskSpec, TaskStatus, TaskUpdate, TaskView } from './task.js';

export interface TaskListQuery {
  readonly status?: TaskStatus;
  /** At most this many, newest first. */
  readonly limit: number;
}

/** The queue's state, for the metrics: tasks per status, finished ones as long as they are kept. */
export type TaskCounts = Readonly<Record<TaskStatus, number>> & {
  /** How long the task waiting longest has waited; 0 when none waits. */
  readonly oldestQueuedMs: number;
};

/** What DELETE /tasks/:id did: `requested` when the task is running and its handler was signalled. */
export interface CancelOutcome {
  readonly view: TaskView;
  readonly requested: boolean;
}

/** The task queue port: a BullMQ driver with Redis, an in-process one without. */
export abstract class TaskQueue {
  /** Resolves once the task is durably queued (or scheduled). */
  /** `deadlineAt`: when the create must have answered (epoch ms); the replica wait ends before it. */
  abstract add(spec: TaskSpec, options?: { deadlineAt?: number }): Promise<TaskView>;

  /**
   * Resolves once a task another create already queued is as safe as `add` makes a new one
   * (REDIS_MIN_REPLICAS_ACK replicas have it); throws TaskNotReplicatedError otherwise. The
   * in-process queue has nothing more to wait for.
   */
  confirmReplicated(_taskId: string, _options?: { fence?: boolean; deadlineAt?: number }): Promise<void> {
    return Promise.resolve();
  }
  /** What GET /tasks/:id answers: the stored view, or undefined for an unknown id. */
  abstract get(id: string): Promise<TaskView | undefined>;
  /** Recent tasks, newest first (GET /tasks). */
  abstract list(query: TaskListQuery): Promise<TaskView[]>;
  /**
   * What a socket reconnecting with this clientId may have missed: the client's unfinished
   * tasks, and those that finished within RECENTLY_FINISHED_MS (while it was away).
   */
  abstract recentOf(clientId: string, limit: number): Promise<TaskView[]>;
  /**
   * Cancels a task: a waiting one (queued, scheduled, retrying) ends `cancelled` now; a running
   * one has its handler's signal aborted on whichever instance runs it and ends `cancelled` when
   * the handler returns. Throws TaskNotFoundError, or TaskFinishedError for a finished task.
   */
  abstract cancel(id: string): Promise<CancelOutcome>;
  /** Runs a failed task again from its first attempt. Throws TaskNotFoundError or TaskNotFailedError. */
  abstract retry(id: string): Promise<TaskView>;
  /**
   * Every status change of every task (with Redis: those processed on any instance). Each
   * update's view is what `get` would answer at that moment.
   */
  abstract onUpdate(listener: (update: TaskUpdate) => void): void;
  /**
   * Shutdown: take no new jobs, let active ones finish. With Redis waiting jobs stay for
   * other instances; in memory the local queue is drained.
   */
  abstract drain(): Promise<void>;
  /** Tasks per status and the oldest wait (read by the metrics at most once a second). */
  abstract counts(nowMs: number): Promise<TaskCounts>;
  /** What is still running, for the grace-period log line. */
  abstract pending(): string | undefined;

  private readonly resumedListeners: (() => void)[] = [];

  /**
   * The event feed reconnected (with Redis: after an outage or a failover) and may have missed
   * updates: followers should be told the present. The in-process driver never misses one.
   */
  onEventsResumed(listener: () => void): void {
    this.resumedListeners.push(listener);
  }

  protected eventsResumed(): void {
    for (const listener of this.resumedListeners) listener();
  }
}
