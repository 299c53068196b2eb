import { describe, expect, it } from '@jest/globals';
import { Subscriptions } from './subscriptions.js';

describe('Subscriptions', () => {
  const fresh = (max = 3) => new Subscriptions<string>(max);

  it('routes a task change to its subscribers, to all-subscribers and to its clientId, each once', () => {
    const subs = fresh();
    subs.connect('a');
    subs.connect('b', 'carol');
    subs.connect('c');
    subs.connect('d', 'dave');
    expect(subs.subscribe('a', { taskId: 't1' })).toEqual({ ok: true, taskId: 't1' });
    expect(subs.subscribe('b', { taskId: 't1' })).toEqual({ ok: true, taskId: 't1' });
    expect(subs.subscribe('c', { all: true })).toEqual({ ok: true, all: true });
    expect([...subs.followersOf('t1', 'carol')].sort()).toEqual(['a', 'b', 'c']);
    expect([...subs.followersOf('t2', 'carol')].sort()).toEqual(['b', 'c']);
    expect([...subs.followersOf('t2')]).toEqual(['c']);
    expect([...subs.followersOf('t3', 'dave')].sort()).toEqual(['c', 'd']);
  });

  it('lists the tasks followed by id, each once, until no socket follows them', () => {
    const subs = fresh();
    subs.connect('a');
    subs.connect('b');
    subs.subscribe('a', { taskId: 't1' });
    subs.subscribe('b', { taskId: 't1' });
    subs.subscribe('b', { taskId: 't2' });
    subs.subscribe('b', { all: true });
    expect(subs.followedTaskIds().sort()).toEqual(['t1', 't2']);
    subs.disconnect('b');
    expect(subs.followedTaskIds()).toEqual(['t1']);
  });

  it.each([
    [{}, 'bad_request'],
    [{ taskId: 42 }, 'bad_request'],
    [{ taskId: '' }, 'bad_request'],
    [{ taskId: 'has space' }, 'bad_request'],
    [{ taskId: 'x'.repeat(65) }, 'bad_request'],
    [{ all: 'yes' }, 'bad_request'],
  ])('refuses %j as %s', (data, refusal) => {
    const subs = fresh();
    subs.connect('a');
    expect(subs.subscribe('a', data)).toEqual({ ok: false, refusal });
    expect(subs.indexSizes()).toEqual({ sockets: 1, tasks: 0, clientIds: 0, all: 0 });
  });

  it('caps subscriptions per socket, but a repeated subscription costs nothing', () => {
    const subs = fresh(2);
    subs.connect('a');
    expect(subs.subscribe('a', { taskId: 't1' }).ok).toBe(true);
    expect(subs.subscribe('a', { taskId: 't2' }).ok).toBe(true);
    expect(subs.subscribe('a', { taskId: 't1' }).ok).toBe(true);
    expect(subs.subscribe('a', { taskId: 't3' })).toEqual({ ok: false, refusal: 'too_many' });
    expect([...subs.followersOf('t3')]).toEqual([]);
  });

  it('undoes one task subscription, freeing its slot and its index entry', () => {
    const subs = fresh(1);
    subs.connect('a');
    subs.subscribe('a', { taskId: 'ghost' });
    subs.unsubscribe('a', 'ghost');
    subs.unsubscribe('a', 'never-subscribed'); // harmless
    expect(subs.indexSizes().tasks).toBe(0);
    expect(subs.subscribe('a', { taskId: 't1' }).ok).toBe(true);
  });

  it('refuses a socket it does not know (already disconnected)', () => {
    const subs = fresh();
    expect(subs.subscribe('ghost', { taskId: 't1' })).toEqual({ ok: false, refusal: 'bad_request' });
    expect(subs.indexSizes().tasks).toBe(0);
  });

  it('forgets every index entry of a disconnected socket, and only its own', () => {
    const subs = fresh();
    subs.connect('a', 'carol');
    subs.connect('b', 'carol');
    subs.subscribe('a', { taskId: 't1' });
    subs.subscribe('a', { all: true });
    subs.subscribe('b', { taskId: 't1' });
    subs.disconnect('a');
    expect([...subs.followersOf('t1', 'carol')]).toEqual(['b']);
    expect(subs.indexSizes()).toEqual({ sockets: 1, tasks: 1, clientIds: 1, all: 0 });
    subs.disconnect('b');
    subs.disconnect('b'); // twice is harmless
    expect(subs.indexSizes()).toEqual({ sockets: 0, tasks: 0, clientIds: 0, all: 0 });
    expect(subs.size).toBe(0);
  });
});
