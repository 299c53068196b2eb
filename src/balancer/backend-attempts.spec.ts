import { describe, expect, it } from '@jest/globals';
import type { Backend } from './backend.js';
import { BackendAttempts, noBackendAvailable, type AttemptLedger } from './backend-attempts.js';
import { BackendPool } from './backend-pool.js';
import { RetryBudget } from './retry-budget.js';
import type { AttemptResult } from './outlier-policy.js';

/** A ledger that keeps what it was told, over a real pool. */
function ledgerOver(urls: string[]) {
  const events: string[] = [];
  const name = (backend: Backend) => backend.url.slice(7, 8);
  const ledger: AttemptLedger = {
    pool: new BackendPool(urls),
    retryBudget: new RetryBudget({ percent: 20, minConcurrency: 3 }),
    attemptStarted: (backend) => events.push(`start ${name(backend)}`),
    recordAttempt: (backend: Backend, result: AttemptResult, first: boolean) =>
      events.push(`${result.kind} ${name(backend)}${first ? ' first' : ''}`),
    attemptEnded: (backend) => events.push(`end ${name(backend)}`),
  };
  return { ledger, events };
}

const urls = ['http://a:1', 'http://b:1', 'http://c:1'];
const untouched = { clientGone: false, committed: false, bodyStarted: false };

