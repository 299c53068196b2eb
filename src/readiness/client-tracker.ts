import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { DRAIN_ORDER, IdleWaiters, ShutdownCoordinator } from '../lifecycle/index.js';
import { ERROR_MESSAGES } from '../errors/index.js';
import { errorBody } from '../ops/error-body.js';
import { MetricsService } from '../ops/metrics.service.js';
import { OPERATIONAL_PATH_PREFIXES } from '../ops/operational-paths.js';
import { LoadHysteresis, type LoadSnapshot } from './load-hysteresis.js';
import { formatLoadReport, LOAD_REPORT_HEADER } from './load-report.js';

/** Route templates that are not clients: operational paths, and the upstream simulator. */
export const UNTRACKED_ROUTE_PREFIXES = [...OPERATIONAL_PATH_PREFIXES, '/api/work'];

/**
 * Counts in-flight HTTP requests at the Fastify layer and feeds the hysteresis. A
 * request leaves on its response's `close`, which Node emits exactly once whether the
 * response finished or the connection died first, so the count cannot leak.
 */
@Injectable()
export class ClientTracker implements OnModuleInit {
  private readonly logger = new Logger('Readiness');
  private readonly load: LoadHysteresis;
  private readonly shed: boolean;
  /** Whether the count feeds readiness (READY_TRACK_CLIENTS); draining counts either way. */
  private readonly enabled: boolean;
  private readonly localTasks: boolean;
  private inFlight = 0;
  /** Route template -> tracked?, so the hot path does one map lookup. */
  private readonly trackedRoutes = new Map<string, boolean>();
  private readonly idle = new IdleWaiters();
  private readonly cooldownEntries: Counter;

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    private readonly coordinator: ShutdownCoordinator,
    metrics: MetricsService,
  ) {
    this.load = new LoadHysteresis(config.readiness.minClients, config.readiness.maxClients);
    this.shed = config.readiness.shed;
    this.enabled = config.readiness.trackClients;
    // Without Redis the task queue is this process's own.
    this.localTasks = !config.redis;
    // Gauges are read at scrape time, so the request path pays nothing for them.
    const load = this.load;
    const registers = [metrics.registry];
    new Gauge({
      name: 'ballast_clients_in_flight',
      help: 'Tracked HTTP requests in flight',
      registers,
      collect() {
        this.set(load.clients);
      },
    });
    new Gauge({
      name: 'ballast_cooldown',
      help: '1 while in cooldown',
      registers,
      collect() {
        this.set(load.cooldown ? 1 : 0);
      },
    });
    const shutdown = this.coordinator;
    new Gauge({
      name: 'ballast_ready',
      help: '1 while /ready answers 200 on load and shutdown grounds',
      registers,
      collect() {
        this.set(load.ready && shutdown.accepting ? 1 : 0);
      },
    });
    this.cooldownEntries = new Counter({ name: 'ballast_cooldown_entries_total', help: 'Times cooldown was entered', registers });
  }

  snapshot(): LoadSnapshot {
    return this.load.snapshot();
  }

  onModuleInit(): void {
    this.coordinator.registerDrainStep({
      name: 'in-flight HTTP requests',
      order: DRAIN_ORDER.http,
      run: () => this.whenIdle(),
      pending: () => (this.inFlight > 0 ? `${this.inFlight} requests in flight` : undefined),
    });

    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      if (!this.isTracked(request.routeOptions.url)) {
        done();
        return;
      }
      if (this.shed && this.load.cooldown) {
        void reply.code(503).header('retry-after', '1').send(errorBody(503, ERROR_MESSAGES.readiness.shedding));
        return;
      }
      this.arrive();
      // One shared listener, no per-request closure: this is the hot path.
      reply.raw.on('close', this.onResponseClosed);
      done();
    });
    if (this.enabled) {
      // Every response says how loaded this instance is as it leaves (probes too, so an idle
      // backend's load is known from the balancer's checks): the balancer sends by it.
      fastify.addHook('onSend', (_request, reply, payload, done) => {
        void reply.header(LOAD_REPORT_HEADER, formatLoadReport(this.load, this.shed, !this.coordinator.accepting, this.localTasks));
        done(null, payload);
      });
    }
  }

  private readonly onResponseClosed = (): void => this.leave();

  /** Resolves once no tracked request is in flight (counted whether or not readiness uses the count). */
  whenIdle(): Promise<void> {
    return this.idle.until(this.inFlight === 0);
  }

  private isTracked(route: string | undefined): boolean {
    if (route === undefined) return true; // unmatched paths are clients too
    let tracked = this.trackedRoutes.get(route);
    if (tracked === undefined) {
      tracked = !UNTRACKED_ROUTE_PREFIXES.some((prefix) => route.startsWith(prefix));
      this.trackedRoutes.set(route, tracked);
    }
    return tracked;
  }

  private arrive(): void {
    this.inFlight += 1;
    if (!this.enabled) return;
    if (this.load.arrive() === 'entered') {
      this.cooldownEntries.inc();
      this.logger.log(`cooldown entered at ${this.load.clients} clients (max ${this.load.maxClients})`);
    }
  }

  private leave(): void {
    this.inFlight -= 1;
    if (this.enabled && this.load.leave() === 'left') {
      this.logger.log(`cooldown left at ${this.load.clients} clients (min ${this.load.minClients})`);
    }
    if (this.inFlight === 0) this.idle.release();
  }
}
