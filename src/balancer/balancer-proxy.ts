import { Injectable, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import { FleetSync } from '../cluster/fleet-sync.js';
import { DRAIN_ORDER, IdleWaiters, ShutdownCoordinator } from '../lifecycle/index.js';
import type { Backend } from './backend.js';
import type { AttemptLedger } from './backend-attempts.js';
import { ProxyExchange, type ExchangeContext } from './proxy-exchange.js';
import type { StickyRoute } from './sticky-route.js';
import { StickyTable } from './sticky-table.js';
import { Upstreams } from './upstreams.js';

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

  constructor(
    private readonly upstreams: Upstreams,
    private readonly sticky: StickyTable,
    private readonly coordinator: ShutdownCoordinator,
    fleet: FleetSync,
  ) {
    this.workerId = fleet.workerId === undefined ? undefined : String(fleet.workerId);
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
    new ProxyExchange(this, req, res).start();
  };

  /** Called once per exchange, when the client's response closes (finished or not). */
  exchangeClosed(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0) this.idle.release();
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

  stickyOwner(itemId: string): Backend | undefined {
    const url = this.sticky.owner(itemId);
    if (url === undefined) return undefined;
    const owner = this.upstreams.pool.byUrl(url);
    // Its owner left the backend list (a DNS change): the item is gone with it.
    if (!owner) this.sticky.forget(itemId);
    return owner;
  }

  recordSticky(route: StickyRoute, backend: Backend, status: number): void {
    this.sticky.record(route, backend, status);
  }
}
