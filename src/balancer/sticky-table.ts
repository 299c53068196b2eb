import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { FleetSync } from '../cluster/fleet-sync.js';
import { InjectConfig, type AppConfig } from '../config/index.js';
import type { Backend } from './backend.js';
import type { StickyRoute } from './sticky-route.js';

/** Item id -> the backend that created it (seed 001's stickiness), bounded by STICKY_MAX_ENTRIES. */
@Injectable()
export class StickyTable {
  private readonly owners: LRUCache<string, string>;
  /** Entries per owner, kept as entries come and go, for the status views. */
  private readonly perOwner = new Map<string, number>();

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly fleet: FleetSync,
  ) {
    this.owners = new LRUCache({
      max: config.balancer.stickyMaxEntries,
      // Called for evictions, deletes and overwrites, with the value that left.
      dispose: (owner) => this.bump(owner, -1),
    });
    // Every worker keeps the whole table: a create seen by one routes the reads that land on another.
    fleet.on('sticky', ({ itemId, owner }) => (owner === null ? this.owners.delete(itemId) : this.set(itemId, owner)));
  }

  owner(itemId: string): string | undefined {
    return this.owners.get(itemId);
  }

  /** A 2xx create records the owner; a 2xx delete forgets it; a failure never moves it. */
  record(route: StickyRoute, backend: Backend, status: number): void {
    if (status < 200 || status >= 300) return;
    if (route.kind === 'create') {
      if (this.set(route.itemId, backend.url)) this.fleet.publish({ kind: 'sticky', itemId: route.itemId, owner: backend.url });
    } else if (route.kind === 'access' && route.deletes) this.forget(route.itemId);
  }

  forget(itemId: string): void {
    if (this.owners.delete(itemId)) this.fleet.publish({ kind: 'sticky', itemId, owner: null });
  }

  /** Records an owner; false if it was already the owner. */
  private set(itemId: string, owner: string): boolean {
    if (this.owners.peek(itemId) === owner) return false;
    this.owners.set(itemId, owner);
    this.bump(owner, 1);
    return true;
  }

  get size(): number {
    return this.owners.size;
  }

  /** Items this backend owns. */
  ownedBy(url: string): number {
    return this.perOwner.get(url) ?? 0;
  }

  private bump(owner: string, delta: number): void {
    const next = (this.perOwner.get(owner) ?? 0) + delta;
    if (next > 0) this.perOwner.set(owner, next);
    else this.perOwner.delete(owner);
  }
}
