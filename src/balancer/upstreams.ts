import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'undici';
import { FleetSync } from '../cluster/fleet-sync.js';
import type { FleetEvent } from '../cluster/fleet-messages.js';
import { InjectConfig, type AppConfig } from '../config/index.js';
import type { Backend } from './backend.js';
import { BackendPool } from './backend-pool.js';
import type { AttemptOutcome } from './backend.js';
import { OutlierPolicy, type AttemptResult } from './outlier-policy.js';
import { RetryBudget } from './retry-budget.js';
import { WorkerShares } from './worker-shares.js';

/** Envoy's max_ejection_time default: repeated ejections grow up to this. */
const MAX_EJECTION_MS = 300_000;
/** Longest a backend's "busy" 503 keeps it skipped: a shedding backend's next slot frees within its service time. */
const MAX_BUSY_MS = 1_000;

/**
 * The backends and everything the balancer keeps about them: the pool (selection), one undici
 * Pool per backend (its keep-alive connections), and the outlier policy's verdicts. Every
 * attempt at a backend (a proxied request, a WebSocket upgrade) and every active check is
 * recorded here and nowhere else: attemptStarted, recordAttempt, attemptEnded, recordCheck.
 */
@Injectable()
export class Upstreams implements OnApplicationShutdown {
  private readonly logger = new Logger('Balancer');
  readonly pool: BackendPool;
  readonly outliers: OutlierPolicy;
  /** Keep-alive connections to each backend, by URL (the selection pool is `pool`). */
  private readonly connectionPools = new Map<string, Pool>();
  private readonly settings: AppConfig['balancer'];
  private readonly ejectionListeners: ((backend: Backend) => void)[] = [];
  private readonly slotListeners: (() => void)[] = [];
  /** Retries in flight against requests in flight, this worker's (a share holds over every worker). */
  readonly retryBudget: RetryBudget;

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly fleet: FleetSync,
  ) {
    this.settings = config.balancer;
    this.pool = new BackendPool([], this.settings.strategy, Math.random, this.settings.slowStartMs);
    this.outliers = new OutlierPolicy({
      baseEjectionMs: this.settings.retryDowntimeMs,
      maxEjectionMs: MAX_EJECTION_MS,
      consecutive5xx: this.settings.ejectConsecutive5xx,
      maxEjectionPercent: this.settings.maxEjectionPercent,
      maxBusyMs: MAX_BUSY_MS,
    });
    this.retryBudget = new RetryBudget(this.settings.retryBudget);
    this.setBackends(this.settings.backends);
    // Another worker's verdicts and checks count here too (BALANCER_WORKERS > 1).
    fleet.on('backend-state', (event) => {
      const backend = this.pool.byUrl(event.url);
      if (!backend) return;
      backend.ejectedUntil = event.ejectedUntil;
      backend.ejectedForTimeout = event.ejectedForTimeout;
      backend.busyUntil = event.busyUntil;
      backend.ejections = event.ejections;
      // Read before it is overwritten: back for good from half-open, slow start begins here too.
      if (backend.halfOpen && !event.halfOpen) backend.warmingSince = Date.now();
      backend.halfOpen = event.halfOpen;
      backend.lastVerdict = event.lastVerdict;
      // The run of ejections as this worker saw it begin (another worker's ejection starts one here too).
      if (!event.halfOpen) backend.outSince = 0;
      else if (backend.outSince === 0) backend.outSince = Date.now();
      backend.ready = event.ready;
    });
    fleet.on('backend-list', (event) => this.setBackends(event.urls));
    if (fleet.clustered && fleet.workerId !== undefined) {
      const shares = new WorkerShares(fleet.workerId);
      this.pool.shares = shares;
      fleet.on('demand', (event) => shares.heard(event.worker, event.waiting, event.weight, Date.now()));
    }
  }

  /** Tells the other workers what this one now knows about `backend`. */
  share(backend: Backend): void {
    if (!this.fleet.clustered) return;
    const event: FleetEvent = {
      kind: 'backend-state',
      url: backend.url,
      ejectedUntil: backend.ejectedUntil,
      ejectedForTimeout: backend.ejectedForTimeout,
      busyUntil: backend.busyUntil,
      ejections: backend.ejections,
      halfOpen: backend.halfOpen,
      lastVerdict: backend.lastVerdict,
      ready: backend.ready,
    };
    this.fleet.publish(event);
  }

  get maxResponseDelayMs(): number {
    return this.settings.maxResponseDelayMs;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.connectionPools.values()].map((connections) => connections.close()));
  }

  /** Replaces the backend list (static config or a DNS answer), opening and closing connection pools; says whether it changed. */
  setBackends(urls: readonly string[]): boolean {
    const { added, removed } = this.pool.replace(urls);
    for (const url of added) {
      this.connectionPools.set(
        url,
        new Pool(url, {
          connections: this.settings.connectionsPerBackend,
          keepAliveTimeout: 30_000,
          headersTimeout: this.settings.maxResponseDelayMs,
          bodyTimeout: 0,
        }),
      );
    }
    for (const url of removed) {
      void this.connectionPools.get(url)?.close();
      this.connectionPools.delete(url);
    }
    if (added.length || removed.length) {
      this.logger.log(`backends: ${urls.join(', ') || 'none'}${removed.length ? ` (removed ${removed.join(', ')})` : ''}`);
    }
    return added.length > 0 || removed.length > 0;
  }

  /** The backend's keep-alive connections; undefined once it has left the list. */
  connectionsTo(backend: Backend): Pool | undefined {
    return this.connectionPools.get(backend.url);
  }

  onEjection(listener: (backend: Backend) => void): void {
    this.ejectionListeners.push(listener);
  }

  /** An attempt is being sent to `backend`: counted, in flight, and a half-open backend's one probe. */
  attemptStarted(backend: Backend): void {
    this.outliers.attemptStarted(backend);
    backend.inFlight += 1;
    backend.requests += 1;
  }

  /** The attempt no longer occupies the backend: its response ended, or it failed. A slot may have freed. */
  attemptEnded(backend: Backend): void {
    backend.inFlight -= 1;
    for (const listener of this.slotListeners) listener();
  }

  /** Called whenever an attempt ends (the admission queue admits its head then). */
  onSlotFreed(listener: () => void): void {
    this.slotListeners.push(listener);
  }

  /**
   * What an attempt came to, once per attempt: counted by outcome and judged by the outlier
   * policy, whose verdict is logged and shared with the other workers. `firstAttempt`: it was
   * its request's first (only those count against a backend).
   */
  recordAttempt(backend: Backend, result: AttemptResult, firstAttempt: boolean): void {
    const outcome = outcomeOf(result);
    backend.outcomes[outcome] += 1;
    if (outcome !== 'success' && outcome !== 'client_gone') backend.failures += 1;
    const verdict = this.outliers.record(backend, result, Date.now(), firstAttempt, this.pool.backends);
    switch (verdict.action) {
      case 'none':
        return;
      case 'ejected':
        this.share(backend);
        for (const listener of this.ejectionListeners) listener(backend);
        this.logger.warn(`ejected ${backend.url} for ${verdict.forMs} ms: ${verdict.why}`);
        return;
      case 'busy':
        this.share(backend);
        this.logger.log(`${backend.url} is busy for ${verdict.forMs} ms (503 with Retry-After): skipped, not ejected`);
        return;
      case 'cap_reached':
        this.logger.warn(`not ejecting ${backend.url} (${verdict.why}): MAX_EJECTION_PERCENT of the fleet is already ejected`);
        return;
      default: {
        const unreachable: never = verdict;
        return unreachable;
      }
    }
  }

  /**
   * An active /ready check's answer. A change of readiness is logged and shared; a pass also
   * ends an ejection early, into half-open (one probe request next).
   */
  recordCheck(backend: Backend, ready: boolean): void {
    if (ready !== backend.ready) {
      this.logger.log(`${backend.url} is ${ready ? 'ready again' : 'not ready'} (active check)`);
      backend.ready = ready;
      this.share(backend);
    }
    if (ready && this.outliers.activeCheckPassed(backend, Date.now())) {
      this.share(backend);
      this.logger.log(`${backend.url} passed its active check: ejection ended early, one probe request next`);
    }
  }
}

function outcomeOf(result: AttemptResult): AttemptOutcome {
  switch (result.kind) {
    case 'success':
      return 'success';
    case 'status_5xx':
      return 'status_5xx';
    case 'failure':
      return result.failure;
    case 'abandoned':
      return 'client_gone';
    default: {
      const unreachable: never = result;
      return unreachable;
    }
  }
}
