import type { TaskSpec, TaskUpdate, TaskView } from './task.js';

/** The task queue port: a BullMQ driver with Redis, an in-process one without. */
export abstract class TaskQueue {
  /** Resolves once the task is durably queued. */
  abstract add(spec: TaskSpec): Promise<TaskView>;
  abstract get(id: string): Promise<TaskView | undefined>;
  /** Every status change of every task (with Redis: those processed on any instance). */
  abstract onUpdate(listener: (update: TaskUpdate) => void): void;
  /**
   * Shutdown: take no new jobs, let active ones finish. With Redis waiting jobs stay for
   * other instances; in memory the local queue is drained.
   */
  abstract drain(): Promise<void>;
  /** What is still running, for the grace-period log line. */
  abstract pending(): string | undefined;
}
