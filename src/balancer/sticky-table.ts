import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { InjectConfig, type AppConfig } from '../config/index.js';
import type { Backend } from './backend.js';
import type { StickyRoute } from './sticky-route.js';

/** Item id -> the backend that created it (seed 001's stickiness), bounded by STICKY_MAX_ENTRIES. */
@Injectable()
export class StickyTable {
  private readonly owners: LRUCache<string, string>;
  /** Entries per owner, kept as entries come and go, for the status views. */
  private readonly perOwner = new Map<string, number>();

  constructor(@InjectConfig() config: AppConfig) {
    this.owners = new LRUCache({
      max: config.balancer.stickyMaxEntries,
      // Called for evictions, deletes and overwrites, with the value that left.
      dispose: (owner) => this.bump(owner, -1),
    });
  }

  owner(itemId: string): string | undefined {
    return this.owners.get(itemId);
  }

  /** A 2xx create records the owner; a 2xx delete forgets it; a failure never moves it. */
  record(route: StickyRoute, backend: Backend, status: number): void {
    if (status < 200 || status >= 300) return;
    if (route.kind === 'create') {
      if (this.owners.peek(route.itemId) === backend.url) return;
      this.owners.set(route.itemId, backend.url);
      this.bump(backend.url, 1);
    } else if (route.kind === 'access' && route.deletes) this.owners.delete(route.itemId);
  }

  forget(itemId: string): void {
    this.owners.delete(itemId);
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
