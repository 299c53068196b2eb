import { Injectable } from '@nestjs/common';
import { AggregatorRegistry, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { FleetSync } from '../cluster/fleet-sync.js';

/** The process's Prometheus registry; feature modules add their own metrics to it. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'route' | 'method' | 'status_code'>;

  constructor(private readonly fleet: FleetSync) {
    collectDefaultMetrics({ register: this.registry });
    if (fleet.clustered) {
      // The primary's AggregatorRegistry asks every worker for this registry when it merges.
      AggregatorRegistry.setRegistries([this.registry]);
      new AggregatorRegistry();
    }
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code',
      labelNames: ['route', 'method', 'status_code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** This process's metrics, or, in a balancer cluster, every worker's merged. */
  render(): Promise<string> {
    return this.fleet.clustered ? this.fleet.clusterMetrics() : this.registry.metrics();
  }
}
