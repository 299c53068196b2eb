import { describe, expect, it } from '@jest/globals';
import { formatLoadReport, parseLoadReport } from './load-report.js';

describe('load report (x-ballast-load)', () => {
  it('reads back what a service writes', () => {
    const load = { clients: 7, maxClients: 8, minClients: 6, cooldown: true };
    expect(formatLoadReport(load, true, true)).toBe('7/8;min=6;cooldown;shed;draining');
    expect(parseLoadReport(formatLoadReport(load, true, true))).toEqual({ ...load, shed: true, draining: true, localTasks: false });
    expect(formatLoadReport(load, false, false, true)).toBe('7/8;min=6;cooldown;local-tasks');
    expect(parseLoadReport(formatLoadReport(load, false, false, true))?.localTasks).toBe(true);
    expect(parseLoadReport(formatLoadReport({ ...load, cooldown: false }, false))).toEqual({
      clients: 7,
      maxClients: 8,
      minClients: 6,
      cooldown: false,
      shed: false,
      draining: false,
      localTasks: false,
    });
  });

  it.each([undefined, '', 'x', '7', '7/8', '7/8;max=6', '-1/8;min=1', 'a/8;min=1', '7/0;min=1'])('ignores %j', (value) => {
    expect(parseLoadReport(value)).toBeUndefined();
  });

  it('takes the first of repeated headers', () => {
    expect(parseLoadReport(['1/4;min=3', '9/9;min=9'])?.clients).toBe(1);
  });
});
