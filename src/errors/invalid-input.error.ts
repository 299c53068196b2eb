import { DomainError } from './domain-error.js';

/** A query parameter or body field a DTO could not express (ranges that depend on config, combinations). */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid';
}
