import { describe, expect, it } from '@jest/globals';
import { accessLine, AccessLogPolicy, type AccessRecord } from './access-log.js';

describe('AccessLogPolicy', () => {
  const policy = (mode: 'off' | 'all' | 'errors', sampleSuccesses = 1, random = () => 0.5) =>
    new AccessLogPolicy({ mode, sampleSuccesses }, random);

  it('logs nothing when off', () => {
    expect(policy('off').enabled).toBe(false);
    expect(policy('off').wants(500, true)).toBe(false);
  });

  it('logs only errors and troubled requests in errors mode', () => {
    const errors = policy('errors');
    expect(errors.wants(200, false)).toBe(false);
    expect(errors.wants(302, false)).toBe(false);
    expect(errors.wants(404, false)).toBe(true);
    expect(errors.wants(499, false)).toBe(true);
    expect(errors.wants(503, false)).toBe(true);
    // A success after a failed attempt is worth a line: something went wrong on the way.
    expect(errors.wants(200, true)).toBe(true);
  });

  it('samples successes by the configured share, never errors', () => {
    const draws = [0.05, 0.2, 0.5, 0.95];
    let next = 0;
    const sampled = policy('all', 0.25, () => draws[next++]);
    expect(draws.map(() => sampled.wants(200, false))).toEqual([true, true, false, false]);
    expect(policy('all', 0, () => 0).wants(200, false)).toBe(false);
    expect(policy('all', 0, () => 0).wants(500, false)).toBe(true);
    expect(policy('all', 1, () => 0.999).wants(200, false)).toBe(true);
  });
});

describe('accessLine', () => {
  const record: AccessRecord = {
    requestId: 'r-1',
    startedAtMs: Date.parse('2026-12-01T10:00:00.000Z'),
    client: '10.0.0.7',
    method: 'GET',
    target: '/items/7?token=secret',
    status: 200,
    totalMs: 12.345,
    bytesIn: 0,
    bytesOut: 58,
    backend: 'http://10.0.0.2:8000',
    attempts: [
      { backend: 'http://10.0.0.1:8000', failure: 'connect' },
      { backend: 'http://10.0.0.2:8000', status: 200 },
    ],
    upstreamMs: 3.26,
  };

  it('is one JSON line with the arrival time, durations to 0.1 ms and no empty fields', () => {
    const text = accessLine(record, 'balancer', false);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trim().includes('\n')).toBe(false);
    expect(JSON.parse(text)).toEqual({
      time: '2026-12-01T10:00:00.000Z',
      log: 'access',
      role: 'balancer',
      requestId: 'r-1',
      client: '10.0.0.7',
      method: 'GET',
      path: '/items/7',
      status: 200,
      backend: 'http://10.0.0.2:8000',
      attempts: record.attempts,
      bytesIn: 0,
      bytesOut: 58,
      upstreamMs: 3.3,
      totalMs: 12.3,
    });
  });

  it('gives a service the address its proxy forwarded, right after its own peer', () => {
    const line = JSON.parse(accessLine({ ...record, client: '10.0.0.9', forwardedFor: '203.0.113.7' }, 'service', false));
    expect(line).toMatchObject({ client: '10.0.0.9', forwardedFor: '203.0.113.7' });
    expect(Object.keys(line).slice(3, 6)).toEqual(['requestId', 'client', 'forwardedFor']);
  });

  it('keeps the query only when asked to', () => {
    expect(JSON.parse(accessLine(record, 'service', true)).path).toBe('/items/7?token=secret');
    expect(JSON.parse(accessLine({ ...record, target: '/ping' }, 'service', false)).path).toBe('/ping');
  });

  it('stays one valid JSON line whatever a client put in its request id or path', () => {
    const hostile = { ...record, requestId: 'a"b\\c\nd', target: '/x"y\u2028z', method: 'GET' };
    const text = accessLine(hostile, 'balancer', true);
    expect(text.indexOf('\n')).toBe(text.length - 1);
    expect(JSON.parse(text)).toMatchObject({ requestId: 'a"b\\c\nd', path: '/x"y\u2028z' });
  });

  it('says why the balancer answered itself', () => {
    const line = JSON.parse(
      accessLine({ ...record, status: 503, backend: undefined, attempts: [], rejected: 'queue_timeout' }, 'balancer', false),
    );
    expect(line).toMatchObject({ status: 503, rejected: 'queue_timeout', attempts: [] });
    expect(line.backend).toBeUndefined();
  });
});
