import type { TokenBucket } from './token-bucket.js';

export type HedgeOutcome = 'success' | 'deadline' | 'upstream_errors' | 'budget';

export type HedgeAction =
  | { readonly type: 'launch'; readonly attempts: readonly number[] }
  | { readonly type: 'timer'; readonly name: 'hedge' | 'deadline'; readonly atMs: number }
  | { readonly type: 'abort'; readonly attempts: readonly number[] }
  | { readonly type: 'finish'; readonly outcome: HedgeOutcome; readonly winner?: number };

export interface HedgePlan {
  /** Overall deadline, ms from the start. */
  readonly deadlineMs: number;
  /** When the backups go out if the first attempt has not succeeded. */
  readonly hedgeDelayMs: number;
  /** How many backups go out at once. */
  readonly backups: number;
  /**
   * Most attempts in all (SMART_MAX_ATTEMPTS); default 1 + backups, the assignment's rule.
   * Past the hedge, an attempt that fails fast is replaced at once by another, up to this cap.
   */
  readonly maxAttempts?: number;
  /**
   * A replacement goes out only while at least this much is left before the deadline (a fast
   * upstream answer, e.g. the 5th percentile of recent successes); default `hedgeDelayMs`.
   */
  readonly replacementMinMs?: number;
}

type AttemptState = 'running' | 'failed' | 'won' | 'aborted';

/**
 * One hedged call as a pure state machine (the original assignment's rule): send one
 * attempt; if it has not succeeded by `hedgeDelayMs`, or fails earlier, send `backups`
 * more at once while the first keeps running; the first success wins and the rest are
 * aborted; at the deadline everything is aborted. Backups need budget tokens; without
 * them the first attempt alone decides, and its failure is reported as `budget`.
 * With `maxAttempts` above 1 + backups, an attempt that fails after the hedge is replaced
 * at once (one budget token each) while at least `replacementMinMs` is left before the
 * deadline, as gRPC's retry policy (A6) replaces failed attempts up to its cap of 5.
 * Time is given in; the caller turns actions into requests and timers.
 */
export class HedgeRun {
  private readonly attempts: AttemptState[] = [];
  private hedged = false;
  private budgetRefused = false;
  private done = false;

  constructor(
    private readonly plan: HedgePlan,
    private readonly budget: TokenBucket,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  get launched(): number {
    return this.attempts.length;
  }

  start(): HedgeAction[] {
    const actions: HedgeAction[] = [this.launch(1), { type: 'timer', name: 'deadline', atMs: this.plan.deadlineMs }];
    if (this.plan.backups > 0 && this.plan.hedgeDelayMs < this.plan.deadlineMs) {
      actions.push({ type: 'timer', name: 'hedge', atMs: this.plan.hedgeDelayMs });
    }
    return actions;
  }

  timerFired(name: 'hedge' | 'deadline'): HedgeAction[] {
    if (this.done) return [];
    if (name === 'deadline') return this.finish('deadline');
    return this.hedge();
  }

  attemptSucceeded(id: number): HedgeAction[] {
    if (this.done || this.attempts[id] !== 'running') return [];
    this.attempts[id] = 'won';
    return this.finish('success', id);
  }

  /** `nowMs` (ms from the start) decides whether a replacement still has time to succeed. */
  attemptFailed(id: number, nowMs = 0): HedgeAction[] {
    if (this.done || this.attempts[id] !== 'running') return [];
    this.attempts[id] = 'failed';
    const actions = this.hedged ? this.replace(nowMs) : this.hedge();
    if (this.done) return actions;
    if (this.attempts.includes('running')) return actions;
    return [...actions, ...this.finish(this.budgetRefused ? 'budget' : 'upstream_errors')];
  }

  private get maxAttempts(): number {
    return Math.max(1, this.plan.maxAttempts ?? 1 + this.plan.backups);
  }

  private hedge(): HedgeAction[] {
    if (this.hedged || this.plan.backups === 0) return [];
    this.hedged = true;
    const wanted = Math.min(this.plan.backups, this.maxAttempts - this.attempts.length);
    if (wanted <= 0) return [];
    const granted = this.budget.take(wanted);
    if (granted === 0) this.budgetRefused = true;
    return granted > 0 ? [this.launch(granted)] : [];
  }

  /**
   * A failed attempt after a full hedge: one more at once, if the cap, the time left and the
   * budget allow. A hedge the budget cut short gets no replacements: the budget is low.
   */
  private replace(nowMs: number): HedgeAction[] {
    if (this.attempts.length < 1 + this.plan.backups || this.attempts.length >= this.maxAttempts) return [];
    if (this.plan.deadlineMs - nowMs < (this.plan.replacementMinMs ?? this.plan.hedgeDelayMs)) return [];
    return this.budget.take(1) > 0 ? [this.launch(1)] : [];
  }

  private launch(count: number): HedgeAction {
    const ids: number[] = [];
    for (let i = 0; i < count; i += 1) {
      ids.push(this.attempts.length);
      this.attempts.push('running');
    }
    return { type: 'launch', attempts: ids };
  }

  private finish(outcome: HedgeOutcome, winner?: number): HedgeAction[] {
    this.done = true;
    const running: number[] = [];
    this.attempts.forEach((state, id) => {
      if (state === 'running') {
        this.attempts[id] = 'aborted';
        running.push(id);
      }
    });
    if (outcome === 'success') this.budget.earn();
    const actions: HedgeAction[] = [];
    if (running.length > 0) actions.push({ type: 'abort', attempts: running });
    actions.push(winner === undefined ? { type: 'finish', outcome } : { type: 'finish', outcome, winner });
    return actions;
  }
}
