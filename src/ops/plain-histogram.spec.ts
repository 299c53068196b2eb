import { describe, expect, it } from '@jest/globals';
import { Histogram, Registry } from 'prom-client';
import { PlainHistogram } from './plain-histogram.js';

describe('PlainHistogram', () => {
  const bounds = [0.01, 0.1, 1];
  const observations = [0.005, 0.01, 0.05, 0.5, 0.5, 3];

  it('exposes exactly what prom-client’s own Histogram exposes for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const plain = new PlainHistogram('x_seconds', 'X', bounds, 'backend', ours);
    const reference = new Histogram({ name: 'x_seconds', help: 'X', buckets: bounds, labelNames: ['backend'], registers: [theirs] });
    for (const value of observations) {
      plain.seriesFor('a').observe(value);
      reference.observe({ backend: 'a' }, value);
    }
    plain.seriesFor('b').observe(0.2);
    reference.observe({ backend: 'b' }, 0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('works without a label', async () => {
    const registry = new Registry();
    const plain = new PlainHistogram('y_seconds', 'Y', bounds, undefined, registry);
    plain.seriesFor().observe(0.05);
    const text = await registry.metrics();
    expect(text).toContain('y_seconds_bucket{le="0.01"} 0');
    expect(text).toContain('y_seconds_bucket{le="0.1"} 1');
    expect(text).toContain('y_seconds_bucket{le="+Inf"} 1');
    expect(text).toContain('y_seconds_count 1');
  });

  it('says nothing before its first observation', async () => {
    const registry = new Registry();
    new PlainHistogram('z_seconds', 'Z', bounds, 'backend', registry);
    expect(await registry.metrics()).toBe('# HELP z_seconds Z\n# TYPE z_seconds histogram\n');
  });
});
