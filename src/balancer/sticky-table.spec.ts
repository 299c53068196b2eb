import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../config/index.js';
import { FleetSync } from '../cluster/fleet-sync.js';
import { Backend } from './backend.js';
import { taskCreateFor } from './sticky-route.js';
import { StickyTable } from './sticky-table.js';

const table = (max: number) =>
  new StickyTable(loadConfig({ ROLE: 'balancer', BACKENDS: 'http://a:1', STICKY_MAX_ENTRIES: String(max) }), new FleetSync());
const create = (key: string) => ({ kind: 'create', key, label: `Item ${key}` }) as const;
const remove = (key: string) => ({ kind: 'access', key, label: `Item ${key}`, deletes: true }) as const;
const localTasks = { clients: 0, maxClients: 8, minClients: 6, cooldown: false, shed: false, draining: false, localTasks: true };

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

describe('StickyTable and tasks', () => {
  it('records a task and its clientId only on a backend that keeps tasks locally', () => {
    const sticky = table(10);
    const [shared, local] = [new Backend('http://shared:1'), new Backend('http://local:1')];
    local.observeLoad(localTasks, 1_000, 0);
    sticky.record(taskCreateFor('carol'), shared, 202, '/tasks/t1');
    expect([sticky.owner('task:t1'), sticky.owner('client:carol')]).toEqual([undefined, undefined]);

    sticky.record(taskCreateFor('carol'), local, 202, '/tasks/t2');
    expect([sticky.owner('task:t2'), sticky.owner('client:carol')]).toEqual([local.url, local.url]);
    sticky.record(taskCreateFor(undefined), local, 202, '/tasks/t3');
    expect(sticky.owner('task:t3')).toBe(local.url);
    sticky.record(taskCreateFor('dave'), local, 503, '/tasks/t4'); // refused: nothing recorded
    expect([sticky.owner('task:t4'), sticky.owner('client:dave')]).toEqual([undefined, undefined]);
    sticky.record(taskCreateFor('erin'), local, 202, ['/elsewhere']); // no task in the Location
    expect([sticky.ownedBy(local.url), sticky.owner('client:erin')]).toEqual([4, local.url]);
  });
});
