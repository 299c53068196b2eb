import { DomainError } from './domain-error.js';

/** A query parameter or body field the route cannot accept; `reasons` when there are several. */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid';
  declare readonly details?: { reasons: readonly string[] };

  constructor(message: string, reasons?: readonly string[]) {
    super(message);
    if (reasons && reasons.length > 0) this.details = { reasons };
  }
}
