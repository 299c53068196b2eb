import { describe, expect, it } from '@jest/globals';
import { SilentWorkerWatch, type WorkerSample } from './silent-worker-watch.js';

const idle = (atMs: number, overrides: Partial<WorkerSample> = {}): WorkerSample => ({
  atMs,
  ready: 3,
  active: 0,
  concurrency: 4,
  lastStartedAtMs: undefined,
  ...overrides,
});

describe('SilentWorkerWatch', () => {
  it('calls a worker silent once jobs stood ready for the whole period while it had a free slot and started none', () => {
    const watch = new SilentWorkerWatch(3_000);
    expect(watch.observe(idle(0))).toBe(false);
    expect(watch.observe(idle(1_000))).toBe(false);
    expect(watch.observe(idle(2_999))).toBe(false);
    expect(watch.observe(idle(3_000))).toBe(true);
  });

  it('counts again from zero after it called the worker silent', () => {
    const watch = new SilentWorkerWatch(2_000);
    watch.observe(idle(0));
    expect(watch.observe(idle(2_000))).toBe(true);
    expect(watch.observe(idle(3_000))).toBe(false);
    expect(watch.observe(idle(4_999))).toBe(false);
    expect(watch.observe(idle(5_000))).toBe(true);
  });

  it('is not silent when nothing is ready to run', () => {
    const watch = new SilentWorkerWatch(1_000);
    for (let at = 0; at <= 10_000; at += 500) expect(watch.observe(idle(at, { ready: 0 }))).toBe(false);
  });

  it('is not silent when every slot is busy, however long jobs wait', () => {
    const watch = new SilentWorkerWatch(1_000);
    for (let at = 0; at <= 10_000; at += 500) expect(watch.observe(idle(at, { active: 4 }))).toBe(false);
  });

  it('is not silent while it keeps starting jobs, though others stay ready', () => {
    const watch = new SilentWorkerWatch(1_000);
    for (let at = 0; at <= 10_000; at += 500) expect(watch.observe(idle(at, { lastStartedAtMs: at - 100 }))).toBe(false);
  });

  it('counts from the last start: a worker that started a job, then stopped, is silent a period later', () => {
    const watch = new SilentWorkerWatch(2_000);
    watch.observe(idle(0));
    expect(watch.observe(idle(1_000, { lastStartedAtMs: 500 }))).toBe(false);
    expect(watch.observe(idle(2_000, { lastStartedAtMs: 500 }))).toBe(false);
    expect(watch.observe(idle(2_999, { lastStartedAtMs: 500 }))).toBe(false);
    expect(watch.observe(idle(3_000, { lastStartedAtMs: 500 }))).toBe(true);
  });

  it('starts the count again when a look could not be taken or the queue emptied in between', () => {
    const watch = new SilentWorkerWatch(2_000);
    watch.observe(idle(0));
    watch.reset();
    expect(watch.observe(idle(1_000))).toBe(false);
    expect(watch.observe(idle(2_000, { ready: 0 }))).toBe(false);
    expect(watch.observe(idle(3_000))).toBe(false);
    expect(watch.observe(idle(4_999))).toBe(false);
    expect(watch.observe(idle(5_000))).toBe(true);
  });
});
