import type { Backend } from './backend.js';

/** Outlier detection settings (Envoy's outlier_detection, nginx's max_fails/fail_timeout). */
export interface OutlierSettings {
  /** First ejection time; the n-th in a row lasts n times this (RETRY_DOWNTIME_MS). */
  readonly baseEjectionMs: number;
  /** Longest ejection, however often it repeats. */
  readonly maxEjectionMs: number;
  /** 5xx responses in a row that eject (EJECT_CONSECUTIVE_5XX). */
  readonly consecutive5xx: number;
  /** Most of the fleet that may be ejected at once (MAX_EJECTION_PERCENT); at least one backend. */
  readonly maxEjectionPercent: number;
  /** Longest a "busy" answer keeps a backend skipped, whatever its Retry-After says. */
  readonly maxBusyMs: number;
}

/** What one upstream attempt came to. */
export type AttemptResult =
  | { readonly kind: 'success' }
  /** No usable response: refused, reset, or no headers in time. The backend's fault. */
  | { readonly kind: 'failure'; readonly failure: 'connect' | 'timeout' | 'reset' }
  /**
   * A 5xx response; with `retryAfterMs`, a 503 that says "busy" (shedding, draining); `full`, a
   * 503 whose load report says the backend sheds at capacity (its report, not a verdict, keeps it
   * from getting more).
   */
  | { readonly kind: 'status_5xx'; readonly status: number; readonly retryAfterMs?: number; readonly full?: boolean }
  /** The client went away first: says nothing of the backend (a probe cut short is simply tried again). */
  | { readonly kind: 'abandoned' };

export type Verdict =
  | { readonly action: 'none' }
  | { readonly action: 'ejected'; readonly forMs: number; readonly why: string }
  | { readonly action: 'busy'; readonly forMs: number }
  /** It would have been ejected, but MAX_EJECTION_PERCENT of the fleet already is. */
  | { readonly action: 'cap_reached'; readonly why: string };

const NONE: Verdict = { action: 'none' };

/**
 * Decides ejections from attempt outcomes so that no client can eject the fleet:
 * - refused connections, resets and timeouts eject (the backend could not answer at all);
 * - 5xx responses eject only after `consecutive5xx` in a row; a 503 with Retry-After is
 *   "busy": skipped for about one service time of the backend (its latency), never ejected;
 * - only a request's first attempt counts: a request that fails on every backend it tries is
 *   the request's fault, so it ejects (or marks busy) at most one;
 * - at most `maxEjectionPercent` of the fleet is ejected at once;
 * - the n-th ejection in a row lasts n x base (capped); healthy time shrinks n again;
 * - a returning backend is half-open: one probe request, the full share after it succeeds;
 *   a passing active check ends an ejection early (into half-open), except one for timeouts.
 * Pure: backends are plain state; time is passed in.
 */
export class OutlierPolicy {
  constructor(private readonly settings: OutlierSettings) {}

  /** Call when an attempt is sent: a half-open backend's attempt is its probe. */
  attemptStarted(backend: Backend): void {
    if (backend.halfOpen) backend.probeInFlight = true;
  }

  /**
   * Applies an attempt's outcome. `firstAttempt`: it was the request's first (only those
   * count against the backend). `fleet`: every backend, for the ejection cap.
   */
  record(backend: Backend, result: AttemptResult, nowMs: number, firstAttempt: boolean, fleet: readonly Backend[]): Verdict {
    const probe = backend.halfOpen && backend.probeInFlight;
    backend.probeInFlight = false;
    switch (result.kind) {
      case 'success':
        backend.consecutive5xx = 0;
        if (backend.halfOpen) {
          backend.halfOpen = false;
          backend.outSince = 0;
          backend.healthySince = nowMs;
          backend.warmingSince = nowMs; // back for good: slow start ramps its share from here
        }
        return NONE;
      case 'failure':
        // A returning backend that still cannot answer goes straight back, whoever's attempt it was.
        if (!firstAttempt && !probe) return NONE;
        return this.eject(backend, `${result.failure}${probe ? ' (probe)' : ''}`, nowMs, fleet, result.failure === 'timeout');
      case 'status_5xx': {
        if (!firstAttempt) return NONE;
        if (result.full) {
          backend.lastVerdict = 'full (503 while shedding): sent nothing until its load report shows room';
          return NONE;
        }
        if (result.retryAfterMs !== undefined && result.status === 503) {
          // "Not this request, now": Retry-After is advice to the client. The backend is
          // skipped for about one of its own service times, when its next slot is likely free.
          const forMs = Math.round(Math.min(Math.max(result.retryAfterMs, 0), busyBackoffMs(backend.latency.ms, this.settings.maxBusyMs)));
          backend.busyUntil = Math.max(backend.busyUntil, nowMs + forMs);
          backend.lastVerdict = `busy (503 with Retry-After: backing off ${forMs} ms)`;
          return { action: 'busy', forMs };
        }
        backend.consecutive5xx += 1;
        if (backend.consecutive5xx < this.settings.consecutive5xx) return NONE;
        return this.eject(backend, `${backend.consecutive5xx} consecutive 5xx (last ${result.status})`, nowMs, fleet);
      }
      case 'abandoned':
        return NONE;
      default: {
        const unreachable: never = result;
        return unreachable;
      }
    }
  }

  /**
   * Envoy's successful_active_health_check_uneject_host: a passing check ends the ejection now —
   * unless the backend was ejected for being slow, which a /ready answer cannot disprove: that
   * ejection runs its course, and traffic (one probe) earns the backend back.
   */
  activeCheckPassed(backend: Backend, nowMs: number): boolean {
    if (!backend.isEjected(nowMs) || backend.ejectedForTimeout) return false;
    backend.ejectedUntil = nowMs;
    return true;
  }

  /** How many backends may be ejected at once in a fleet of `size`. */
  maxEjected(size: number): number {
    return Math.max(1, Math.floor((size * this.settings.maxEjectionPercent) / 100));
  }

  private eject(backend: Backend, why: string, nowMs: number, fleet: readonly Backend[], forTimeout = false): Verdict {
    if (backend.isEjected(nowMs)) return NONE;
    const ejectedNow = fleet.filter((other) => other.isEjected(nowMs)).length;
    if (ejectedNow >= this.maxEjected(fleet.length)) return { action: 'cap_reached', why };
    const { baseEjectionMs, maxEjectionMs } = this.settings;
    // Healthy time since it last came back pays the multiplier down, one per base period.
    const healthyPeriods = backend.healthySince > 0 && baseEjectionMs > 0 ? Math.floor((nowMs - backend.healthySince) / baseEjectionMs) : 0;
    backend.ejections = Math.max(0, backend.ejections - healthyPeriods) + 1;
    const forMs = Math.min(baseEjectionMs * backend.ejections, Math.max(maxEjectionMs, baseEjectionMs));
    backend.ejectedUntil = nowMs + forMs;
    backend.ejectedForTimeout = forTimeout;
    if (!backend.halfOpen) backend.outSince = nowMs;
    backend.halfOpen = true;
    backend.consecutive5xx = 0;
    backend.healthySince = 0;
    backend.lastVerdict = `ejected: ${why}`;
    return { action: 'ejected', forMs, why };
  }
}

/** A busy backend's backoff: its own latency (when its next slot likely frees), at least 5 ms, at most `maxMs`. */
export function busyBackoffMs(latencyMs: number, maxMs: number): number {
  return Math.min(Math.max(latencyMs, 5), maxMs);
}

/** Reads Retry-After (seconds or an HTTP date) into milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
