import { DiscoveryService } from '@nestjs/core';
import type { z } from 'zod';

/** What a handler's `run` is given besides its input. */
export interface TaskContext {
  readonly taskId: string;
  /** This attempt, from 1. */
  readonly attempt: number;
  /** How many attempts the task may have. */
  readonly attempts: number;
  /**
   * Aborted when the task is cancelled (from any instance) or the instance is forced to stop:
   * pass it to whatever the handler waits on. The handler's return after an abort is discarded.
   */
  readonly signal: AbortSignal;
  /** Reports progress (0-100) to GET /tasks/:id and the sockets following the task. */
  progress(percent: number): Promise<void>;
  /** Log lines carrying the task's id and type. */
  readonly log: TaskLog;
}

export interface TaskLog {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * A task type's handler: a Nest provider marked `@TaskHandler('type')`, with a zod schema for
 * its input (checked at POST /tasks, before anything is queued, and again when it runs) and
 * `run`. What `run` resolves with is the task's `result`; what it throws fails the attempt,
 * retried by the type's policy unless it is a PermanentTaskError.
 */
export interface RunsTask<Input = unknown> {
  readonly input: z.ZodType<Input>;
  run(input: Input, context: TaskContext): Promise<unknown>;
}

export interface TaskHandlerOptions {
  readonly type: string;
  /** Attempts in all (default TASK_ATTEMPTS). */
  readonly attempts?: number;
  /** First retry's backoff; doubles each retry, with jitter (default TASK_BACKOFF_MS). */
  readonly backoffMs?: number;
  readonly backoffMaxMs?: number;
}

/** Marks a provider as the handler of a task type: `@TaskHandler('report')` or with options. */
export const TaskHandler = DiscoveryService.createDecorator<string | TaskHandlerOptions>();

/** Thrown by a handler: fail the task now, without the retries left (BullMQ's UnrecoverableError). */
export class PermanentTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentTaskError';
  }
}
