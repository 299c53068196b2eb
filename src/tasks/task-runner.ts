import { Injectable, Logger } from '@nestjs/common';
import { InvalidTaskInputError, UnknownTaskTypeError } from '../errors/index.js';
import type { AttemptAbort } from './attempt-abort.js';
import { PermanentTaskError, type TaskContext, type TaskLog } from './handlers/task-handler.js';
import { TaskTypes } from './handlers/task-types.js';
import { TaskRunMetrics } from './task-metrics.js';

/** The error a cancelled task shows, and the abort reason its handler's signal carries. */
export const CANCELLED_ERROR = 'cancelled';
/** The abort reason when the instance is forced to stop with the task still running. */
export const INTERRUPTED = 'interrupted: the instance stopped';

/** A task as a worker holds it, whichever driver. */
export interface RunnableTask {
  readonly id: string;
  readonly type: string;
  readonly input: unknown;
  readonly createdAtMs: number;
  /** This attempt, from 1. */
  readonly attempt: number;
  readonly attempts: number;
}

export type RunOutcome =
  | { readonly kind: 'completed'; readonly result: unknown }
  /** `retry`: another attempt is due (attempts left and not a permanent error). */
  | { readonly kind: 'failed'; readonly error: string; readonly retry: boolean }
  | { readonly kind: 'cancelled' }
  /** Forced shutdown: the attempt did not end; the driver leaves the task to run again. */
  | { readonly kind: 'interrupted' };

/**
 * Runs one attempt of a task with its type's handler, for either driver: the input parsed
 * again (a deploy may have changed the schema since it was queued), the context built, the
 * outcome classified, the run recorded in the metrics. Never throws.
 */
@Injectable()
export class TaskRunner {
  constructor(
    private readonly types: TaskTypes,
    private readonly metrics: TaskRunMetrics,
  ) {}

  async run(task: RunnableTask, abort: AttemptAbort, progress: (percent: number) => Promise<void> | void): Promise<RunOutcome> {
    const startedAt = Date.now();
    this.metrics.started(task.type, task.createdAtMs, startedAt);
    let outcome: RunOutcome;
    try {
      const type = this.types.get(task.type);
      const input = this.types.parse(type, task.input);
      abort.throwIfAborted();
      const context = new AttemptContext(task, abort, progress);
      const result = await type.handler.run(input, context);
      // A handler that returns after its cancel did not complete the task.
      abort.throwIfAborted();
      outcome = { kind: 'completed', result: result ?? null };
    } catch (error) {
      outcome = abort.aborted ? (abort.reason === INTERRUPTED ? { kind: 'interrupted' } : { kind: 'cancelled' }) : failure(task, error);
    }
    const recorded = outcome.kind === 'failed' ? (outcome.retry ? 'retried' : 'failed') : outcome.kind;
    this.metrics.finished(task.type, recorded, Date.now() - startedAt);
    return outcome;
  }
}

/** A failed attempt: retried unless the attempts are spent or the error is permanent. */
function failure(task: RunnableTask, error: unknown): RunOutcome {
  // An unknown type or an input the schema now refuses cannot succeed on a retry either.
  const permanent = error instanceof PermanentTaskError || error instanceof UnknownTaskTypeError || error instanceof InvalidTaskInputError;
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'failed', error: message || 'failed', retry: !permanent && task.attempt < task.attempts };
}

/** A class, not a literal: its `log` getter is on the prototype, not made again for every attempt. */
class AttemptContext implements TaskContext {
  readonly taskId: string;
  readonly attempt: number;
  readonly attempts: number;

  constructor(
    private readonly task: RunnableTask,
    private readonly abort: AttemptAbort,
    private readonly report: (percent: number) => Promise<void> | void,
  ) {
    this.taskId = task.id;
    this.attempt = task.attempt;
    this.attempts = task.attempts;
  }

  // An arrow: a handler may pass `context.progress` on unbound. Promise.resolve hands back the
  // driver's own promise, so a report makes no extra one.
  readonly progress = (percent: number): Promise<void> => Promise.resolve(this.report(Math.max(0, Math.min(100, percent))));

  // Made when first asked for (AttemptAbort says why).
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get log(): TaskLog {
    const logger = new Logger(`Task ${this.task.type} ${this.task.id}`);
    return { info: (message) => logger.log(message), warn: (message) => logger.warn(message) };
  }
}
