import type { Job } from 'bullmq';
import type { TaskJobData } from './bull-job-view.js';

export const TASK_QUEUE_NAME = 'ballast-tasks';
/** Token of this instance's worker handle (absent when TASK_CONCURRENCY=0). */
export const TASK_WORKER = Symbol('TASK_WORKER');

/** What the queue driver needs of the local worker. */
export interface TaskWorkerHandle {
  /** `force`: do not wait for active jobs (they stay in Redis; their handlers are signalled). */
  close(force?: boolean): Promise<void>;
  activeCount(): number;
  /** The most jobs it runs at once. */
  readonly concurrency: number;
  /** When it last started a job (epoch ms), if it has. */
  lastStartedAt(): number | undefined;
  /** Puts a new worker in its place (its fetch loop is stuck); false once closing. */
  replace(): boolean;
  /** Aborts the handler of `id` if this worker runs it (or is about to). */
  cancel(id: string): void;
  /**
   * Calls `listener` with each job this worker moved to completed or failed, as BullMQ left
   * it after the move: the same fields, finish time included, that the job's hash now holds.
   */
  onFinished(listener: (job: Job<TaskJobData>) => void): void;
}
