import { DomainError } from './domain-error.js';
import { ERROR_MESSAGES } from './messages.js';

/** A protected path was asked for without the right ADMIN_TOKEN (401 with a Basic and Bearer challenge). */
export class AdminTokenRequiredError extends DomainError {
  readonly kind = 'unauthorized';

  constructor() {
    super(ERROR_MESSAGES.admin.required);
  }
}
