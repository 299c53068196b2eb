import { ERROR_MESSAGES } from '../errors/messages.js';
import type { Backend } from './backend.js';
import type { BackendPool, Unavailability } from './backend-pool.js';
import type { AttemptResult } from './outlier-policy.js';
import type { AttemptFailure } from './proxy-errors.js';
import type { RetryBudget } from './retry-budget.js';
import { mayRetry } from './retry-policy.js';

/** One failed attempt, as the client's 502/504 body lists it. */
export interface AttemptRecord {
  readonly backend: string;
  readonly failure?: AttemptFailure;
  readonly status?: number;
}

/** What the attempt loop needs of the upstreams: selection and the one place attempts are recorded (Upstreams). */
export interface AttemptLedger {
  readonly pool: BackendPool;
  readonly retryBudget: RetryBudget;
  attemptStarted(backend: Backend): void;
  recordAttempt(backend: Backend, result: AttemptResult, firstAttempt: boolean): void;
  attemptEnded(backend: Backend): void;
}

/** One attempt at one backend. */
export interface Attempt {
  readonly backend: Backend;
  /** Its request's first: only those count against a backend (see OutlierPolicy). */
  readonly first: boolean;
}

/** Where the request stands when an attempt failed: what may make another attempt unsafe. */
export interface RequestProgress {
  readonly clientGone: boolean;
  /** Response bytes already reached the client. */
  readonly committed: boolean;
  /** The client's body began flowing to an upstream. */
  readonly bodyStarted: boolean;
}

/** The answer when the attempts are over without a response to pass on. */
export interface GiveUp {
  /** For the access log: no backend could be tried, or every attempt failed. */
  readonly reason: 'no_backend' | 'attempts_failed';
  readonly status: 502 | 503 | 504;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  readonly details: Readonly<Record<string, unknown>>;
}

type FailedResult = Extract<AttemptResult, { kind: 'failure' | 'status_5xx' }>;

/**
 * The one "pick, try, judge, maybe the next" loop of a request at the backends, shared by the
 * HTTP proxy and the WebSocket tunnel: each backend at most once per request, but for one that
 * refused it for being full (a sticky request only its owner), every attempt started, judged
 * and ended through the ledger, and the next attempt only when the retry policy says it is
 * safe. The caller does the I/O. No Nest, no I/O.
 */
export class BackendAttempts {
  /** Made on the first retry only: most requests need one attempt and no set. */
  private tried?: Set<Backend>;
  private firstTried?: Backend;
  private readonly failures: AttemptRecord[] = [];
  /** A retry was refused for want of budget. */
  budgetSpent = false;
  /** A backend answered 503 (busy or at capacity) on the way: its Retry-After in ms, at least 0. */
  private refusedRetryAfterMs?: number;

  constructor(
    private readonly ledger: AttemptLedger,
    private readonly method: string,
    /** A sticky item's owner: the only backend this request may go to. */
    private readonly pinnedTo?: Backend,
  ) {}

  /**
   * Picks the next backend not tried yet and starts an attempt at it; undefined when none is
   * left. A second or later attempt is a retry: it also needs the retry budget.
   */
  next(nowMs: number): Attempt | undefined {
    let backend: Backend | undefined;
    if (this.pinnedTo) {
      backend = this.firstTried ? undefined : this.pinnedTo;
    } else {
      if (this.firstTried && !this.tried) this.tried = new Set([this.firstTried]);
      backend = this.ledger.pool.pick(nowMs, this.tried);
    }
    if (!backend) return undefined;
    const first = this.firstTried === undefined;
    if (!first && !this.ledger.retryBudget.tryRetry()) {
      this.budgetSpent = true;
      return undefined;
    }
    if (first) this.firstTried = backend;
    else this.tried?.add(backend);
    this.ledger.attemptStarted(backend);
    return { backend, first };
  }

  /** The backend answered (anything below 500, or a 5xx passed on): judged a success. */
  succeeded(attempt: Attempt): void {
    this.ledger.recordAttempt(attempt.backend, { kind: 'success' }, attempt.first);
  }

  /** The client left before the backend answered: counted, not held against the backend. */
  abandoned(attempt: Attempt): void {
    this.ledger.recordAttempt(attempt.backend, { kind: 'abandoned' }, attempt.first);
  }

