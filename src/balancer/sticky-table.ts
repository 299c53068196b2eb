import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { FleetSync } from '../cluster/fleet-sync.js';
import { InjectConfig, type AppConfig } from '../config/index.js';
import type { Backend } from './backend.js';
import type { BackendPool } from './backend-pool.js';
import { taskIdOfLocation, taskKey, type StickyRoute } from './sticky-route.js';

/**
 * Sticky key -> the backend that holds it, bounded by STICKY_MAX_ENTRIES: an item id -> the
 * backend that created it (seed 001), and, for backends that keep tasks in memory, a task and a
 * clientId's tasks -> the backend they live on (StickyRoute).
 */
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
    fleet.on('sticky', ({ key, owner }) => (owner === null ? this.owners.delete(key) : this.set(key, owner)));
  }

  owner(key: string): string | undefined {
    return this.owners.get(key);
  }

  /** The backend of `pool` that holds `key`, if one is recorded and still in the list. */
  ownerIn(pool: BackendPool, key: string): Backend | undefined {
    const url = this.owner(key);
    if (url === undefined) return undefined;
    const owner = pool.byUrl(url);
    // Its owner left the backend list (a DNS change): what it held is gone with it.
    if (!owner) this.forget(key);
    return owner;
  }

  /**
   * A 2xx create records the owner; a 2xx delete forgets it; a failure never moves it. A task
   * create records its task (`location`: the 202's Location) and its clientId only on a
   * backend that keeps tasks to itself: with Redis any instance serves any task.
   */
  record(route: StickyRoute, backend: Backend, status: number, location?: string | string[]): void {
    if (status < 200 || status >= 300) return;
    switch (route.kind) {
      case 'create':
        return this.claim(route.key, backend);
      case 'access':
        if (route.deletes) this.forget(route.key);
        return;
      case 'task-create': {
        if (!backend.keepsTasksLocally) return;
        const taskId = taskIdOfLocation(location);
        if (taskId !== undefined) this.claim(taskKey(taskId), backend);
        if (route.key !== undefined) this.claim(route.key, backend);
      }
    }
  }

  /** `key` lives on `backend` from now on, in every worker. */
  claim(key: string, backend: Backend): void {
    if (this.set(key, backend.url)) this.fleet.publish({ kind: 'sticky', key, owner: backend.url });
  }

  forget(key: string): void {
    if (this.owners.delete(key)) this.fleet.publish({ kind: 'sticky', key, owner: null });
  }

  /** Records an owner; false if it was already the owner. */
  private set(key: string, owner: string): boolean {
    if (this.owners.peek(key) === owner) return false;
    this.owners.set(key, owner);
    this.bump(owner, 1);
    return true;
  }

  get size(): number {
    return this.owners.size;
  }

  /** Entries (items, tasks, clients) this backend holds. */
  ownedBy(url: string): number {
    return this.perOwner.get(url) ?? 0;
  }

  private bump(owner: string, delta: number): void {
    const next = (this.perOwner.get(owner) ?? 0) + delta;
    if (next > 0) this.perOwner.set(owner, next);
    else this.perOwner.delete(owner);
  }
}
