import { DomainError } from './domain-error.js';
import { ERROR_MESSAGES } from './messages.js';

export type SmartFailureReason = keyof typeof ERROR_MESSAGES.smart;

/** A hedged call that found no good answer in time; its body lists every attempt. */
export class SmartCallFailedError extends DomainError {
  readonly kind = 'unavailable';
  override readonly details: { reason: SmartFailureReason; attempts: readonly unknown[] };

  constructor(reason: SmartFailureReason, timeoutMs: number, attempts: readonly unknown[]) {
    super(ERROR_MESSAGES.smart[reason](timeoutMs));
    this.details = { reason, attempts };
  }
}
