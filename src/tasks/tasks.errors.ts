import { DomainError } from '../ops/domain-error.js';

export const TASK_MESSAGES = {
  notFound: (id: string) => `Task ${id.slice(0, 64)} not found`,
  shuttingDown: 'This instance is shutting down and takes no new tasks; retry (another instance will)',
} as const;

export class TaskNotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(id: string) {
    super(TASK_MESSAGES.notFound(id));
  }
}

export class ShuttingDownError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 5;
  constructor() {
    super(TASK_MESSAGES.shuttingDown);
  }
}
