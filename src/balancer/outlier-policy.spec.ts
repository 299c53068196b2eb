import { describe, expect, it } from '@jest/globals';
import { Backend } from './backend.js';
import { OutlierPolicy, retryAfterMs, type AttemptResult, type OutlierSettings } from './outlier-policy.js';

const settings: OutlierSettings = {
  baseEjectionMs: 1000,
  maxEjectionMs: 5000,
  consecutive5xx: 3,
  maxEjectionPercent: 50,
  maxBusyMs: 10_000,
};
const ok: AttemptResult = { kind: 'success' };
const refused: AttemptResult = { kind: 'failure', failure: 'connect' };
const timeout: AttemptResult = { kind: 'failure', failure: 'timeout' };
const e500: AttemptResult = { kind: 'status_5xx', status: 500 };
const e503: AttemptResult = { kind: 'status_5xx', status: 503 };
const busy = (seconds: number): AttemptResult => ({ kind: 'status_5xx', status: 503, retryAfterMs: seconds * 1000 });

function fleetOf(size: number) {
  const fleet = Array.from({ length: size }, (_, i) => new Backend(`http://b${i}:1`));
  return { fleet, policy: new OutlierPolicy(settings) };
}

/** Feeds outcomes as first attempts at time `now`; returns each verdict's action. */
function feed(policy: OutlierPolicy, backend: Backend, fleet: Backend[], results: AttemptResult[], now = 0): string[] {
  return results.map((result) => {
    policy.attemptStarted(backend);
    return policy.record(backend, result, now, true, fleet).action;
  });
}

