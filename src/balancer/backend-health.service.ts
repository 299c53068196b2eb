import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { FleetSync } from '../cluster/fleet-sync.js';
import { LOAD_REPORT_HEADER, parseLoadReport } from '../readiness/load-report.js';
import { Upstreams } from './upstreams.js';
import type { Backend } from './backend.js';

const DNS_REFRESH_WHEN_CHECKS_OFF_MS = 5_000;

/**
 * Active checks: polls each backend's /ready; a backend in cooldown (503) gets no new
 * non-sticky requests until it answers 200 again; so does one that cannot be reached. With
 * BACKENDS_DNS, re-resolves the name first, so every A record is a backend (the k8s
 * headless-service case). What a check found is recorded by Upstreams.recordCheck.
 */
@Injectable()
export class BackendHealthService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('BackendHealth');
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly settings: AppConfig['balancer'];

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly upstreams: Upstreams,
    private readonly fleet: FleetSync,
  ) {
    this.settings = config.balancer;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.periodMs()) return;
    await this.tick();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One round: DNS refresh, then every backend's /ready, in parallel. */
  async tick(): Promise<void> {
    try {
      // In a balancer cluster one worker checks and resolves for all (FleetSync shares the results).
      if (!this.fleet.isLeader) return;
      if (this.settings.backendsDns) await this.resolve(this.settings.backendsDns);
      if (this.settings.healthCheckIntervalMs > 0) {
        await Promise.all(this.upstreams.pool.backends.map((backend) => this.check(backend)));
      }
    } finally {
      this.schedule();
    }
  }

  private periodMs(): number {
    if (this.settings.healthCheckIntervalMs > 0) return this.settings.healthCheckIntervalMs;
    return this.settings.backendsDns ? DNS_REFRESH_WHEN_CHECKS_OFF_MS : 0;
  }

  private schedule(): void {
    if (this.stopped) return;
    // A chain of timeouts, not an interval: a slow round never overlaps the next.
    this.timer = setTimeout(() => void this.tick(), this.periodMs());
    this.timer.unref();
  }

  private async resolve({ host, port }: { host: string; port: number }): Promise<void> {
    try {
      const answers = await lookup(host, { all: true, family: 4 });
      const urls = [...new Set(answers.map((answer) => `http://${answer.address}:${port}`))].sort();
      // Only the leader resolves; the other workers take its answer (static BACKENDS need no sharing).
      if (this.upstreams.setBackends(urls)) this.fleet.publish({ kind: 'backend-list', urls });
    } catch (error) {
      // Keep the last known backends: a DNS blip must not empty the pool.
      this.logger.warn(`resolving ${host} failed, keeping ${this.upstreams.pool.backends.length} backends: ${(error as Error).message}`);
    }
  }

  private async check(backend: Backend): Promise<void> {
    const connections = this.upstreams.connectionsTo(backend);
    if (!connections) return;
    let ready: boolean;
    try {
      const response = await connections.request({
        path: '/ready',
        method: 'GET',
        headersTimeout: Math.min(this.settings.maxResponseDelayMs, this.settings.healthCheckIntervalMs),
      });
      // A check is not one of the backend's clients: the report counts this worker's in-flight requests only.
      const report = parseLoadReport(response.headers[LOAD_REPORT_HEADER]);
      if (report) backend.observeLoad(report, Date.now(), backend.inFlight);
      ready = response.statusCode === 200;
      if (!ready && report) {
        // Down for load alone (cooldown) is what its load report already says, fresher with every
        // response: capacity is judged by the report, so the backend stays in rotation for it.
        ready = onlyLoadIsDown(await response.body.json().catch(() => undefined));
      } else await response.body.dump();
    } catch {
      // Unready, not ejected: ejection is for failed traffic, so backends still booting
      // when the balancer starts are not locked out for RETRY_DOWNTIME_MS.
      ready = false;
    }
    this.upstreams.recordCheck(backend, ready);
  }
}

/** Whether a terminus /ready body says down for the `load` indicator and nothing else. */
function onlyLoadIsDown(body: unknown): boolean {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  if (!error || typeof error !== 'object') return false;
  const down = Object.keys(error);
  return down.length === 1 && down[0] === 'load';
}
