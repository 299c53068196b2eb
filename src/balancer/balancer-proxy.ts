import { Injectable, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'undici';
import { FleetSync } from '../cluster/fleet-sync.js';
import { DRAIN_ORDER, IdleWaiters, ShutdownCoordinator } from '../lifecycle/index.js';
import type { Backend } from './backend.js';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { AdmissionQueue, CODEL, type QueueClock, type QueueRejection } from './admission-queue.js';
import type { AttemptLedger } from './backend-attempts.js';
import { ERROR_MESSAGES } from '../errors/messages.js';
import { AccessLog } from '../ops/access-log.js';
import { BalancerMetrics } from './balancer-metrics.js';
import { ClientLimits } from './client-limits.js';
import { ProxyExchange, type ExchangeContext } from './proxy-exchange.js';
import type { StickyRoute } from './sticky-route.js';
import { StickyTable } from './sticky-table.js';
import { Upstreams } from './upstreams.js';
import { WorkerDemand } from './worker-demand.js';

/** How often a worker tells the others which clients it let in (BALANCER_WORKERS > 1, with a client rate). */
const CLIENT_USAGE_SYNC_MS = 50;

const TIMERS: QueueClock = {
  now: () => performance.now(),
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * The balancer's data path: a plain (req, res) handler on the HTTP server, outside
 * Nest's router, streaming both ways through one undici Pool per backend. Each request is a
 * ProxyExchange; this provider joins it to the upstreams and the sticky table,
 * and owns the "proxied requests" drain step.
 */
@Injectable()
export class BalancerProxy implements OnModuleInit, ExchangeContext {
  private inFlight = 0;
  private readonly idle = new IdleWaiters();
  readonly workerId?: string;
  readonly admission: AdmissionQueue;
  private readonly clientLimits: ClientLimits;
  private readonly limitSettings: AppConfig['balancer']['clientLimits'];
  /** Requests let in per client since the last report to the other workers; undefined when there are none. */
  private readonly admittedSinceSync?: Map<string, number>;
  /** BALANCER_WORKERS > 1: tells the other workers whether requests wait here (WorkerShares). */
  private readonly demand?: WorkerDemand;

  constructor(
    private readonly upstreams: Upstreams,
    private readonly sticky: StickyTable,
    private readonly coordinator: ShutdownCoordinator,
    fleet: FleetSync,
    @InjectConfig() config: AppConfig,
    private readonly metrics: BalancerMetrics,
    private readonly accessLog: AccessLog,
  ) {
    this.workerId = fleet.workerId === undefined ? undefined : String(fleet.workerId);
    this.admission = new AdmissionQueue({ ...config.balancer.queue, ...CODEL }, TIMERS);
    this.limitSettings = config.balancer.clientLimits;
    this.clientLimits = new ClientLimits(this.limitSettings);
    upstreams.pool.requestsWaiting = () => this.admission.demand;
    const roomLeft = () => upstreams.pool.someHasRoom(Date.now());
    upstreams.onSlotFreed(() => this.admission.slotFreed(roomLeft));
    metrics.watchQueue(this.admission);
    const shares = upstreams.pool.shares;
    if (shares && fleet.workerId !== undefined) {
      this.demand = new WorkerDemand(
        fleet.workerId,
        () => this.admission.length > 0,
        shares,
        (event) => fleet.publish(event),
      );
      this.admission.onWaitingChanged = this.demand.waitingChanged;
      this.demand.start();
    }
    if (fleet.clustered && this.limitSettings.ratePerSecond > 0) {
      this.admittedSinceSync = new Map();
      fleet.on('client-usage', ({ admitted }) => {
        const now = Date.now();
        for (const [key, requests] of admitted) this.clientLimits.charge(key, requests, now);
      });
      setInterval(() => this.reportClientUsage(fleet), CLIENT_USAGE_SYNC_MS).unref();
    }
  }

  /**
   * Tells the other workers which clients this one let in, so a client's rate holds over all of
   * them (each worker otherwise granted the whole rate: 589/s against a share of 489/s with 2
   * workers in bench:overload). Only clients that used at least 1/16 of their rate here in the
   * interval: the others cannot near their limit, whatever the workers do together.
   */
  private reportClientUsage(fleet: FleetSync): void {
    const admitted = this.admittedSinceSync!;
    if (admitted.size === 0) return;
    const floor = Math.max(1, (this.limitSettings.ratePerSecond * CLIENT_USAGE_SYNC_MS) / 1000 / 16);
    const worth: [string, number][] = [];
    for (const entry of admitted) if (entry[1] >= floor) worth.push(entry);
    admitted.clear();
    if (worth.length > 0) fleet.publish({ kind: 'client-usage', admitted: worth });
  }

  onModuleInit(): void {
    this.coordinator.registerDrainStep({
      name: 'proxied requests',
      order: DRAIN_ORDER.http,
      run: () => this.whenIdle(),
      pending: () => (this.inFlight > 0 ? `${this.inFlight} proxied requests in flight` : undefined),
    });
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight += 1;
    this.demand?.arrived();
    this.upstreams.retryBudget.requestStarted();
    const exchange = new ProxyExchange(this, req, res);
    if (this.clientLimits.enabled && !this.admitClient(exchange)) return;
    exchange.start();
  };

  /** Per-client limits: true when the request may go on; otherwise it was answered 429. */
  private admitClient(exchange: ProxyExchange): boolean {
    const key = this.clientKey(exchange.req);
    exchange.client = key;
    const refusal = this.clientLimits.admit(key, Date.now());
    if (!refusal) {
      exchange.res.once('close', () => this.clientLimits.release(key));
      if (this.admittedSinceSync) this.admittedSinceSync.set(key, (this.admittedSinceSync.get(key) ?? 0) + 1);
      return true;
    }
    this.metrics.rejected(refusal.reason);
    const { ratePerSecond, concurrency } = this.limitSettings;
    const message =
      refusal.reason === 'client_rate'
        ? ERROR_MESSAGES.balancer.clientRate(ratePerSecond)
        : ERROR_MESSAGES.balancer.clientConcurrency(concurrency);
    exchange.answer(refusal.reason, 429, message, { retryAfterSeconds: refusal.retryAfterSeconds, details: { reason: refusal.reason } });
    return false;
  }

  /** What makes a client: its address, or the configured header (its address when the header is absent). */
  private clientKey(req: IncomingMessage): string {
    const key = this.limitSettings.key;
    if (key.kind === 'header') {
      const value = req.headers[key.name];
      const text = Array.isArray(value) ? value[0] : value;
      if (text) return `h:${text}`;
    }
    return `a:${req.socket.remoteAddress ?? ''}`;
  }

  /** Called once per exchange, when the client's response closes (finished or not): counted and logged. */
  exchangeClosed(exchange: ProxyExchange): void {
    this.inFlight -= 1;
    this.upstreams.retryBudget.requestEnded();
    if (this.inFlight === 0) this.idle.release();
    const { req, res } = exchange;
    // 499: the client left before it had the response's head (nginx's convention).
    const status = res.headersSent ? res.statusCode : 499;
    const totalMs = performance.now() - exchange.startedAt;
    this.metrics.requestFinished(status, totalMs, exchange.answeredBy, exchange.upstreamMs);
    if (!this.accessLog.wants(status, exchange.troubled)) return;
    this.accessLog.write({
      requestId: exchange.requestId,
      startedAtMs: exchange.startedAtMs,
      client: req.socket.remoteAddress ?? '',
      method: req.method ?? '',
      target: req.url ?? '',
      status,
      totalMs,
      bytesIn: exchange.bytesIn,
      bytesOut: exchange.bytesOut,
      backend: exchange.answeredBy,
      attempts: exchange.trail,
      upstreamMs: exchange.upstreamMs,
      rejected: exchange.rejected,
      worker: this.workerId,
    });
  }

  queueOutcome(outcome: 'admitted' | QueueRejection, waitedMs: number): void {
    this.metrics.queueOutcome(outcome, waitedMs);
  }

  whenIdle(): Promise<void> {
    return this.idle.until(this.inFlight === 0);
  }

  get ledger(): AttemptLedger {
    return this.upstreams;
  }

  get maxResponseDelayMs(): number {
    return this.upstreams.maxResponseDelayMs;
  }

  connectionsTo(backend: Backend): Pool | undefined {
    return this.upstreams.connectionsTo(backend);
  }

  stickyOwner(key: string): Backend | undefined {
    return this.sticky.ownerIn(this.upstreams.pool, key);
  }

  recordSticky(route: StickyRoute, backend: Backend, status: number, location?: string | string[]): void {
    this.sticky.record(route, backend, status, location);
  }

  get someBackendKeepsTasksLocally(): boolean {
    return this.upstreams.pool.backends.some((backend) => backend.keepsTasksLocally);
  }
}
