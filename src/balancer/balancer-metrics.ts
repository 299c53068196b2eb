import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../ops/metrics.service.js';
import type { Backend } from './backend.js';
import { Upstreams } from './upstreams.js';

/** The balancer's Prometheus series: attempts by outcome, ejections, and per-backend gauges read at scrape time. */
@Injectable()
export class BalancerMetrics {
  private readonly ejections: Counter<'backend'>;

  constructor(metrics: MetricsService, upstreams: Upstreams) {
    const registers = [metrics.registry];
    const pool = upstreams.pool;
    new Counter({
      name: 'ballast_balancer_attempts_total',
      help: 'Upstream attempts by backend and outcome',
      labelNames: ['backend', 'outcome'],
      registers,
      // The proxy counts in plain numbers on each Backend; labels are hashed only per scrape.
      collect() {
        this.reset();
        for (const backend of pool.backends) {
          for (const [outcome, count] of Object.entries(backend.outcomes))
            if (count > 0) this.inc({ backend: backend.url, outcome }, count);
        }
      },
    });
    this.ejections = new Counter({
      name: 'ballast_balancer_ejections_total',
      help: 'Passive ejections by backend',
      labelNames: ['backend'],
      registers,
    });
    // How a BALANCER_WORKERS cluster merges each gauge: shared state is the same everywhere (max),
    // per-worker load adds up (sum), latency is averaged.
    const perBackend = (name: string, help: string, read: (backend: Backend) => number, aggregator: 'sum' | 'max' | 'average') =>
      new Gauge({
        name,
        help,
        labelNames: ['backend'],
        registers,
        aggregator,
        collect() {
          this.reset();
          for (const backend of pool.backends) this.set({ backend: backend.url }, read(backend));
        },
      });
    perBackend('ballast_balancer_backend_in_flight', 'Requests in flight per backend', (b) => b.inFlight, 'sum');
    perBackend(
      'ballast_balancer_backend_latency_ewma_seconds',
      'Peak-EWMA time to response headers',
      (b) => b.latency.ms / 1000,
      'average',
    );
    perBackend('ballast_balancer_backend_ejected', '1 while passively ejected', (b) => (b.isEjected(Date.now()) ? 1 : 0), 'max');
    perBackend('ballast_balancer_backend_ready', '1 while its last /ready check passed', (b) => (b.ready ? 1 : 0), 'max');
    upstreams.onEjection((backend) => this.ejections.inc({ backend: backend.url }));
  }
}
