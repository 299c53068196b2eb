import { PeakEwma } from './peak-ewma.js';
import type { AttemptFailure } from './proxy-errors.js';

export type AttemptOutcome = AttemptFailure | 'success';

/** What the status views call a backend's state, worst first. */
export type BackendState = 'ejected' | 'busy' | 'probing' | 'unready' | 'up';

/** A count of zero for every attempt outcome. */
export function noOutcomes(): Record<AttemptOutcome, number> {
  return { success: 0, status_5xx: 0, connect: 0, timeout: 0, reset: 0, client_gone: 0 };
}

/** Everything the balancer knows about one backend. Plain state, no I/O. */
export class Backend {
  /** Passive ejection: skipped until this time (ms since epoch). */
  ejectedUntil = 0;
  /** Said "busy" (503 + Retry-After): skipped until this time, never ejected for it. */
  busyUntil = 0;
  /** Last active /ready check said 200 (true until a check says otherwise). */
  ready = true;
  /** Back from an ejection: gets one request (the probe) until one succeeds. */
  halfOpen = false;
  probeInFlight = false;
  /** 5xx responses in a row (reset by any success). */
  consecutive5xx = 0;
  /** Ejection multiplier (Envoy's): grows with each ejection, shrinks while healthy. */
  ejections = 0;
  /** When it last came back healthy (its probe succeeded), for the multiplier's decay. */
  healthySince = 0;
  /** Why it was last ejected or marked busy, for the status views. */
  lastVerdict = '';
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Attempts by outcome, plain numbers: published to Prometheus at scrape time, not per request. */
  readonly outcomes = noOutcomes();
  readonly latency = new PeakEwma();

  constructor(readonly url: string) {}

  isEjected(nowMs: number): boolean {
    return nowMs < this.ejectedUntil;
  }

  isBusy(nowMs: number): boolean {
    return nowMs < this.busyUntil;
  }

  /** May take a new (non-sticky) request now. */
  available(nowMs: number): boolean {
    return !this.isEjected(nowMs) && !this.isBusy(nowMs) && !(this.halfOpen && this.probeInFlight);
  }

  /** When it can take requests again, if it cannot now. */
  returnsAt(nowMs: number): number | undefined {
    if (this.available(nowMs)) return undefined;
    return Math.max(this.ejectedUntil, this.busyUntil, nowMs);
  }

  state(nowMs: number): BackendState {
    if (this.isEjected(nowMs)) return 'ejected';
    if (this.isBusy(nowMs)) return 'busy';
    if (this.halfOpen) return 'probing';
    return this.ready ? 'up' : 'unready';
  }

  /** Load-aware cost for least-latency selection (Finagle: latency x outstanding). */
  cost(): number {
    return (this.latency.ms + 1) * (this.inFlight + 1);
  }
}
