/**
 * What kind of expected failure a domain error is. The global exception filter maps
 * each kind to an HTTP status, so services stay free of HTTP.
 */
export type DomainErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  /** The resource exists but its state forbids the request (409). */
  | 'wrong_state'
  /** Well-formed, but contradicts what the server already holds (422). */
  | 'unprocessable'
  | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  /** Seconds a client should wait before retrying, for `unavailable` errors. */
  readonly retryAfterSeconds?: number;
  /** Fields the error body carries besides the message (e.g. the attempts of a hedged call). */
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