  /**
   * A failed attempt, judged and listed for the error body. Returns whether the request may
   * move on to another backend (retry-policy.ts); the caller then calls `next`.
   */
  failed(attempt: Attempt, result: FailedResult, progress: RequestProgress): boolean {
    this.ledger.recordAttempt(attempt.backend, result, attempt.first);
    const failure: AttemptFailure = result.kind === 'failure' ? result.failure : 'status_5xx';
    if (result.kind === 'status_5xx' && result.status === 503) {
      this.refusedRetryAfterMs = Math.max(this.refusedRetryAfterMs ?? 0, result.retryAfterMs ?? 0);
    }
    this.failures.push(
      result.kind === 'failure' ? { backend: attempt.backend.url, failure } : { backend: attempt.backend.url, status: result.status },
    );
    if (result.kind === 'status_5xx' && result.full) this.mayTryAgain(attempt.backend);
    return mayRetry({ method: this.method, failure, pinned: this.pinnedTo !== undefined, ...progress });
  }

  /**
   * A backend that shed the request at capacity is not broken, and its next slot frees within a
   * service time: the request may go back to it, waiting in the admission queue for that slot
   * (within the queue's deadline, counted from its first wait, and the retry budget). Another
   * worker or balancer had filled it unseen: with two workers, a worker that had not heard from
   * the backend lately sent its requests into the other's full backend, and every one came back
   * 503, for their only backend had been tried.
   */
  private mayTryAgain(backend: Backend): void {
    if (this.pinnedTo) return;
    this.tried ??= new Set(this.firstTried ? [this.firstTried] : []);
    this.tried.delete(backend);
  }

  /** The attempt no longer occupies its backend (its response ended, or it failed). */
  ended(attempt: Attempt): void {
    if (!attempt.first) this.ledger.retryBudget.retryEnded();
    this.ledger.attemptEnded(attempt.backend);
  }

  /** The backends this request already tried (none, or only the first, is kept without a set). */
  get triedSet(): ReadonlySet<Backend> | undefined {
    if (this.tried) return this.tried;
    return this.firstTried ? new Set([this.firstTried]) : undefined;
  }

  /** No attempt made yet. */
  get notStarted(): boolean {
    return this.firstTried === undefined;
  }

  get pinned(): boolean {
    return this.pinnedTo !== undefined;
  }

  /** Every attempt in order, for the access log: the failed ones, then the one that answered (if any). */
  trail(answered?: AttemptRecord): AttemptRecord[] {
    return answered ? [...this.failures, answered] : [...this.failures];
  }

  /** How the last failed attempt failed (connect, timeout, reset), if it got no answer at all. */
  get lastFailure(): AttemptFailure | undefined {
    return this.failures.at(-1)?.failure;
  }

  /** How many attempts failed so far. */
  get failedCount(): number {
    return this.failures.length;
  }

  /**
   * Out of backends or retries. With no attempt made: 503 saying why no backend was available,
   * by kind and count, and when the first returns. When a backend said 503 on the way (busy, or
   * at capacity) and the next attempt found none that could answer: 503 with Retry-After, as
   * that backend would have answered — the fleet is full, not broken. Otherwise 502 (504 when
   * the last attempt timed out). Every attempt is listed.
   */
  giveUp(nowMs: number): GiveUp {
    if (this.failures.length === 0) return noBackendAvailable(this.ledger.pool.unavailability(nowMs), nowMs);
    const reason = 'attempts_failed';
    const message = ERROR_MESSAGES.balancer.attemptsFailed(this.failures.length, this.budgetSpent);
    const details = { attempts: this.failures };
    if (this.refusedRetryAfterMs !== undefined) {
      return { reason, status: 503, message, retryAfterSeconds: Math.max(1, Math.ceil(this.refusedRetryAfterMs / 1000)), details };
    }
    return { reason, status: this.lastFailure === 'timeout' ? 504 : 502, message, details };
  }
}

/** 503 with why each unavailable backend is so; Retry-After is when the first returns (at least 1 s). */
export function noBackendAvailable(unavailable: Unavailability, nowMs: number): GiveUp {
  const { total, ejected, busy, probing, full, firstReturnMs, busyUntil } = unavailable;
  const retryAfterSeconds = firstReturnMs === undefined ? 1 : Math.max(1, Math.ceil((firstReturnMs - nowMs) / 1000));
  const details = { backends: { total, ejected, busy, probing, full } };
  if (total === 0) return { reason: 'no_backend', status: 503, message: ERROR_MESSAGES.balancer.noBackends, retryAfterSeconds, details };
  const why: string[] = [];
  if (ejected > 0) why.push(`${ejected} ejected`);
  if (busy > 0) why.push(`${busy} busy until ${new Date(busyUntil!).toISOString()}`);
  if (probing > 0) why.push(`${probing} probing (one request at a time)`);
  if (full > 0) why.push(`${full} full (no free slot by its load report)`);
  return {
    reason: 'no_backend',
    status: 503,
    message: ERROR_MESSAGES.balancer.noneAvailable(why.join(', ')),
    retryAfterSeconds,
    details,
  };
}
