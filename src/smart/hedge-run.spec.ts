import { describe, expect, it } from '@jest/globals';
import { HedgeRun, type HedgeAction } from './hedge-run.js';
import { TokenBucket } from './token-bucket.js';

const plan = { deadlineMs: 1000, hedgeDelayMs: 300, backups: 2 };
const bucket = (tokens = 100) => new TokenBucket(tokens, 1);
const launched = (actions: HedgeAction[]) =>
  actions.filter((a) => a.type === 'launch').flatMap((a) => (a.type === 'launch' ? a.attempts : []));
const finish = (actions: HedgeAction[]) => actions.find((a) => a.type === 'finish');
const aborted = (actions: HedgeAction[]) => actions.find((a) => a.type === 'abort');

describe('HedgeRun', () => {
  it('starts one attempt and arms the hedge and deadline timers', () => {
    expect(new HedgeRun(plan, bucket()).start()).toEqual([
      { type: 'launch', attempts: [0] },
      { type: 'timer', name: 'deadline', atMs: 1000 },
      { type: 'timer', name: 'hedge', atMs: 300 },
    ]);
  });

  it('first succeeds before the hedge: no backups, nothing to abort', () => {
    const run = new HedgeRun(plan, bucket());
    run.start();
    expect(run.attemptSucceeded(0)).toEqual([{ type: 'finish', outcome: 'success', winner: 0 }]);
    expect(run.timerFired('hedge')).toEqual([]);
    expect(run.launched).toBe(1);
  });

  it('first fails early: backups go out at once, and the first winning backup aborts the other', () => {
    const run = new HedgeRun(plan, bucket());
    run.start();
    expect(launched(run.attemptFailed(0))).toEqual([1, 2]);
    const actions = run.attemptSucceeded(2);
    expect(aborted(actions)).toEqual({ type: 'abort', attempts: [1] });
    expect(finish(actions)).toEqual({ type: 'finish', outcome: 'success', winner: 2 });
    expect(run.timerFired('hedge')).toEqual([]); // already hedged and finished
  });

  it('first slow: backups at the hedge delay, the first keeps running and may still win', () => {
    const run = new HedgeRun(plan, bucket());
    run.start();
    expect(launched(run.timerFired('hedge'))).toEqual([1, 2]);
    const actions = run.attemptSucceeded(0);
    expect(aborted(actions)).toEqual({ type: 'abort', attempts: [1, 2] });
    expect(finish(actions)).toMatchObject({ outcome: 'success', winner: 0 });
  });

  it('hedges only once', () => {
    const run = new HedgeRun(plan, bucket());
    run.start();
    run.timerFired('hedge');
    expect(run.attemptFailed(0)).toEqual([]);
    expect(run.launched).toBe(3);
  });

  it('all fail: upstream_errors', () => {
    const run = new HedgeRun(plan, bucket());
    run.start();
    run.attemptFailed(0);
    expect(run.attemptFailed(1)).toEqual([]);
    expect(run.attemptFailed(2)).toEqual([{ type: 'finish', outcome: 'upstream_errors' }]);
  });

  it('all slow: deadline aborts everything', () => {
    const run = new HedgeRun(plan, bucket());
    run.start();
    run.timerFired('hedge');
    const actions = run.timerFired('deadline');
    expect(actions).toEqual([
      { type: 'abort', attempts: [0, 1, 2] },
      { type: 'finish', outcome: 'deadline' },
    ]);
    expect(run.attemptSucceeded(1)).toEqual([]); // late success is ignored
  });

  it('without tokens sends no backups and reports the first failure as budget', () => {
    const empty = new TokenBucket(0, 1);
    const run = new HedgeRun(plan, empty);
    run.start();
    expect(run.timerFired('hedge')).toEqual([]);
    expect(run.attemptFailed(0)).toEqual([{ type: 'finish', outcome: 'budget' }]);
    expect(empty.refused).toBe(2);
  });

  it('sends as many backups as there are tokens', () => {
    const one = new TokenBucket(1, 1);
    const run = new HedgeRun(plan, one);
    run.start();
    expect(launched(run.attemptFailed(0))).toEqual([1]);
    expect(run.attemptFailed(1)).toEqual([{ type: 'finish', outcome: 'upstream_errors' }]);
  });

  it('never hedges when the hedge delay is past the deadline', () => {
    const run = new HedgeRun({ deadlineMs: 200, hedgeDelayMs: 300, backups: 2 }, bucket());
    expect(run.start().some((a) => a.type === 'timer' && a.name === 'hedge')).toBe(false);
  });

  it('a success earns budget', () => {
    const b = new TokenBucket(10, 0.5);
    b.take(3);
    const run = new HedgeRun(plan, b);
    run.start();
    run.attemptSucceeded(0);
    expect(b.tokens).toBe(7.5);
  });

  describe('SMART_MAX_ATTEMPTS above 1 + backups', () => {
    const five = { ...plan, maxAttempts: 5 };

    it('replaces each attempt that fails after the hedge at once, up to the cap, while the others keep running', () => {
      const run = new HedgeRun(five, bucket());
      run.start();
      expect(launched(run.timerFired('hedge'))).toEqual([1, 2]);
      expect(run.attemptFailed(1, 400)).toEqual([{ type: 'launch', attempts: [3] }]);
      expect(run.attemptFailed(2, 450)).toEqual([{ type: 'launch', attempts: [4] }]);
      expect(run.attemptFailed(3, 500)).toEqual([]); // the cap: 5 launched
      const actions = run.attemptSucceeded(0);
      expect(aborted(actions)).toEqual({ type: 'abort', attempts: [4] });
      expect(finish(actions)).toMatchObject({ outcome: 'success', winner: 0 });
    });

    it('a fast first failure sends the backups; a failed backup is then replaced', () => {
      const run = new HedgeRun(five, bucket());
      run.start();
      expect(launched(run.attemptFailed(0, 50))).toEqual([1, 2]);
      expect(launched(run.attemptFailed(1, 120))).toEqual([3]);
      expect(run.launched).toBe(4);
    });

    it('no replacement when less than the hedge delay is left before the deadline', () => {
      const run = new HedgeRun(five, bucket());
      run.start();
      run.timerFired('hedge');
      expect(run.attemptFailed(1, 701)).toEqual([]);
      expect(launched(run.attemptFailed(2, 700))).toEqual([3]);
    });

    it('replacementMinMs sets how much time must be left for a replacement', () => {
      const run = new HedgeRun({ ...five, replacementMinMs: 120 }, bucket());
      run.start();
      run.timerFired('hedge');
      expect(launched(run.attemptFailed(1, 880))).toEqual([3]);
      expect(run.attemptFailed(2, 881)).toEqual([]);
    });

    it('each replacement spends a budget token; without one, none goes out and the call ends with the last failure', () => {
      const tokens = bucket(2);
      const run = new HedgeRun(five, tokens);
      run.start();
      expect(launched(run.timerFired('hedge'))).toEqual([1, 2]); // both tokens
      expect(run.attemptFailed(1, 400)).toEqual([]);
      run.attemptFailed(2, 400);
      expect(finish(run.attemptFailed(0, 500))).toEqual({ type: 'finish', outcome: 'upstream_errors' });
      expect(run.launched).toBe(3);
    });

    it('the default cap (1 + backups) keeps the assignment rule: no replacements', () => {
      const run = new HedgeRun(plan, bucket());
      run.start();
      run.timerFired('hedge');
      expect(run.attemptFailed(1, 400)).toEqual([]);
      expect(run.launched).toBe(3);
    });

    it('a cap below 1 + backups sends fewer backups', () => {
      const run = new HedgeRun({ ...plan, maxAttempts: 2 }, bucket());
      run.start();
      expect(launched(run.timerFired('hedge'))).toEqual([1]);
    });
  });
});
