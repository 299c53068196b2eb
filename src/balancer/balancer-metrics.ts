import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../ops/metrics.service.js';
import type { Backend } from './backend.js';
import { Upstreams } from './upstreams.js';
import type { AttemptFailure } from './proxy-errors.js';

/** The balancer's Prometheus series: attempts by outcome, ejections, and per-backend gauges read at scrape time. */
@Injectable()
export class BalancerMetrics {
  private readonly outcomes: Counter<'backend' | 'outcome'>;
  private readonly ejections: Counter<'backend'>;
  /** Labelled children cached per backend and outcome: no label hashing per request. */
  private readonly outcomeChildren = new Map<Backend, Map<string, Counter.Internal>>();

  constructor(metrics: MetricsService, upstreams: Upstreams) {
    const registers = [metrics.registry];
    this.outcomes = new Counter({
      name: 'ballast_balancer_attempts_total',
      help: 'Upstream attempts by backend and outcome',
      labelNames: ['backend', 'outcome'],
      registers,
    });
    this.ejections = new Counter({
      name: 'ballast_balancer_ejections_total',
      help: 'Passive ejections by backend',
      labelNames: ['backend'],
      registers,
    });
    const pool = upstreams.pool;
    const perBackend = (name: string, help: string, read: (backend: Backend) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['backend'],
        registers,
        collect() {
          this.reset();
          for (const backend of pool.backends) this.set({ backend: backend.url }, read(backend));
        },
      });
    perBackend('ballast_balancer_backend_in_flight', 'Requests in flight per backend', (b) => b.inFlight);
    perBackend('ballast_balancer_backend_latency_ewma_seconds', 'Peak-EWMA time to response headers', (b) => b.latency.ms / 1000);
    perBackend('ballast_balancer_backend_ejected', '1 while passively ejected', (b) => (b.isEjected(Date.now()) ? 1 : 0));
    perBackend('ballast_balancer_backend_ready', '1 while its last /ready check passed', (b) => (b.ready ? 1 : 0));
    upstreams.onEjection((backend) => this.ejections.inc({ backend: backend.url }));
  }

  countOutcome(backend: Backend, outcome: AttemptFailure | 'success'): void {
    let children = this.outcomeChildren.get(backend);
    if (!children) {
      children = new Map();
      this.outcomeChildren.set(backend, children);
    }
    let child = children.get(outcome);
    if (!child) {
      child = this.outcomes.labels({ backend: backend.url, outcome });
      children.set(outcome, child);
    }
    child.inc();
  }
}