describe('OutlierPolicy', () => {
  it.each<[string, AttemptResult[], string[], boolean]>([
    ['a refused connection ejects at once', [refused], ['ejected'], true],
    ['a timeout ejects at once', [timeout], ['ejected'], true],
    ['5xx below the threshold do not eject', [e500, e500], ['none', 'none'], false],
    ['the third 5xx in a row ejects', [e500, e503, e500], ['none', 'none', 'ejected'], true],
    ['a success in between resets the count', [e500, e500, ok, e500, e500], ['none', 'none', 'none', 'none', 'none'], false],
    ['503 with Retry-After is busy, never ejected', [busy(2), busy(2), busy(2), busy(2)], ['busy', 'busy', 'busy', 'busy'], false],
    ['busy answers do not count toward the 5xx threshold', [e500, busy(1), e500], ['none', 'busy', 'none'], false],
  ])('%s', (_name, results, actions, ejected) => {
    const { fleet, policy } = fleetOf(4);
    expect(feed(policy, fleet[0], fleet, results)).toEqual(actions);
    expect(fleet[0].isEjected(1)).toBe(ejected);
  });

  it('lets only a request’s first attempt count: a request that fails everywhere ejects at most one backend', () => {
    const { fleet, policy } = fleetOf(4);
    const verdicts = fleet.map((backend, i) => policy.record(backend, refused, 0, i === 0, fleet).action);
    expect(verdicts).toEqual(['ejected', 'none', 'none', 'none']);
    const fiveHundreds = fleet.slice(1).map((backend) => feed(policy, backend, fleet, [e500]).length && backend.consecutive5xx);
    expect(fiveHundreds).toEqual([1, 1, 1]); // first attempts count; a retry's 5xx would not
    policy.record(fleet[1], e500, 0, false, fleet);
    expect(fleet[1].consecutive5xx).toBe(1);
    expect(policy.record(fleet[2], busy(5), 0, false, fleet).action).toBe('none');
    expect(fleet[2].isBusy(1)).toBe(false);
  });

  it.each([
    [1, 1],
    [2, 1],
    [3, 1],
    [4, 2],
    [5, 2],
    [10, 5],
  ])('caps ejections at MAX_EJECTION_PERCENT: %i backends, at most %i ejected', (size, cap) => {
    const { fleet, policy } = fleetOf(size);
    const actions = fleet.map((backend) => policy.record(backend, refused, 0, true, fleet).action);
    expect(actions.filter((a) => a === 'ejected')).toHaveLength(cap);
    expect(actions.filter((a) => a === 'cap_reached')).toHaveLength(size - cap);
    expect(fleet.filter((b) => b.isEjected(1))).toHaveLength(cap);
  });

  it('grows repeated ejections (base x count, capped) and pays the multiplier down with healthy time', () => {
    const { fleet, policy } = fleetOf(4);
    const b = fleet[0];
    const ejectAt = (now: number) => {
      policy.attemptStarted(b);
      const verdict = policy.record(b, refused, now, true, fleet);
      return verdict.action === 'ejected' ? verdict.forMs : verdict.action;
    };
    expect(ejectAt(0)).toBe(1000);
    expect(ejectAt(1000)).toBe(2000); // its probe failed at once: twice as long
    expect(ejectAt(3000)).toBe(3000);
    expect(ejectAt(6000)).toBe(4000);
    expect(ejectAt(10_000)).toBe(5000);
    expect(ejectAt(15_000)).toBe(5000); // capped at maxEjectionMs
    // Back and healthy (probe succeeded) for 4 base periods: the multiplier drops from 6 to 2.
    policy.attemptStarted(b);
    policy.record(b, ok, 20_000, true, fleet);
    expect(ejectAt(24_000)).toBe(3000);
  });

  it('lets a returning backend take one probe, then its full share after the probe succeeds', () => {
    const { fleet, policy } = fleetOf(4);
    const b = fleet[0];
    feed(policy, b, fleet, [refused], 0);
    expect(b.available(999)).toBe(false);
    expect(b.available(1000)).toBe(true); // ejection over: half-open, free for one request
    policy.attemptStarted(b);
    expect(b.available(1001)).toBe(false); // the probe is in flight: nobody else
    policy.record(b, ok, 1100, true, fleet);
    expect({ halfOpen: b.halfOpen, available: b.available(1100) }).toEqual({ halfOpen: false, available: true });
    policy.attemptStarted(b);
    policy.attemptStarted(b);
    expect(b.available(1100)).toBe(true); // full share again
  });

  it('sends a returning backend straight back when its probe fails, even on a retry attempt', () => {
    const { fleet, policy } = fleetOf(4);
    const b = fleet[0];
    feed(policy, b, fleet, [timeout], 0);
    policy.attemptStarted(b);
    expect(policy.record(b, timeout, 1000, false, fleet)).toMatchObject({ action: 'ejected', forMs: 2000 });
  });

  it('a failed probe with a 5xx frees the probe slot for the next request, without ejecting', () => {
    const { fleet, policy } = fleetOf(4);
    const b = fleet[0];
    feed(policy, b, fleet, [refused], 0);
    policy.attemptStarted(b);
    expect(policy.record(b, e500, 1000, true, fleet).action).toBe('none');
    expect({ halfOpen: b.halfOpen, available: b.available(1000) }).toEqual({ halfOpen: true, available: true });
  });

  it('says how long a backend has been out since the first ejection of its run, until it serves again', () => {
    const { fleet, policy } = fleetOf(4);
    const b = fleet[0];
    b.ready = true;
    expect(b.outForMs(0)).toBe(0);
    feed(policy, b, fleet, [refused], 1_000);
    expect(b.outForMs(1_500)).toBe(500);
    // Its probe fails at 2000: ejected again, still the same run.
    policy.attemptStarted(b);
    policy.record(b, refused, 2_000, true, fleet);
    expect(b.outForMs(3_000)).toBe(2_000);
    // Ejection over and /ready passing, waiting for a probe no idle fleet sends: not counted.
    expect(b.outForMs(5_000)).toBe(0);
    b.ready = false;
    expect(b.outForMs(5_000)).toBe(4_000);
    policy.attemptStarted(b);
    policy.record(b, ok, 5_100, true, fleet);
    expect(b.outForMs(5_100)).toBe(0);
    feed(policy, b, fleet, [refused], 9_000);
    expect(b.outForMs(9_250)).toBe(250); // a new run
  });

  it('ends an ejection early on a passing active check, into half-open', () => {
    const { fleet, policy } = fleetOf(4);
    const b = fleet[0];
    feed(policy, b, fleet, [refused], 0);
    expect(policy.activeCheckPassed(b, 200)).toBe(true);
    expect(b.available(200)).toBe(true);
    expect(b.halfOpen).toBe(true);
    expect(policy.activeCheckPassed(b, 300)).toBe(false); // nothing to end
  });

  it('does not let a passing /ready end an ejection for a timeout: traffic earns that back', () => {
    const { fleet, policy } = fleetOf(4);
    const [slow, refusing] = fleet;
    policy.record(slow, { kind: 'failure', failure: 'timeout' }, 0, true, fleet);
    policy.record(refusing, { kind: 'failure', failure: 'connect' }, 0, true, fleet);
    expect(policy.activeCheckPassed(slow, 100)).toBe(false);
    expect(slow.isEjected(100)).toBe(true);
    expect(policy.activeCheckPassed(refusing, 100)).toBe(true);
    // Once its ejection runs out it is half-open like any other: one probe request.
    expect(slow.available(1_000)).toBe(true);
    policy.attemptStarted(slow);
    expect(slow.available(1_000)).toBe(false);
  });

  it('backs a busy backend off for about its own service time, never for the client-facing Retry-After', () => {
    const { fleet, policy } = fleetOf(4);
    // No latency known yet: the 5 ms floor.
    expect(policy.record(fleet[0], busy(3), 0, true, fleet)).toEqual({ action: 'busy', forMs: 5 });
    expect(fleet[0].available(4)).toBe(false);
    expect(fleet[0].available(5)).toBe(true);
    // A backend that answers in about 20 ms is skipped for about 20 ms, not the hour it asked for.
    for (let i = 0; i < 50; i += 1) fleet[1].latency.observe(20, i * 100);
    const verdict = policy.record(fleet[1], busy(3600), 10_000, true, fleet);
    expect(verdict.action).toBe('busy');
    expect((verdict as { forMs: number }).forMs).toBeGreaterThanOrEqual(19);
    expect((verdict as { forMs: number }).forMs).toBeLessThanOrEqual(21);
    expect(fleet[1].lastVerdict).toMatch(/^busy \(503 with Retry-After: backing off \d+ ms\)$/);
    // However slow the backend, at most maxBusyMs; and a shorter Retry-After is kept.
    for (let i = 0; i < 50; i += 1) fleet[2].latency.observe(60_000, i * 100);
    expect(policy.record(fleet[2], busy(3600), 10_000, true, fleet)).toEqual({ action: 'busy', forMs: 10_000 });
    expect(policy.record(fleet[3], { kind: 'status_5xx', status: 503, retryAfterMs: 2 }, 0, true, fleet)).toEqual({
      action: 'busy',
      forMs: 2,
    });
  });
});

