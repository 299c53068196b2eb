import { describe, expect, it } from '@jest/globals';
import { LatencyWindow } from './latency-window.js';
import { TokenBucket } from './token-bucket.js';
import { InvalidInputError } from '../errors/index.js';
import { pickBehaviour, profileFromQuery, type WorkProfile } from './work-simulator.js';

describe('TokenBucket', () => {
  it('grants whole tokens up to what it holds, counts spent and refused, and refills to capacity', () => {
    const bucket = new TokenBucket(3, 0.5);
    expect(bucket.take(2)).toBe(2);
    expect(bucket.take(2)).toBe(1);
    expect(bucket.take(2)).toBe(0);
    expect({ spent: bucket.spent, refused: bucket.refused }).toEqual({ spent: 3, refused: 3 });
    bucket.earn();
    expect(bucket.take(1)).toBe(0); // 0.5 is not a whole token
    bucket.earn();
    expect(bucket.take(1)).toBe(1);
    for (let i = 0; i < 20; i += 1) bucket.earn();
    expect(bucket.tokens).toBe(3);
  });
});

describe('LatencyWindow', () => {
  it('answers nearest-rank percentiles over the last N samples', () => {
    const window = new LatencyWindow(100);
    expect(window.percentile(95)).toBeUndefined();
    for (let ms = 1; ms <= 100; ms += 1) window.record(ms);
    expect(window.percentile(95)).toBe(95);
    expect(window.percentile(50)).toBe(50);
    expect(window.percentile(100)).toBe(100);
    for (let i = 0; i < 100; i += 1) window.record(1000); // the old samples roll out
    expect(window.percentile(50)).toBe(1000);
    expect(window.count).toBe(100);
  });
});

describe('pickBehaviour', () => {
  const profile: WorkProfile = {
    minMs: 100,
    maxMs: 600,
    hangRate: 1 / 11,
    errorRate: 1 / 11,
    invalidRate: 1 / 11,
    tailRate: 0,
    tailMs: 1000,
  };
  const sequence = (...values: number[]) => {
    let i = 0;
    return () => values[i++];
  };

  it('maps the rolls to behaviours', () => {
    expect(pickBehaviour(profile, sequence(0.5, 0.01))).toEqual({ kind: 'hang' });
    expect(pickBehaviour(profile, sequence(0, 0.1))).toEqual({ kind: 'error', delayMs: 100 });
    expect(pickBehaviour(profile, sequence(1, 0.2))).toEqual({ kind: 'invalid_json', delayMs: 600 });
    expect(pickBehaviour(profile, sequence(0.5, 0.9, 0.5))).toEqual({ kind: 'ok', delayMs: 350 });
    expect(pickBehaviour({ ...profile, tailRate: 0.01 }, sequence(0.5, 0.9, 0.001))).toEqual({ kind: 'ok', delayMs: 1000 });
  });

  it('fails about 3 in 11 over many draws', () => {
    // A seeded generator (mulberry32): the same draws every run, so the bounds cannot flake.
    let seed = 0x2f6b3c1d;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let failures = 0;
    for (let i = 0; i < 20_000; i += 1) if (pickBehaviour(profile, random).kind !== 'ok') failures += 1;
    expect(failures / 20_000).toBeGreaterThan(0.25);
    expect(failures / 20_000).toBeLessThan(0.3);
  });
});

describe('profileFromQuery', () => {
  const defaults: WorkProfile = { minMs: 100, maxMs: 600, hangRate: 0.1, errorRate: 0.1, invalidRate: 0.1, tailRate: 0, tailMs: 1000 };
  const reason = (query: Record<string, string>) => {
    try {
      profileFromQuery(defaults, query);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('overrides the configured knobs with the query and keeps the rest', () => {
    expect(profileFromQuery(defaults, { min: '0', max: '5', hang: '0', error: '1', invalid: '0' })).toEqual({
      ...defaults,
      minMs: 0,
      maxMs: 5,
      hangRate: 0,
      errorRate: 1,
      invalidRate: 0,
    });
  });

  it('names the unknown parameter, the value out of range and the inconsistent pair', () => {
    expect(reason({ speed: '1' })).toBe('unknown parameter "speed"');
    expect(reason({ hang: '2' })).toBe('hang must be a number from 0 to 1');
    expect(reason({ max: '' })).toBe('max must be a number from 0 to 600000');
    expect(reason({ min: '700', max: '600' })).toBe('min must be <= max');
    expect(reason({ hang: '0.5', error: '0.5', invalid: '0.5' })).toBe('hang + error + invalid must be <= 1');
  });
});
