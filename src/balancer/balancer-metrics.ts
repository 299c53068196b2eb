import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { AdmissionQueue, QueueRejection } from './admission-queue.js';
import { MetricsService } from '../ops/metrics.service.js';
import { PlainHistogram, type HistogramSeries } from '../ops/plain-histogram.js';
import type { Backend } from './backend.js';
import { Upstreams } from './upstreams.js';

type RejectionReason = QueueRejection | 'client_rate' | 'client_concurrency';
const REJECTION_REASONS: readonly RejectionReason[] = ['queue_full', 'queue_timeout', 'client_rate', 'client_concurrency'];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The balancer's Prometheus series: attempts by outcome, ejections, and per-backend gauges read at scrape time. */
@Injectable()
export class BalancerMetrics {
  private readonly ejections: Counter<'backend'>;
  /** Waits in the admission queue by how they ended; plain numbers, as requests by code. */
  private readonly admittedWait: HistogramSeries;
  private readonly rejectedWait: HistogramSeries;
  /** Refusals by reason, every reason from the start: its series exists before the first, for rate() and alerts. */
  private readonly rejections = new Map<RejectionReason, number>(REJECTION_REASONS.map((reason) => [reason, 0]));
  private readonly registers: MetricsService['registry'][];
  /** Counted in plain numbers per request; prom-client reads them at scrape time. */
  private readonly requestsByCode = new Map<number, number>();
  private readonly requestDuration: HistogramSeries;
  private readonly upstreamDuration: PlainHistogram;

  constructor(metrics: MetricsService, upstreams: Upstreams) {
    const registers = [metrics.registry];
    this.registers = registers;
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
      // Every backend has a series from the start, so increase() sees its first ejection.
      collect() {
        for (const backend of pool.backends) this.inc({ backend: backend.url }, 0);
      },
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
    perBackend(
      'ballast_balancer_backend_out_seconds',
      'Seconds since the backend was first ejected in its current run of ejections (0 in rotation)',
      (b) => b.outForMs(Date.now()) / 1000,
      'max',
    );
    perBackend('ballast_balancer_backend_ready', '1 while its last /ready check passed', (b) => (b.ready ? 1 : 0), 'max');
    upstreams.onEjection((backend) => this.ejections.inc({ backend: backend.url }));
    perBackend(
      'ballast_balancer_backend_reported_clients',
      'Clients in flight the backend last reported (x-ballast-load); -1 when it reports none',
      (b) => b.reported?.clients ?? -1,
      'max',
    );

    new Gauge({
      name: 'ballast_balancer_panic',
      help: '1 while every available backend is unready, so unready ones take traffic (the panic floor)',
      registers,
      aggregator: 'max',
      collect() {
        this.set(pool.inPanic(Date.now()) ? 1 : 0);
      },
    });

    const queueWait = new PlainHistogram(
      'ballast_balancer_queue_wait_seconds',
      'Time requests waited in the admission queue, by how they left it (admitted, rejected)',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      'outcome',
      metrics.registry,
    );
    // Under overload every request leaves the queue one way or the other: prom-client's
    // Histogram hashed the outcome label on each (1.4-1.7% of the balancer's busy time at 5x
    // capacity, bench:profile-overload). Both series exist from the start, for rate() and alerts.
    const admittedWait = queueWait.seriesFor('admitted');
    this.admittedWait = admittedWait;
    this.rejectedWait = queueWait.seriesFor('rejected');
    new Counter({
      name: 'ballast_balancer_queue_admitted_total',
      help: 'Requests sent to a backend after waiting in the admission queue',
      registers,
      // The admitted waits' own count: every admission is one observation.
      collect() {
        this.reset();
        this.inc(admittedWait.count);
      },
    });
    // Counted in a plain map and read at scrape time, as requests by code: under overload most
    // requests are refusals, and prom-client hashes the labels on every inc.
    const rejections = this.rejections;
    new Counter({
      name: 'ballast_balancer_rejected_total',
      help: 'Requests the balancer answered itself: 503 queue_full, queue_timeout (every backend at capacity); 429 client_rate, client_concurrency (per-client limits)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of rejections) this.inc({ reason }, count);
      },
    });
    const byCode = this.requestsByCode;
    new Counter({
      name: 'ballast_balancer_requests_total',
      help: 'Requests through the balancer by the status the client got (499: it left before the answer)',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, count] of byCode) this.inc({ code: String(code) }, count);
      },
    });
    this.requestDuration = new PlainHistogram(
      'ballast_balancer_request_duration_seconds',
      'Time from a request reaching the balancer to its response closing',
      LATENCY_BUCKETS,
      undefined,
      metrics.registry,
    ).seriesFor();
    this.upstreamDuration = new PlainHistogram(
      'ballast_balancer_upstream_duration_seconds',
      'Time from sending a request to a backend to the last byte of the answer the client got, by backend',
      LATENCY_BUCKETS,
      'backend',
      metrics.registry,
    );
    const budget = upstreams.retryBudget;
    new Counter({
      name: 'ballast_balancer_retries_total',
      help: 'Retries sent to another backend (each took the retry budget)',
      registers,
      collect() {
        this.reset();
        this.inc(budget.started);
      },
    });
    new Counter({
      name: 'ballast_balancer_retry_budget_exhausted_total',
      help: 'Retries not sent because the retry budget was spent (the failure went to the client as it was)',
      registers,
      collect() {
        this.reset();
        this.inc(budget.refused);
      },
    });
  }

  /** A request's response closed: counted by status, timed overall and at the backend that answered. */
  requestFinished(status: number, totalMs: number, backend: string | undefined, upstreamMs: number | undefined): void {
    this.requestsByCode.set(status, (this.requestsByCode.get(status) ?? 0) + 1);
    this.requestDuration.observe(totalMs / 1000);
    if (backend !== undefined && upstreamMs !== undefined) this.upstreamDuration.seriesFor(backend).observe(upstreamMs / 1000);
  }

  /** A request left the admission queue. */
  queueOutcome(outcome: 'admitted' | QueueRejection, waitedMs: number): void {
    if (outcome === 'admitted') {
      this.admittedWait.observe(waitedMs / 1000);
    } else {
      this.rejected(outcome);
      this.rejectedWait.observe(waitedMs / 1000);
    }
  }

  /** A request answered by the balancer itself, for `reason`. */
  rejected(reason: RejectionReason): void {
    this.rejections.set(reason, this.rejections.get(reason)! + 1);
  }

  /** The admission queue's length, read at scrape time. */
  watchQueue(queue: AdmissionQueue): void {
    new Gauge({
      name: 'ballast_balancer_queue_length',
      help: 'Requests waiting in the admission queue',
      registers: this.registers,
      aggregator: 'sum',
      collect() {
        this.set(queue.length);
      },
    });
  }
}
