import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../config/index.js';
import { FleetSync } from '../cluster/fleet-sync.js';
import { Backend } from './backend.js';
import { StickyTable } from './sticky-table.js';

const table = (max: number) =>
  new StickyTable(loadConfig({ ROLE: 'balancer', BACKENDS: 'http://a:1', STICKY_MAX_ENTRIES: String(max) }), new FleetSync());
const create = (itemId: string) => ({ kind: 'create', itemId }) as const;
const remove = (itemId: string) => ({ kind: 'access', itemId, deletes: true }) as const;

describe('StickyTable per-owner counts', () => {
  it('follow creates, repeated creates, moves, deletes, failures and evictions', () => {
    const sticky = table(3);
    const [a, b] = [new Backend('http://a:1'), new Backend('http://b:1')];
    sticky.record(create('1'), a, 201);
    sticky.record(create('2'), a, 201);
    sticky.record(create('2'), a, 201); // the same owner again: still one item
    sticky.record(create('3'), b, 500); // a failure records nothing
    expect([sticky.ownedBy(a.url), sticky.ownedBy(b.url), sticky.size]).toEqual([2, 0, 2]);

    sticky.record(create('2'), b, 201); // re-created elsewhere: moves
    expect([sticky.ownedBy(a.url), sticky.ownedBy(b.url)]).toEqual([1, 1]);
    sticky.record(remove('1'), a, 204);
    expect([sticky.ownedBy(a.url), sticky.ownedBy(b.url), sticky.size]).toEqual([0, 1, 1]);

    for (const id of ['4', '5', '6']) sticky.record(create(id), a, 201); // evicts the oldest (2, owned by b)
    expect([sticky.ownedBy(a.url), sticky.ownedBy(b.url), sticky.size]).toEqual([3, 0, 3]);
    sticky.forget('4');
    expect(sticky.ownedBy(a.url)).toBe(2);
  });
});
