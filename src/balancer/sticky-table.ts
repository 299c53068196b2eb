import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { InjectConfig, type AppConfig } from '../config/index.js';
import type { Backend } from './backend.js';
import type { StickyRoute } from './sticky-route.js';

/** Item id -> the backend that created it (seed 001's stickiness), bounded by STICKY_MAX_ENTRIES. */
@Injectable()
export class StickyTable {
  private readonly owners: LRUCache<string, string>;

  constructor(@InjectConfig() config: AppConfig) {
    this.owners = new LRUCache({ max: config.balancer.stickyMaxEntries });
  }

  owner(itemId: string): string | undefined {
    return this.owners.get(itemId);
  }

  /** A 2xx create records the owner; a 2xx delete forgets it; a failure never moves it. */
  record(route: StickyRoute, backend: Backend, status: number): void {
    if (status < 200 || status >= 300) return;
    if (route.kind === 'create') this.owners.set(route.itemId, backend.url);
    else if (route.kind === 'access' && route.deletes) this.owners.delete(route.itemId);
  }

  forget(itemId: string): void {
    this.owners.delete(itemId);
  }

  get size(): number {
    return this.owners.size;
  }
}