describe('retryAfterMs', () => {
  it.each<[string | string[] | undefined, number | undefined]>([
    [undefined, undefined],
    ['', undefined],
    ['5', 5000],
    [' 0 ', 0],
    [['2', '9'], 2000],
    ['Thu, 01 Jan 1970 00:00:10 GMT', 9000],
    ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ['soon', undefined],
  ])('reads %j as %p ms (at t=1 s)', (value, ms) => {
    expect(retryAfterMs(value, 1000)).toBe(ms);
  });
});

describe('OutlierPolicy and full backends', () => {
  it('neither ejects nor marks busy a backend whose 503 says it sheds at capacity', () => {
    const policy = new OutlierPolicy({
      baseEjectionMs: 1000,
      maxEjectionMs: 10_000,
      consecutive5xx: 2,
      maxEjectionPercent: 100,
      maxBusyMs: 1000,
    });
    const fleet = [new Backend('http://a:1'), new Backend('http://b:1')];
    const full = { kind: 'status_5xx', status: 503, retryAfterMs: 1000, full: true } as const;
    for (let i = 0; i < 5; i += 1) expect(policy.record(fleet[0], full, 0, true, fleet)).toEqual({ action: 'none' });
    expect(fleet[0]).toMatchObject({ ejectedUntil: 0, busyUntil: 0, consecutive5xx: 0 });
    expect(fleet[0].lastVerdict).toMatch(/^full/);
  });
});
