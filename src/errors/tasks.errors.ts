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
