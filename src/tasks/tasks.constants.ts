import type { Job } from 'bullmq';

export const TASK_QUEUE_NAME = 'ballast-tasks';
/** Token of this instance's worker handle (absent when TASK_CONCURRENCY=0). */
export const TASK_WORKER = Symbol('TASK_WORKER');

export interface TaskJobData {
  durationMs: number;
  payload: unknown;
  clientId?: string;
}

/** What the queue driver needs of the local worker at shutdown. */
export interface TaskWorkerHandle {
  /** `force`: do not wait for active jobs (they stay in Redis). */
  close(force?: boolean): Promise<void>;
  activeCount(): number;
  /**
   * Calls `listener` with each job this worker moved to completed or failed, as BullMQ left
   * it after the move: the same fields, finish time included, that the job's hash now holds.
   */
  onFinished(listener: (job: Job<TaskJobData>) => void): void;
}
