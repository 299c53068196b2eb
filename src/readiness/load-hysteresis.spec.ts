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

  it('matches a reference model over random sequences', () => {
    // A small deterministic PRNG keeps failures reproducible.
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 200; run += 1) {
      const max = 1 + Math.floor(random() * 6);
      const min = 1 + Math.floor(random() * max);
      const h = new LoadHysteresis(min, max);
      let clients = 0;
      let cooldown = false;
      for (let step = 0; step < 300; step += 1) {
        if (clients > 0 && random() < 0.5) {
          clients -= 1;
          const wasCooldown = cooldown;
          if (cooldown && clients < min) cooldown = false;
          expect(h.leave()).toBe(wasCooldown && !cooldown ? 'left' : 'none');
        } else {
          clients += 1;
          const wasCooldown = cooldown;
          if (clients >= max) cooldown = true;
          expect(h.arrive()).toBe(!wasCooldown && cooldown ? 'entered' : 'none');
        }
        expect(h.snapshot()).toEqual({
          clients,
          cooldown,
          ready: !cooldown && clients < max,
          minClients: min,
          maxClients: max,
        });
      }
    }
  });
});
