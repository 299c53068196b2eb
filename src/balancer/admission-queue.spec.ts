import { describe, expect, it } from '@jest/globals';
import { AdmissionQueue, type QueueClock, type QueueRejection, type QueueWaiter } from './admission-queue.js';

/** A clock the test moves, with the timers it holds. */
function testClock() {
  let now = 1_000;
  const timers: { at: number; callback: () => void; id: number }[] = [];
  let nextId = 0;
  const clock: QueueClock = {
    now: () => now,
    setTimer: (callback, ms) => {
      const id = nextId++;
      timers.push({ at: now + ms, callback, id });
      return id;
    },
    clearTimer: (id) => {
      const index = timers.findIndex((timer) => timer.id === id);
      if (index >= 0) timers.splice(index, 1);
    },
  };
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const due = timers[0];
      if (!due || due.at > until) break;
      timers.shift();
      now = due.at;
      due.callback();
    }
    now = until;
  };
  return { clock, advance };
}

/**
 * Waiters that record what happened to them, over a count of free slots: an admitted waiter
 * takes a slot if one is free, and otherwise goes back (as the proxy's exchange does).
 */
function waiterLog(queue: () => AdmissionQueue, clock: QueueClock) {
  const admitted: number[] = [];
  const rejected: { reason: QueueRejection; waited: number; client?: string }[] = [];
  const admittedPerClient = new Map<string, number>();
  let free = 0;
  const waiter = (enqueuedAt = clock.now(), client = ''): QueueWaiter => ({
    admit: (waited: number) => {
      if (free > 0) {
        free -= 1;
        admitted.push(waited);
        admittedPerClient.set(client, (admittedPerClient.get(client) ?? 0) + 1);
      } else queue().putBack(waiter(enqueuedAt, client), enqueuedAt, client);
    },
    reject: (reason: QueueRejection, waited: number) => rejected.push(client ? { reason, waited, client } : { reason, waited }),
  });
  /** A slot frees: the queue is told, as the proxy tells it. */
  const freeSlot = () => {
    free += 1;
    queue().slotFreed();
  };
  return { admitted, admittedPerClient, rejected, waiter, freeSlot };
}

const settings = { maxWaitMs: 50, maxLength: 1_000, targetMs: 5, recheckMs: 5, overloadedAfterMs: 200, overloadedWaitMs: 20 };