describe('BackendAttempts', () => {
  it('tries each backend at most once, records every attempt, and lists the failures in its 502', () => {
    const { ledger, events } = ledgerOver(urls);
    const attempts = new BackendAttempts(ledger, 'GET');
    for (let attempt = attempts.next(0); attempt; attempt = attempts.next(0)) {
      expect(attempts.failed(attempt, { kind: 'failure', failure: 'reset' }, untouched)).toBe(true);
      attempts.ended(attempt);
    }
    expect(events).toEqual(['start a', 'failure a first', 'end a', 'start b', 'failure b', 'end b', 'start c', 'failure c', 'end c']);
    expect(attempts.giveUp(0)).toMatchObject({ status: 502, message: 'All 3 attempts failed' });
    expect(attempts.giveUp(0).details.attempts).toEqual(urls.map((backend) => ({ backend, failure: 'reset' })));
  });

  it('may go back to a backend that refused it for being full (not broken: a slot frees there soon), but not to one that failed', () => {
    const { ledger, events } = ledgerOver(['http://a:1']);
    const attempts = new BackendAttempts(ledger, 'GET');
    const refused = attempts.next(0)!;
    expect(attempts.failed(refused, { kind: 'status_5xx', status: 503, retryAfterMs: 1_000, full: true }, untouched)).toBe(true);
    attempts.ended(refused);
    expect(attempts.triedSet?.has(refused.backend)).toBe(false);
    const again = attempts.next(0)!;
    expect(again).toMatchObject({ backend: refused.backend, first: false });
    attempts.failed(again, { kind: 'failure', failure: 'reset' }, untouched);
    attempts.ended(again);
    expect(attempts.next(0)).toBeUndefined();
    expect(events).toEqual(['start a', 'status_5xx a first', 'end a', 'start a', 'failure a', 'end a']);
    // A sticky request has its owner only, once.
    const pinned = new BackendAttempts(ledger, 'GET', refused.backend);
    pinned.failed(pinned.next(0)!, { kind: 'status_5xx', status: 503, retryAfterMs: 1_000, full: true }, untouched);
    expect(pinned.next(0)).toBeUndefined();
  });

  it('answers 504 when the last attempt timed out, and a 5xx is listed by its status', () => {
    const { ledger } = ledgerOver(urls);
    const attempts = new BackendAttempts(ledger, 'GET');
    attempts.failed(attempts.next(0)!, { kind: 'status_5xx', status: 500 }, untouched);
    attempts.failed(attempts.next(0)!, { kind: 'failure', failure: 'timeout' }, untouched);
    expect(attempts.giveUp(0)).toMatchObject({
      status: 504,
      details: {
        attempts: [
          { backend: 'http://a:1', status: 500 },
          { backend: 'http://b:1', failure: 'timeout' },
        ],
      },
    });
  });

  it('answers 503 with Retry-After, not 502, when a backend said 503 on the way and the next could not answer', () => {
    const { ledger } = ledgerOver(urls);
    const attempts = new BackendAttempts(ledger, 'GET');
    attempts.failed(attempts.next(0)!, { kind: 'status_5xx', status: 503, retryAfterMs: 1_500, full: true }, untouched);
    attempts.failed(attempts.next(0)!, { kind: 'failure', failure: 'connect' }, untouched);
    expect(attempts.giveUp(0)).toMatchObject({
      status: 503,
      retryAfterSeconds: 2,
      details: {
        attempts: [
          { backend: 'http://a:1', status: 503 },
          { backend: 'http://b:1', failure: 'connect' },
        ],
      },
    });
    // A 500 on the way is a broken backend, not a full one: still 502.
    const broken = new BackendAttempts(ledger, 'GET');
    broken.failed(broken.next(0)!, { kind: 'status_5xx', status: 500 }, untouched);
    broken.failed(broken.next(0)!, { kind: 'failure', failure: 'connect' }, untouched);
    expect(broken.giveUp(0).status).toBe(502);
  });

  it('moves on only when the retry policy allows: not for a POST that was sent, never once committed', () => {
    const { ledger } = ledgerOver(urls);
    const post = new BackendAttempts(ledger, 'POST');
    expect(post.failed(post.next(0)!, { kind: 'failure', failure: 'reset' }, untouched)).toBe(false);
    expect(post.failed(post.next(0)!, { kind: 'failure', failure: 'connect' }, untouched)).toBe(true);
    const get = new BackendAttempts(ledger, 'GET');
    expect(get.failed(get.next(0)!, { kind: 'status_5xx', status: 502 }, { ...untouched, committed: true })).toBe(false);
  });

  it('a sticky request goes to its owner only, once', () => {
    const { ledger, events } = ledgerOver(urls);
    const owner = ledger.pool.byUrl('http://c:1')!;
    const attempts = new BackendAttempts(ledger, 'GET', owner);
    const attempt = attempts.next(0)!;
    expect(attempt).toEqual({ backend: owner, first: true });
    expect(attempts.failed(attempt, { kind: 'failure', failure: 'connect' }, untouched)).toBe(false);
    expect(attempts.next(0)).toBeUndefined();
    expect(events).toEqual(['start c', 'failure c first']);
  });

  it('judges successes and abandoned attempts without listing them as failures', () => {
    const { ledger, events } = ledgerOver(urls);
    const attempts = new BackendAttempts(ledger, 'GET');
    attempts.abandoned(attempts.next(0)!);
    attempts.succeeded(attempts.next(0)!);
    expect(events).toEqual(['start a', 'abandoned a first', 'start b', 'success b']);
    expect(attempts.failedCount).toBe(0);
  });
});

describe('noBackendAvailable', () => {
  it('names each kind of unavailability with its count, and Retry-After is the first return', () => {
    const answer = noBackendAvailable(
      { total: 4, ejected: 2, busy: 1, probing: 1, full: 0, firstReturnMs: 3_500, busyUntil: 3_500 },
      1_000,
    );
    expect(answer.message).toBe(
      'No backend available: 2 ejected, 1 busy until 1970-01-01T00:00:03.500Z, 1 probing (one request at a time)',
    );
    expect(answer).toMatchObject({
      status: 503,
      retryAfterSeconds: 3,
      details: { backends: { total: 4, ejected: 2, busy: 1, probing: 1, full: 0 } },
    });
  });

  it('says when no backend is configured at all', () => {
    expect(noBackendAvailable({ total: 0, ejected: 0, busy: 0, probing: 0, full: 0 }, 0)).toMatchObject({
      status: 503,
      retryAfterSeconds: 1,
      message: expect.stringMatching(/No backend configured/),
    });
  });
});
