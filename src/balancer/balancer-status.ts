import { Injectable, OnModuleInit } from '@nestjs/common';
import { FleetSync } from '../cluster/fleet-sync.js';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { mergeWorkerCounters, type BackendCounters, type WorkerCounters } from '../cluster/worker-counters.js';
import { noOutcomes } from './backend.js';
import type { BalancerStatusDto } from './balancer-status.dto.js';
import { BalancerProxy } from './balancer-proxy.js';
import { StickyTable } from './sticky-table.js';
import { Upstreams } from './upstreams.js';
import { WebSocketTunnels } from './websocket-tunnel.js';

/**
 * What /_balancer/backends (and the status page polling it) shows. The state every worker
 * shares (ejections, readiness, the sticky table) is read here; the traffic counters each
 * worker keeps for itself are gathered from all of them through the primary and summed, so
 * the answer does not depend on which worker a connection landed on.
 */
@Injectable()
export class BalancerStatus implements OnModuleInit {
  constructor(
    private readonly upstreams: Upstreams,
    private readonly sticky: StickyTable,
    private readonly tunnels: WebSocketTunnels,
    private readonly fleet: FleetSync,
    private readonly proxy: BalancerProxy,
    @InjectConfig() config: AppConfig,
  ) {
    this.queueSettings = config.balancer.queue;
  }

  private readonly queueSettings: AppConfig['balancer']['queue'];

  onModuleInit(): void {
    this.fleet.reportCountersWith(() => this.ownCounters());
  }

  async view(): Promise<BalancerStatusDto> {
    const reports = this.fleet.clustered ? await this.fleetCounters() : [this.ownCounters()];
    const counters = mergeWorkerCounters(reports);
    const now = Date.now();
    const pool = this.upstreams.pool;
    return {
      worker: this.fleet.workerId ?? null,
      workers: reports.length,
      strategy: pool.strategyName,
      panic: pool.inPanic(now),
      backends: pool.backends.map((backend) => {
        const ejected = backend.isEjected(now);
        const traffic = counters.get(backend.url) ?? zeroCounters(backend.url);
        return {
          url: backend.url,
          state: backend.state(now),
          healthy: backend.available(now) && backend.ready,
          ready: backend.ready,
          ejectedUntil: ejected ? new Date(backend.ejectedUntil).toISOString() : null,
          busyUntil: backend.isBusy(now) ? new Date(backend.busyUntil).toISOString() : null,
          halfOpen: backend.halfOpen,
          consecutive5xx: traffic.consecutive5xx,
          ejections: backend.ejections,
          lastVerdict: backend.lastVerdict,
          inFlight: traffic.inFlight,
          tunnels: traffic.tunnels,
          ewmaLatencyMs: Math.round(traffic.ewmaLatencyMs * 100) / 100,
          requests: traffic.requests,
          failures: traffic.failures,
          outcomes: { ...noOutcomes(), ...traffic.outcomes },
          stickyItems: this.sticky.ownedBy(backend.url),
          keepsTasksLocally: backend.keepsTasksLocally,
          reportedLoad: backend.reported
            ? {
                clients: backend.reported.clients,
                maxClients: backend.reported.maxClients,
                minClients: backend.reported.minClients,
                cooldown: backend.reported.cooldown,
                shed: backend.reported.shed,
                ageMs: Math.max(0, now - backend.reported.atMs),
                freeSlot: backend.hasFreeSlot(now),
              }
            : null,
        };
      }),
      stickyItems: this.sticky.size,
      byWorker: reports
        .map((report) => ({
          worker: report.worker,
          queued: report.queued ?? 0,
          backends: report.backends.map((own) => ({
            url: own.url,
            inFlight: own.inFlight,
            requests: own.requests,
            share: own.share ?? null,
          })),
        }))
        .sort((a, b) => a.worker - b.worker),
      queue: { waiting: reports.reduce((sum, report) => sum + (report.queued ?? 0), 0), maxWaitMs: this.queueSettings.maxWaitMs },
    };
  }

  /** Every worker's counters; this worker's alone if the primary does not answer. */
  private async fleetCounters(): Promise<readonly WorkerCounters[]> {
    try {
      return await this.fleet.fleetCounters();
    } catch {
      return [this.ownCounters()];
    }
  }

  private ownCounters(): WorkerCounters {
    const now = Date.now();
    const shares = this.upstreams.pool.shares;
    return {
      worker: this.fleet.workerId ?? 0,
      queued: this.proxy.admission.length,
      backends: this.upstreams.pool.backends.map((backend, index) => ({
        url: backend.url,
        inFlight: backend.inFlight,
        tunnels: this.tunnels.tunnelsTo(backend),
        requests: backend.requests,
        failures: backend.failures,
        consecutive5xx: backend.consecutive5xx,
        ewmaLatencyMs: backend.latency.ms,
        outcomes: { ...backend.outcomes },
        share: shares && backend.shareOfSlots(now, shares, index)?.share,
      })),
    };
  }
}

/** Zero counters, for a backend no worker has reported yet (just added by DNS). */
function zeroCounters(url: string): BackendCounters {
  return { url, inFlight: 0, tunnels: 0, requests: 0, failures: 0, consecutive5xx: 0, ewmaLatencyMs: 0, outcomes: {} };
}