describe('AdmissionQueue', () => {
  it('admits in arrival order as slots free', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const order: string[] = [];
    for (const name of ['a', 'b', 'c']) queue.offer({ admit: () => order.push(name), reject: () => order.push(`-${name}`) });
    advance(3);
    queue.slotFreed();
    queue.slotFreed();
    expect(order).toEqual(['a', 'b']);
    expect(queue.length).toBe(1);
  });

  it('admits as many as the slots one ending opened (a cooldown that ended), not one per ending', () => {
    const { clock } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    let free = 0;
    const admitted: string[] = [];
    const waiter = (name: string): QueueWaiter => ({
      admit: () => {
        if (free > 0) {
          free -= 1;
          admitted.push(name);
        } else queue.putBack(waiter(name), clock.now(), '');
      },
      reject: () => undefined,
    });
    for (const name of ['a', 'b', 'c', 'd', 'e']) queue.offer(waiter(name));
    // One request ended and the backend left its cooldown: three slots at once.
    free = 3;
    queue.slotFreed(() => free > 0);
    expect(admitted).toEqual(['a', 'b', 'c']);
    expect(queue.length).toBe(2);
    // Room said to be there, but the waiter finds none (another took it): it goes back, and the
    // queue stops there instead of going round.
    let asked = 0;
    queue.slotFreed(() => (asked += 1) < 100);
    expect(admitted).toEqual(['a', 'b', 'c']);
    expect(queue.length).toBe(2);
    expect(asked).toBe(0);
  });

  it('turns a request away once it waited maxWaitMs, on its own timer', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const log = waiterLog(() => queue, clock);
    queue.offer(log.waiter());
    advance(10);
    queue.offer(log.waiter());
    advance(40);
    expect(log.rejected).toEqual([{ reason: 'queue_timeout', waited: 50 }]);
    advance(10);
    expect(log.rejected.map((r) => r.waited)).toEqual([50, 50]);
    expect(queue.length).toBe(0);
  });

  it('once it has not been empty for overloadedAfterMs, lets a request wait only overloadedWaitMs', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue({ ...settings, recheckMs: 1_000 }, clock); // deadlines only
    const log = waiterLog(() => queue, clock);
    // A request every 10 ms and no slot: the queue holds waiters from the first on.
    for (let ms = 0; ms < 400; ms += 10) {
      queue.offer(log.waiter());
      advance(10);
    }
    advance(50);
    // Until 200 ms every one waits its 50; those waiting then leave at 200 (none past 50), and
    // every later one after 20.
    expect(log.rejected.map((r) => r.waited)).toEqual([...Array<number>(16).fill(50), 40, 30, ...Array<number>(22).fill(20)]);
    expect(log.rejected.every((r) => r.reason === 'queue_timeout')).toBe(true);
    expect(queue.length).toBe(0);
  });

  it('keeps the whole bound for a queue that empties in between (bursts, not overload)', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue({ ...settings, recheckMs: 1_000 }, clock);
    const log = waiterLog(() => queue, clock);
    for (let ms = 0; ms < 400; ms += 60) {
      queue.offer(log.waiter());
      advance(60);
    }
    expect(log.rejected.map((r) => r.waited)).toEqual(Array<number>(7).fill(50));
  });

  it('with a bound longer than overloadedAfterMs, is overloaded only once it held waiters for the whole bound', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue({ ...settings, maxWaitMs: 1_000, recheckMs: 10_000 }, clock);
    const log = waiterLog(() => queue, clock);
    // Slow requests behind a full backend: a waiter at 0 and one at 100 ms, a slot at 300 ms.
    queue.offer(log.waiter());
    advance(100);
    queue.offer(log.waiter());
    advance(200);
    log.freeSlot();
    // Newest first (it stands): the second, after 200 ms, which 200 ms of overload would have refused.
    expect(log.admitted).toEqual([200]);
    expect(log.rejected).toEqual([]);
    // Held since 0, it is overloaded at 1 s: the first leaves at its bound, and one that came at
    // 950 ms leaves with it, after 50 ms rather than its second.
    advance(650);
    queue.offer(log.waiter());
    advance(100);
    expect(log.rejected.map((r) => r.waited)).toEqual([1_000, 50]);
    expect(queue.length).toBe(0);
  });

  it('refuses at once past maxLength', () => {
    const { clock } = testClock();
    const queue = new AdmissionQueue({ ...settings, maxLength: 1 }, clock);
    const log = waiterLog(() => queue, clock);
    expect(queue.offer(log.waiter())).toBeDefined();
    expect(queue.offer(log.waiter())).toBeUndefined();
  });

  it('looks for a slot every recheckMs while requests wait, and an admitted one that found none keeps its place', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const seen: string[] = [];
    let slotFree = false;
    const waiter = (name: string): QueueWaiter => ({
      admit: () => {
        seen.push(name);
        if (!slotFree) queue.putBack(waiter(name), name === 'a' ? 1_000 : 1_001);
      },
      reject: () => seen.push(`-${name}`),
    });
    queue.offer(waiter('a'));
    advance(1);
    queue.offer(waiter('b'));
    advance(5); // a recheck: 'a' tries, finds no slot, goes back first in line
    expect(seen).toEqual(['a']);
    slotFree = true;
    advance(5); // the oldest has waited past the target: newest first
    expect(seen).toEqual(['a', 'b']);
    expect(queue.length).toBe(1);
    advance(50);
    expect(seen).toEqual(['a', 'b', 'a']); // rechecks go on until it is served (or its bound)
  });

  it('skips a waiter whose client left', () => {
    const { clock } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const log = waiterLog(() => queue, clock);
    queue.offer(log.waiter())!.cancel();
    queue.offer(log.waiter());
    log.freeSlot();
    expect(log.admitted).toEqual([0]);
    expect(log.rejected).toEqual([]);
  });

  it('under sustained overload serves the newest: short waits for those served, the rest told long before the bound', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const log = waiterLog(() => queue, clock);
    // Two arrivals and one free slot every millisecond, for two seconds.
    for (let ms = 0; ms < 2_000; ms += 1) {
      queue.offer(log.waiter());
      queue.offer(log.waiter());
      log.freeSlot();
      advance(1);
    }
    // Every slot served someone: the fleet kept its capacity.
    expect(log.admitted).toHaveLength(2_000);
    // Once standing, those served waited next to nothing.
    expect(Math.max(...log.admitted.slice(50))).toBeLessThanOrEqual(1);
    // The rest were turned away once they were too far back to be served: half the slots of a
    // bound (50 ms x 1 per ms / 2 = 25 waiters), so after about 25 ms, not at the 50 ms bound.
    expect(log.rejected.length).toBeGreaterThan(1_900);
    expect(log.rejected.slice(100).every((r) => r.waited <= 26)).toBe(true);
    const overloaded = log.rejected.slice(-1_000);
    // ...and once it had not been empty for 200 ms (overloaded), after 20 ms at most.
    expect(overloaded.every((r) => r.reason === 'queue_timeout' && r.waited <= 20)).toBe(true);
    expect(queue.length).toBeLessThanOrEqual(26);
  });

  it('at five times the slots, the turned away learn it within a few ms, and every slot is still used', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const log = waiterLog(() => queue, clock);
    for (let ms = 0; ms < 2_000; ms += 1) {
      for (let i = 0; i < 5; i += 1) queue.offer(log.waiter());
      log.freeSlot();
      advance(1);
    }
    expect(log.admitted).toHaveLength(2_000);
    // Past its first maxWaitMs (it holds everything then, as it would a burst) and the backlog of it.
    expect(Math.max(...log.rejected.slice(1_000).map((r) => r.waited))).toBeLessThanOrEqual(7);
  });

  it('keeps a floor of waiters when few slots freed lately', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const log = waiterLog(() => queue, clock);
    // No slot frees at all; one waiter comes each ms.
    for (let ms = 0; ms < 100; ms += 1) {
      queue.offer(log.waiter());
      advance(1);
    }
    expect(queue.length).toBe(16);
    // The last 30 were turned away for room within 16 ms (it is full then: one in, one out).
    expect(log.rejected.slice(-30).every((r) => r.reason === 'queue_full' && r.waited <= 16)).toBe(true);
  });

  it('admits a burst that drains in time, newest first once its oldest waited past the target', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue({ ...settings, recheckMs: 1_000 }, clock); // no recheck in between
    const order: number[] = [];
    let free = 0;
    const waiter = (i: number, at: number): QueueWaiter => ({
      admit: () => {
        if (free === 0) return void queue.putBack(waiter(i, at), at);
        free -= 1;
        order.push(i);
      },
      reject: () => order.push(-1),
    });
    for (let i = 0; i < 10; i += 1) queue.offer(waiter(i, clock.now()));
    free = 1;
    queue.slotFreed(); // the oldest waited 0 ms: arrival order
    advance(6);
    free = 9;
    for (let i = 0; i < 9; i += 1) queue.slotFreed(); // now it stands: newest first
    expect(order).toEqual([0, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('keeps the waiters of bursts the slots drain: at one slot per ms, 40 within 8 ms of every 40 are all served', () => {
    const { clock, advance } = testClock();
    const queue = new AdmissionQueue(settings, clock);
    const log = waiterLog(() => queue, clock);
    for (let ms = 0; ms < 2_000; ms += 1) {
      if (ms % 40 < 8) for (let i = 0; i < 5; i += 1) queue.offer(log.waiter());
      log.freeSlot();
      advance(1);
    }
    expect(log.rejected).toEqual([]);
    expect(log.admitted).toHaveLength(2_000);
    expect(Math.max(...log.admitted)).toBeLessThan(settings.maxWaitMs);
  });

  describe('with clients told apart', () => {
    it('gives the lines turns, each in its own arrival order', () => {
      const { clock } = testClock();
      const queue = new AdmissionQueue(settings, clock);
      const order: string[] = [];
      const waiter = (name: string): QueueWaiter => ({ admit: () => order.push(name), reject: () => order.push(`-${name}`) });
      for (const name of ['a1', 'a2', 'a3']) queue.offer(waiter(name), 'a');
      queue.offer(waiter('b1'), 'b');
      for (let i = 0; i < 4; i += 1) queue.slotFreed();
      expect(order).toEqual(['a1', 'b1', 'a2', 'a3']);
    });

    it('serves a polite client whole beside one sending ten times the slots, and turns away only the greedy', () => {
      const { clock, advance } = testClock();
      const queue = new AdmissionQueue(settings, clock);
      const log = waiterLog(() => queue, clock);
      let politeOffered = 0;
      for (let ms = 0; ms < 2_000; ms += 1) {
        for (let i = 0; i < 10; i += 1) queue.offer(log.waiter(clock.now(), 'greedy'), 'greedy');
        // The polite one wants 40% of the slots.
        if (ms % 5 < 2) {
          queue.offer(log.waiter(clock.now(), 'polite'), 'polite');
          politeOffered += 1;
        }
        log.freeSlot();
        advance(1);
      }
      expect(log.admitted).toHaveLength(2_000);
      // All but the last few, still waiting when the run stops.
      expect(log.admittedPerClient.get('polite')).toBeGreaterThanOrEqual(politeOffered - 2);
      expect(log.rejected.filter((r) => r.client === 'polite')).toEqual([]);
      expect(log.admittedPerClient.get('greedy')).toBeGreaterThanOrEqual(2_000 - politeOffered);
    });

    it('a client that comes back after its line emptied gets a new turn, not two', () => {
      const { clock } = testClock();
      const queue = new AdmissionQueue(settings, clock);
      const order: string[] = [];
      const waiter = (name: string): QueueWaiter => ({ admit: () => order.push(name), reject: () => order.push(`-${name}`) });
      queue.offer(waiter('a1'), 'a')!.cancel();
      queue.offer(waiter('b1'), 'b');
      queue.offer(waiter('a2'), 'a');
      queue.offer(waiter('b2'), 'b');
      for (let i = 0; i < 3; i += 1) queue.slotFreed();
      expect(order).toEqual(['b1', 'a2', 'b2']);
      expect(queue.length).toBe(0);
    });
  });
});
