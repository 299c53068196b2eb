import { describe, expect, it } from '@jest/globals';
import type { Backend } from './backend.js';
import { BackendPool } from './backend-pool.js';
import { WorkerShares } from './worker-shares.js';

const eject = (backend: Backend, untilMs: number) => (backend.ejectedUntil = untilMs);

const urls = ['http://a:1', 'http://b:1', 'http://c:1', 'http://d:1'];
const names = (pool: BackendPool, n: number, now = 0) => Array.from({ length: n }, () => pool.pick(now)?.url.slice(7, 8) ?? '-').join('');

describe('BackendPool round robin', () => {
  it('cycles in order and repeats', () => {
    expect(names(new BackendPool(urls), 6)).toBe('abcdab');
  });

  it('skips ejected backends without moving past the next healthy one, and takes them back after the downtime', () => {
    const pool = new BackendPool(urls);
    eject(pool.byUrl('http://b:1')!, 1000);
    expect(names(pool, 6, 10)).toBe('acdacd');
    expect(pool.unavailability(10)).toMatchObject({ total: 4, ejected: 1, busy: 0, probing: 0, full: 0, firstReturnMs: 1000 });
    expect(names(pool, 4, 1000)).toBe('abcd');
  });

  it('skips unready backends but uses them all when none is ready (panic floor)', () => {
    const pool = new BackendPool(urls);
    pool.byUrl('http://c:1')!.ready = false;
    expect(names(pool, 6)).toBe('abdabd');
    for (const backend of pool.backends) backend.ready = false;
    expect(names(pool, 4)).toBe('abcd');
  });

  it('counts why backends are unavailable: ejected, busy, or probing with the probe in flight', () => {
    const pool = new BackendPool(urls);
    const [a, b, c] = pool.backends;
    eject(a, 3000);
    b.busyUntil = 2000;
    c.halfOpen = true;
    c.probeInFlight = true;
    expect(pool.unavailability(100)).toEqual({ total: 4, ejected: 1, busy: 1, probing: 1, full: 0, firstReturnMs: 2000, busyUntil: 2000 });
    c.probeInFlight = false; // its probe answered: available again
    expect(pool.unavailability(2500)).toEqual({
      total: 4,
      ejected: 1,
      busy: 0,
      probing: 0,
      full: 0,
      firstReturnMs: 3000,
      busyUntil: undefined,
    });
  });

  it('reports panic only while every available backend is unready', () => {
    const pool = new BackendPool(urls);
    expect(pool.inPanic(0)).toBe(false);
    for (const backend of pool.backends.slice(1)) backend.ready = false;
    expect(pool.inPanic(0)).toBe(false); // a still takes the traffic
    eject(pool.byUrl('http://a:1')!, 100);
    expect(pool.inPanic(50)).toBe(true);
    for (const backend of pool.backends) eject(backend, 100);
    expect(pool.inPanic(50)).toBe(false); // nothing available at all: no floor to fall to
  });

  it('names the worst state of each backend for the status views', () => {
    const [a] = new BackendPool(['http://a:1']).backends;
    expect(a.state(0)).toBe('up');
    a.ready = false;
    expect(a.state(0)).toBe('unready');
    a.halfOpen = true;
    expect(a.state(0)).toBe('probing');
    a.busyUntil = 10;
    expect(a.state(0)).toBe('busy');
    a.ejectedUntil = 20;
    expect(a.state(0)).toBe('ejected');
    expect(a.state(20)).toBe('probing');
  });

  it('never picks an ejected backend, even in panic', () => {
    const pool = new BackendPool(urls);
    for (const backend of pool.backends) backend.ready = false;
    eject(pool.byUrl('http://a:1')!, 100);
    expect(names(pool, 3, 50)).toBe('bcd');
  });

  it('answers undefined when everything is ejected, and excludes tried backends', () => {
    const pool = new BackendPool(urls);
    const tried = new Set(pool.backends.slice(0, 3));
    expect(pool.pick(0, tried)?.url).toBe('http://d:1');
    tried.add(pool.backends[3]);
    expect(pool.pick(0, tried)).toBeUndefined();
    for (const backend of pool.backends) eject(backend, 100);
    expect(pool.pick(50)).toBeUndefined();
  });

  it('keeps state of surviving backends when the list is replaced', () => {
    const pool = new BackendPool(urls);
    pool.byUrl('http://b:1')!.requests = 7;
    expect(pool.replace(['http://b:1', 'http://e:1'])).toEqual({
      added: ['http://e:1'],
      removed: ['http://a:1', 'http://c:1', 'http://d:1'],
    });
    expect(pool.byUrl('http://b:1')!.requests).toBe(7);
    expect(pool.backends.map((b) => b.url)).toEqual(['http://b:1', 'http://e:1']);
  });
});

