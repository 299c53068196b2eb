import { LRUCache } from 'lru-cache';

/** Per-client limits (nginx's limit_req and limit_conn, Envoy's local rate limit per descriptor). */
export interface ClientLimitSettings {
  /** Requests per second a client may send on average (token bucket); 0: no rate limit. */
  readonly ratePerSecond: number;
  /** Requests a client may send at once above that rate (the bucket's size; at least 1). */
  readonly burst: number;
  /** Requests a client may have in flight; 0: no cap. */
  readonly concurrency: number;
}

/** Why a client's request was refused (429). */
export type ClientRefusal = { readonly reason: 'client_rate' | 'client_concurrency'; readonly retryAfterSeconds: number };

interface ClientState {
  tokens: number;
  refilledAt: number;
  inFlight: number;
}

/** Clients remembered at once; the least recently seen are forgotten first (they start afresh). */
const MAX_CLIENTS = 100_000;

/**
 * Holds each client to its share so a greedy one cannot starve a polite one when the fleet is
 * full: a token bucket on its request rate and a cap on its requests in flight. A client is
 * whatever key the caller gives (an address, an API key). Pure: time is passed in.
 */
export class ClientLimits {
  private readonly clients = new LRUCache<string, ClientState>({ max: MAX_CLIENTS });
  private readonly burst: number;

  constructor(private readonly settings: ClientLimitSettings) {
    this.burst = Math.max(1, settings.burst || settings.ratePerSecond);
  }

  get enabled(): boolean {
    return this.settings.ratePerSecond > 0 || this.settings.concurrency > 0;
  }

  /** Lets a request in (and counts it in flight until `release`), or says why not and when to retry. */
  admit(key: string, nowMs: number): ClientRefusal | undefined {
    let state = this.clients.get(key);
    if (!state) {
      state = { tokens: this.burst, refilledAt: nowMs, inFlight: 0 };
      this.clients.set(key, state);
    }
    const { ratePerSecond, concurrency } = this.settings;
    if (concurrency > 0 && state.inFlight >= concurrency) return { reason: 'client_concurrency', retryAfterSeconds: 1 };
    if (ratePerSecond > 0) {
      state.tokens = Math.min(this.burst, state.tokens + ((nowMs - state.refilledAt) * ratePerSecond) / 1000);
      state.refilledAt = nowMs;
      if (state.tokens < 1) return { reason: 'client_rate', retryAfterSeconds: Math.max(1, Math.ceil((1 - state.tokens) / ratePerSecond)) };
      state.tokens -= 1;
    }
    state.inFlight += 1;
    return undefined;
  }

  /**
   * Requests another balancer worker let in for `key`: taken from this worker's bucket too, so
   * the client's rate holds over every worker together (nginx shares limit_req's zone between
   * workers the same way, in shared memory). The bucket may go into debt, at most one burst.
   */
  charge(key: string, requests: number, nowMs: number): void {
    if (this.settings.ratePerSecond <= 0) return;
    let state = this.clients.get(key);
    if (!state) {
      state = { tokens: this.burst, refilledAt: nowMs, inFlight: 0 };
      this.clients.set(key, state);
    }
    state.tokens = Math.min(this.burst, state.tokens + ((nowMs - state.refilledAt) * this.settings.ratePerSecond) / 1000);
    state.refilledAt = nowMs;
    state.tokens = Math.max(-this.burst, state.tokens - requests);
  }

  /** The request `admit` let in has ended. */
  release(key: string): void {
    const state = this.clients.peek(key);
    if (state && state.inFlight > 0) state.inFlight -= 1;
  }
}
