import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'undici';
import { FleetSync } from '../cluster/fleet-sync.js';
import type { FleetEvent } from '../cluster/fleet-messages.js';
import { InjectConfig, type AppConfig } from '../config/index.js';
import type { Backend } from './backend.js';
import { BackendPool } from './backend-pool.js';
import { OutlierPolicy, type AttemptResult } from './outlier-policy.js';

/** Envoy's max_ejection_time default: repeated ejections grow up to this. */
const MAX_EJECTION_MS = 300_000;
/** Longest a backend's "busy" Retry-After is honoured. */
const MAX_BUSY_MS = 60_000;

/**
 * The backends and everything the balancer keeps about them: the pool (selection), one undici
 * Pool per backend (keep-alive connections), and the outlier policy's verdicts. The proxy, the
 * tunnels, the health checks and the status routes all use this one provider.
 */
@Injectable()
export class Upstreams implements OnApplicationShutdown {
  private readonly logger = new Logger('Balancer');
  readonly pool: BackendPool;
  readonly outliers: OutlierPolicy;
  private readonly pools = new Map<string, Pool>();
  private readonly settings: AppConfig['balancer'];
  private readonly ejectionListeners: ((backend: Backend) => void)[] = [];

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly fleet: FleetSync,
  ) {
    this.settings = config.balancer;
    this.pool = new BackendPool([], this.settings.strategy);
    this.outliers = new OutlierPolicy({
      baseEjectionMs: this.settings.retryDowntimeMs,
      maxEjectionMs: MAX_EJECTION_MS,
      consecutive5xx: this.settings.ejectConsecutive5xx,
      maxEjectionPercent: this.settings.maxEjectionPercent,
      maxBusyMs: MAX_BUSY_MS,
    });
    this.setBackends(this.settings.backends);
    // Another worker's verdicts and checks count here too (BALANCER_WORKERS > 1).
    fleet.on('backend', (event) => {
      const backend = this.pool.byUrl(event.url);
      if (!backend) return;
      backend.ejectedUntil = event.ejectedUntil;
      backend.busyUntil = event.busyUntil;
      backend.ejections = event.ejections;
      backend.halfOpen = event.halfOpen;
      backend.lastVerdict = event.lastVerdict;
      backend.ready = event.ready;
    });
    fleet.on('backends', (event) => this.setBackends(event.urls));
  }

  /** Tells the other workers what this one now knows about `backend`. */
  share(backend: Backend): void {
    if (!this.fleet.clustered) return;
    const event: FleetEvent = {
      kind: 'backend',
      url: backend.url,
      ejectedUntil: backend.ejectedUntil,
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
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
  }

  /** Replaces the backend list (static config or a DNS answer), opening and closing pools. */
  /** Returns whether the list changed. */
  setBackends(urls: readonly string[]): boolean {
    const { added, removed } = this.pool.replace(urls);
    for (const url of added) {
      this.pools.set(
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
      void this.pools.get(url)?.close();
      this.pools.delete(url);
    }
    if (added.length || removed.length) {
      this.logger.log(`backends: ${urls.join(', ') || 'none'}${removed.length ? ` (removed ${removed.join(', ')})` : ''}`);
    }
    return added.length > 0 || removed.length > 0;
  }

  upstream(backend: Backend): Pool | undefined {
    return this.pools.get(backend.url);
  }

  onEjection(listener: (backend: Backend) => void): void {
    this.ejectionListeners.push(listener);
  }

  /** Feeds an attempt's outcome to the outlier policy and reports what it decided. */
  judge(backend: Backend, result: AttemptResult, firstAttempt: boolean): void {
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

  /** A passing /ready check ends an ejection early; the backend returns half-open. */
  activeCheckPassed(backend: Backend): void {
    if (this.outliers.activeCheckPassed(backend, Date.now())) {
      this.share(backend);
      this.logger.log(`${backend.url} passed its active check: ejection ended early, one probe request next`);
    }
  }
}