describe('BackendPool least-latency (P2C on peak EWMA)', () => {
  it('prefers the cheaper of two random choices', () => {
    let n = 0;
    const sequence = [0, 0]; // first = a, second = b
    const pool = new BackendPool(urls.slice(0, 2), 'least-latency', () => sequence[n++ % 2]);
    pool.byUrl('http://a:1')!.latency.observe(100, 0);
    pool.byUrl('http://b:1')!.latency.observe(5, 0);
    expect(pool.pick(0)?.url).toBe('http://b:1');
    pool.byUrl('http://b:1')!.inFlight = 50;
    expect(pool.pick(0)?.url).toBe('http://a:1');
  });

  it('sends most traffic away from a slow backend', () => {
    const pool = new BackendPool(urls, 'least-latency');
    pool.byUrl('http://d:1')!.latency.observe(500, 0);
    for (const url of urls.slice(0, 3)) pool.byUrl(url)!.latency.observe(5, 0);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i += 1) {
      const url = pool.pick(0)!.url;
      counts[url] = (counts[url] ?? 0) + 1;
    }
    expect(counts['http://d:1'] ?? 0).toBe(0); // d loses every comparison it is drawn into
    expect(Object.keys(counts)).toHaveLength(3);
  });
});

describe('BackendPool slow start', () => {
  it('gives a backend that joins a serving fleet a share that ramps from 10% to full over the window', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const pool = new BackendPool(urls.slice(0, 2), 'round-robin', random, 10_000);
    pool.replace([...urls.slice(0, 2), 'http://c:1'], 1_000);
    const shareOfC = (now: number) => {
      let c = 0;
      for (let i = 0; i < 3_000; i += 1) if (pool.pick(now)?.url === 'http://c:1') c += 1;
      return c / 3_000;
    };
    expect(shareOfC(1_000)).toBeLessThan(0.08); // a full share would be a third
    expect(shareOfC(6_000)).toBeGreaterThan(0.12);
    expect(shareOfC(6_000)).toBeLessThan(0.28);
    expect(shareOfC(11_000)).toBeCloseTo(1 / 3, 1);
  });

  it('starts a fresh balancer with every backend at its full share, and never refuses for warming alone', () => {
    const pool = new BackendPool(['http://a:1'], 'round-robin', () => 0.99, 10_000);
    expect(pool.backends[0].weight(0, 10_000)).toBe(1);
    pool.replace(['http://a:1', 'http://b:1'], 1_000);
    pool.byUrl('http://a:1')!.ejectedUntil = 2_000;
    // Only the warming one is left: it takes the request rather than none doing so.
    expect(pool.pick(1_500)?.url).toBe('http://b:1');
  });
});

