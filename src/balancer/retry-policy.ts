import type { AttemptFailure } from './proxy-errors.js';

/** Methods whose repetition has no further effect (RFC 9110 9.2.2): safe to resend. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export interface RetryFacts {
  readonly method: string;
  readonly failure: AttemptFailure;
  /** The request is bound to one backend (a sticky item's owner). */
  readonly pinned: boolean;
  readonly clientGone: boolean;
  /** Response bytes already reached the client. */
  readonly committed: boolean;
  /** The client's body began flowing to an upstream: it cannot be sent again. */
  readonly bodyStarted: boolean;
}

/**
 * Whether a failed attempt may go to another backend: never once anything reached the client
 * or the body started flowing; a refused connection (nothing was sent, as nginx reasons) for
 * any method; anything else only for idempotent methods. Pure.
 */
export function mayRetry(facts: RetryFacts): boolean {
  if (facts.pinned || facts.clientGone || facts.committed || facts.bodyStarted) return false;
  return facts.failure === 'connect' || IDEMPOTENT.has(facts.method);
}
