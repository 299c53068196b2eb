import { describe, expect, it } from '@jest/globals';
import { LoadHysteresis } from './load-hysteresis.js';

function arriveTimes(h: LoadHysteresis, n: number): void {
  for (let i = 0; i < n; i += 1) h.arrive();
}

describe('LoadHysteresis', () => {
  it('starts idle and ready', () => {
    expect(new LoadHysteresis(3, 4).snapshot()).toEqual({
      clients: 0,
      cooldown: false,
      ready: true,
      minClients: 3,
      maxClients: 4,
    });
  });

  it('stays ready below MAX', () => {
    const h = new LoadHysteresis(3, 4);
    expect([h.arrive(), h.arrive(), h.arrive()]).toEqual(['none', 'none', 'none']);
    expect(h.snapshot()).toMatchObject({ clients: 3, cooldown: false, ready: true });
  });

  it('enters cooldown when clients reach MAX', () => {
    const h = new LoadHysteresis(3, 4);
    arriveTimes(h, 3);
    expect(h.arrive()).toBe('entered');
    expect(h.snapshot()).toMatchObject({ clients: 4, cooldown: true, ready: false });
  });

  it('reports entering only once while above MAX', () => {
    const h = new LoadHysteresis(3, 4);
    arriveTimes(h, 4);
    expect(h.arrive()).toBe('none');
    expect(h.snapshot()).toMatchObject({ clients: 5, cooldown: true });
  });

  it('stays in cooldown at MIN and leaves only below it (the seed scenario)', () => {
    const h = new LoadHysteresis(3, 4);
    arriveTimes(h, 4);
    expect(h.leave()).toBe('none');
    expect(h.snapshot()).toMatchObject({ clients: 3, cooldown: true, ready: false });
    expect(h.leave()).toBe('left');
    expect(h.snapshot()).toMatchObject({ clients: 2, cooldown: false, ready: true });
  });

  it('does not re-enter cooldown until MAX again', () => {
    const h = new LoadHysteresis(2, 4);
    arriveTimes(h, 4);
    h.leave();
    h.leave();
    h.leave(); // 1 < 2: out
    expect(h.arrive()).toBe('none');
    expect(h.arrive()).toBe('none');
    expect(h.snapshot()).toMatchObject({ clients: 3, cooldown: false, ready: true });
    expect(h.arrive()).toBe('entered');
  });

  it('with MIN = MAX behaves as a plain threshold', () => {
    const h = new LoadHysteresis(4, 4);
    arriveTimes(h, 3);
    expect(h.ready).toBe(true);
    expect(h.arrive()).toBe('entered');
    expect(h.ready).toBe(false);
    expect(h.leave()).toBe('left');
    expect(h.snapshot()).toMatchObject({ clients: 3, cooldown: false, ready: true });
  });

  it('with MIN = MAX = 1 is busy whenever anyone is in flight', () => {
    const h = new LoadHysteresis(1, 1);
    expect(h.arrive()).toBe('entered');
    expect(h.leave()).toBe('left');
    expect(h.ready).toBe(true);
  });

  it('refuses a departure without an arrival, so a leak cannot go negative', () => {
    const h = new LoadHysteresis(3, 4);
    expect(() => h.leave()).toThrow(/without a matching arrive/);
    expect(h.clients).toBe(0);
  });

  it.each([
    [0, 4],
    [5, 4],
    [1.5, 4],
    [3, Number.NaN],
  ])('rejects min=%p max=%p', (min, max) => {
    expect(() => new LoadHysteresis(min, max)).toThrow(RangeError);
  });

  it('matches a reference model on every arrive/leave sequence up to 12 steps, for every MIN <= MAX <= 4', () => {
    // Exhaustive over a small space instead of random over a large one: every path through
    // enter, stay and leave is covered, and a mismatch names the exact sequence. Comparing
    // by hand and asserting once keeps the 40k sequences fast.
    const STEPS = 12;
    const mismatches: string[] = [];
    for (let max = 1; max <= 4; max += 1) {
      for (let min = 1; min <= max; min += 1) {
        for (let bits = 0; bits < 2 ** STEPS; bits += 1) {
          const h = new LoadHysteresis(min, max);
          let clients = 0;
          let cooldown = false;
          const path: string[] = [];
          for (let step = 0; step < STEPS; step += 1) {
            // Bit set: a departure (when anyone is in flight); else an arrival.
            const leaving = ((bits >> step) & 1) === 1 && clients > 0;
            const wasCooldown = cooldown;
            let expected: string;
            let actual: string;
            if (leaving) {
              clients -= 1;
              if (cooldown && clients < min) cooldown = false;
              expected = wasCooldown && !cooldown ? 'left' : 'none';
              actual = h.leave();
              path.push('-');
            } else {
              clients += 1;
              if (clients >= max) cooldown = true;
              expected = !wasCooldown && cooldown ? 'entered' : 'none';
              actual = h.arrive();
              path.push('+');
            }
            const ready = !cooldown && clients < max;
            if (actual !== expected || h.clients !== clients || h.cooldown !== cooldown || h.ready !== ready) {
              mismatches.push(`min=${min} max=${max} ${path.join('')}: got ${actual}/${h.clients}/${h.cooldown}/${h.ready}`);
              break;
            }
          }
          if (mismatches.length > 5) break;
        }
      }
    }
    expect(mismatches).toEqual([]);
  });
});
