import { DomainError } from './domain-error.js';
import { ERROR_MESSAGES } from './messages.js';

export class TaskNotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(id: string) {
    super(ERROR_MESSAGES.tasks.notFound(id));
  }
}

export class ShuttingDownError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 5;
  constructor() {
    super(ERROR_MESSAGES.tasks.shuttingDown);
  }
}

/** A task type no handler is registered for. */
export class UnknownTaskTypeError extends DomainError {
  readonly kind = 'invalid';
  override readonly details: { knownTypes: readonly string[] };
  constructor(type: string, knownTypes: readonly string[]) {
    super(ERROR_MESSAGES.tasks.unknownType(type, knownTypes));
    this.details = { knownTypes };
  }
}

/** A task's input its handler's schema refuses. */
export class InvalidTaskInputError extends DomainError {
  readonly kind = 'invalid';
  override readonly details: { reasons: readonly string[] };
  constructor(type: string, reasons: readonly string[]) {
    super(ERROR_MESSAGES.tasks.badInput(type, reasons));
    this.details = { reasons };
  }
}

/** Cancel of a task that already finished (409). */
export class TaskFinishedError extends DomainError {
  readonly kind = 'wrong_state';
  constructor(id: string, status: string) {
    super(ERROR_MESSAGES.tasks.finished(id, status));
  }
}

/** Retry of a task that has not failed (409). */
export class TaskNotFailedError extends DomainError {
  readonly kind = 'wrong_state';
  constructor(id: string, status: string) {
    super(ERROR_MESSAGES.tasks.notFailed(id, status));
  }
}

/** The same Idempotency-Key with another body (422, as the IETF httpapi draft says). */
export class IdempotencyKeyReusedError extends DomainError {
  readonly kind = 'unprocessable';
  constructor() {
    super(ERROR_MESSAGES.tasks.idempotencyKeyReused);
  }
}

export class InvalidIdempotencyKeyError extends DomainError {
  readonly kind = 'invalid';
  constructor() {
    super(ERROR_MESSAGES.tasks.idempotencyKeyInvalid);
  }
}

/**
 * REDIS_MIN_REPLICAS_ACK: the create reached the primary but fewer replicas confirmed it than
 * required, in time. 503 with the task's id: a retry with the same Idempotency-Key answers with
 * this task, never a second one.
 */
export class TaskNotReplicatedError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 1;
  override readonly details: { taskId: string; replicasAcknowledged: number; replicasRequired: number };
  constructor(taskId: string, acknowledged: number, required: number, waitedMs: number) {
    super(ERROR_MESSAGES.tasks.notReplicated(taskId, acknowledged, required, waitedMs));
    this.details = { taskId, replicasAcknowledged: acknowledged, replicasRequired: required };
  }
}
