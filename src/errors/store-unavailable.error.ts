import { DomainError } from './domain-error.js';
import { ERROR_MESSAGES } from './messages.js';

/** Redis (or whatever backs a store) cannot be reached right now. */
export class StoreUnavailableError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 1;
  constructor() {
    super(ERROR_MESSAGES.store.unavailable);
  }
}