describe('Backend load reports', () => {
  const report = (clients: number, cooldown = false) => ({
    clients,
    maxClients: 8,
    minClients: 6,
    cooldown,
    shed: true,
    draining: false,
    localTasks: false,
  });

  it('fills a shedding backend up to its MAX, counting its own in-flight requests and the others reported', () => {
    const [b] = new BackendPool(['http://b:1']).backends;
    b.inFlight = 2;
    b.observeLoad(report(5), 1_000, 2); // 3 clients of others'
    expect(b.estimatedClients(1_000)).toBe(5);
    expect(b.hasFreeSlot(1_000)).toBe(true);
    b.inFlight = 4;
    expect(b.hasFreeSlot(1_000)).toBe(true); // 4 + 3 = 7: the 8th is served (and puts it in cooldown)
    expect(b.hasFreeSlot(1_000, false)).toBe(false); // ...a slot kept for when requests wait
    b.inFlight = 5;
    expect(b.hasFreeSlot(1_000)).toBe(false); // 5 + 3 = 8 = MAX
    // Others' requests end within about a service time: their share fades out.
    expect(b.hasFreeSlot(1_000 + 1_000)).toBe(true);
  });

  it("holds the others' reported clients for a service time while none wait here (they refill their slots), then fades them out", () => {
    const [b] = new BackendPool(['http://b:1']).backends;
    b.inFlight = 2;
    b.observeLoad(report(5), 1_000, 2); // 3 of others'; no latency known yet: a service time of 10 ms
    expect(b.estimatedClients(1_009, true)).toBe(5);
    expect(b.estimatedClients(1_015, true)).toBe(4); // half faded: 1.5 of theirs, rounded up
    expect(b.estimatedClients(1_020, true)).toBe(2);
    // While requests wait here, they fade from the report on.
    expect(b.estimatedClients(1_005)).toBe(4);
    b.inFlight = 4;
    expect(b.hasFreeSlot(1_009, false)).toBe(false); // 4 + 3 held = 7: no room short of MAX
    expect(b.hasFreeSlot(1_009, true)).toBe(true); // requests wait: 4 + ceil(3 x 0.1) = 5 < MAX 8
    b.inFlight = 2;
    // Ours the report missed (one more fits) fade from the start.
    b.observeLoad(report(1), 2_000, 2);
    expect(b.estimatedClients(2_000)).toBe(1);
    expect(b.estimatedClients(2_010)).toBe(2);
  });

  it("takes a clientId's new tasks and sockets while up, not once ejected, unready or draining", () => {
    const [b] = new BackendPool(['http://b:1']).backends;
    b.observeLoad({ ...report(1), localTasks: true }, 1_000, 0);
    expect([b.keepsTasksLocally, b.takesStickyClients(1_000)]).toEqual([true, true]);
    b.ejectedUntil = 2_000;
    expect([b.takesStickyClients(1_500), b.takesStickyClients(2_000)]).toEqual([false, true]);
    b.ready = false;
    expect(b.takesStickyClients(2_000)).toBe(false);
    b.ready = true;
    b.observeLoad({ ...report(1), draining: true, localTasks: true }, 2_000, 0);
    expect(b.takesStickyClients(2_500)).toBe(false);
    b.busyUntil = 4_000;
    expect(b.takesStickyClients(3_500)).toBe(true); // draining report aged out; busy is no reason to move
  });

  it('in cooldown waits for the backend to say its clients dropped below MIN', () => {
    const [b] = new BackendPool(['http://b:1']).backends;
    b.observeLoad(report(8, true), 1_000, 0);
    expect(b.hasFreeSlot(1_050)).toBe(false); // no fading in cooldown
    expect(b.hasFreeSlot(3_000)).toBe(true); // the report aged out
    b.observeLoad(report(5), 3_000, 0);
    expect(b.hasFreeSlot(3_000)).toBe(true);
  });

  it('knows a cooldown is over when the answer it came with takes the backend below MIN, not a report later', () => {
    const [b, c] = new BackendPool(['http://b:1', 'http://c:1']).backends;
    // 6 clients in cooldown, this answer's request among them: it leaves, 5 < MIN 6.
    b.inFlight = 5;
    b.observeLoad(report(6, true), 1_000, 6, true);
    expect(b.hasFreeSlot(1_000)).toBe(true);
    // 7 in cooldown: one leaving leaves 6, still in cooldown.
    c.inFlight = 5;
    c.observeLoad(report(7, true), 1_000, 6, true);
    expect(c.hasFreeSlot(1_000)).toBe(false);
    // A probe's report (no client of its own leaving) says only what it says.
    c.inFlight = 5;
    c.observeLoad(report(6, true), 1_000, 5);
    expect(c.hasFreeSlot(1_000)).toBe(false);
    // With others' clients there, it waits for the backend's word: they would refill it too.
    b.inFlight = 4;
    b.observeLoad(report(6, true), 1_000, 4, true); // 2 of others'
    expect(b.hasFreeSlot(1_000)).toBe(false); // 4 + 2 = 6, not below MIN
  });

  describe('while another worker of the balancer has requests waiting too', () => {
    /** This worker (1) and another (2), equal arrivals: each gets half of a backend's slots (3 or 5 of 8 here, 3 of 6). */
    const contended = () => {
      const shares = new WorkerShares(1);
      shares.toldOthers(10);
      shares.heard(2, true, 10, 1_000);
      return shares;
    };

    it('keeps to its share, however much room the report shows', () => {
      const shares = contended();
      const [b] = new BackendPool(['http://b:1']).backends;
      const share = shares.capAt(0, 8, 1_000);
      b.inFlight = share;
      b.observeLoad(report(share), 1_000, share); // none of the others'
      expect(b.hasFreeSlot(1_000)).toBe(true); // alone, it would fill the backend
      expect(b.hasFreeSlot(1_000, true, shares, 0)).toBe(false);
      b.inFlight = share - 1;
      expect(b.hasFreeSlot(1_000, true, shares, 0)).toBe(true);
    });

    it('takes the others to hold their share as they refill it: their count fades only down to it', () => {
      const shares = contended();
      const [b] = new BackendPool(['http://b:1']).backends;
      const share = shares.capAt(0, 8, 1_000);
      const theirs = 8 - share;
      b.inFlight = share - 1;
      b.observeLoad(report(share - 1 + theirs + 1), 1_000, share - 1); // one above their share
      expect(b.hasFreeSlot(1_000, true, shares, 0)).toBe(false); // 8 now
      // Alone it would count their clients out over a service time, and overshoot.
      expect(b.hasFreeSlot(1_900)).toBe(true);
      expect(b.hasFreeSlot(1_900, true, shares, 0)).toBe(true); // their extra one ended, not refilled
      b.inFlight = share;
      expect(b.hasFreeSlot(1_900, true, shares, 0)).toBe(false);
    });

    it('in cooldown takes its share of the slots below MIN, and all its share once an answer says the cooldown ended', () => {
      const shares = contended();
      const [b] = new BackendPool(['http://b:1']).backends;
      const cooldownShare = shares.capAt(0, 6, 1_000);
      b.inFlight = cooldownShare;
      b.observeLoad(report(8, true), 1_000, cooldownShare + 1);
      expect(b.hasFreeSlot(1_000, true, shares, 0)).toBe(false);
      // Its own client leaves, taking it to 5: the others' clients are still there, but each
      // refills only its share, so this worker may take its whole share again.
      b.inFlight = cooldownShare - 1;
      b.observeLoad(report(6, true), 1_100, cooldownShare, true);
      expect(b.reported?.cooldown).toBe(true);
      expect(b.hasFreeSlot(1_100, true, shares, 0)).toBe(true);
    });

    it('takes its cooldown as over once the clients it reported are done (a service time, at least 50 ms), having none there to hear it from', () => {
      const shares = contended();
      const [b] = new BackendPool(['http://b:1']).backends;
      const cooldownShare = shares.capAt(0, 6, 1_000);
      const share = shares.capAt(0, 8, 1_000);
      b.inFlight = cooldownShare;
      b.observeLoad(report(8, true), 1_000, 0); // refused: all 8 taken as others'
      expect(b.hasFreeSlot(1_040, true, shares, 0)).toBe(false);
      // Past 50 ms: the others hold their share of MAX, this worker may fill its own.
      for (b.inFlight = cooldownShare; b.inFlight < share; b.inFlight += 1) expect(b.hasFreeSlot(1_051, true, shares, 0)).toBe(true);
      expect(b.hasFreeSlot(1_051, true, shares, 0)).toBe(false);
    });

    it('says which share it keeps to (the status view): of MAX, of MIN in cooldown, none when alone or the report is stale', () => {
      const shares = contended();
      const [b] = new BackendPool(['http://b:1']).backends;
      expect(b.shareOfSlots(1_000, shares, 0)).toBeUndefined(); // no report: no limit to split
      b.observeLoad(report(4), 1_000, 2);
      expect(b.shareOfSlots(1_000, shares, 0)).toEqual({ slots: 8, share: shares.capAt(0, 8, 1_000) });
      b.observeLoad(report(8, true), 1_000, 2);
      expect(b.shareOfSlots(1_000, shares, 0)).toEqual({ slots: 6, share: shares.capAt(0, 6, 1_000) });
      expect(b.shareOfSlots(2_001, shares, 0)).toBeUndefined(); // the report and the other's word lapsed
      expect(b.shareOfSlots(1_000, new WorkerShares(1), 0)).toBeUndefined(); // no other worker waits
    });
  });

  it('gives a draining backend nothing, and a backend without reports no limit', () => {
    const [b, c] = new BackendPool(['http://b:1', 'http://c:1']).backends;
    b.observeLoad({ ...report(0), draining: true }, 1_000, 0);
    expect(b.hasFreeSlot(1_000)).toBe(false);
    c.inFlight = 10_000;
    expect(c.hasFreeSlot(1_000)).toBe(true);
  });
});
