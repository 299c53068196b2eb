import { performance } from 'node:perf_hooks';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../config/index.js';
import { ShutdownCoordinator } from './shutdown-coordinator.js';

function coordinator(env: Record<string, string> = {}): ShutdownCoordinator {
  return new ShutdownCoordinator(loadConfig({ LOG_LEVEL: 'silent', ...env }));
}

describe('ShutdownCoordinator', () => {
  it('accepts work until shutdown starts, then stops at once and tells listeners synchronously', () => {
    const c = coordinator();
    const told: string[] = [];
    c.onStopAccepting(() => told.push(c.phase));
    expect(c.accepting).toBe(true);
    void c.shutdown('SIGTERM', async () => undefined);
    expect(c.accepting).toBe(false);
    expect(told).toEqual(['delaying']);
  });

  it('runs the drain steps by order, then closes the server, and exits 0', async () => {
    const c = coordinator();
    const calls: string[] = [];
    c.registerDrainStep({ name: 'http', order: 100, run: async () => void calls.push('http') });
    c.registerDrainStep({ name: 'tasks', order: 10, run: async () => void calls.push('tasks') });
    c.registerDrainStep({ name: 'sockets', order: 20, run: async () => void calls.push('sockets') });
    const outcome = await c.shutdown('SIGTERM', async () => void calls.push(`close during ${c.phase}`));
    expect(calls).toEqual(['tasks', 'sockets', 'http', 'close during closing']);
    expect(outcome).toEqual({ code: 0, reason: 'drained', open: [] });
    expect(c.phase).toBe('stopped');
  });

  it('waits SHUTDOWN_DELAY_MS before draining', async () => {
    const c = coordinator({ SHUTDOWN_DELAY_MS: '150' });
    let drainedAt = 0;
    c.registerDrainStep({ name: 'probe', order: 1, run: async () => void (drainedAt = performance.now()) });
    const started = performance.now();
    await c.shutdown('SIGTERM', async () => undefined);
    expect(drainedAt - started).toBeGreaterThanOrEqual(140);
  });

  it('does not start a second shutdown on a second signal', async () => {
    const c = coordinator();
    let runs = 0;
    let closes = 0;
    let release!: () => void;
    c.registerDrainStep({ name: 'slow', order: 1, run: () => new Promise<void>((resolve) => ((release = resolve), runs++)) });
    const first = c.shutdown('SIGTERM', async () => void closes++);
    const second = c.shutdown('SIGINT', async () => void closes++);
    expect(second).toBe(first);
    await Promise.resolve();
    release();
    await first;
    expect({ runs, closes }).toEqual({ runs: 1, closes: 1 });
  });

  it('gives up after SHUTDOWN_GRACE_MS, exits 1 and says what was still open', async () => {
    const c = coordinator({ SHUTDOWN_GRACE_MS: '100' });
    c.registerDrainStep({ name: 'tasks', order: 1, run: () => new Promise(() => undefined), pending: () => '3 jobs active' });
    c.registerDrainStep({ name: 'idle', order: 2, run: async () => undefined, pending: () => undefined });
    const outcome = await c.shutdown('SIGTERM', async () => undefined);
    expect(outcome).toEqual({ code: 1, reason: 'grace_expired', open: ['waiting on drain step "tasks"', 'tasks: 3 jobs active'] });
  });

  it('names the closing phase when closing the server and modules is what hangs', async () => {
    const c = coordinator({ SHUTDOWN_GRACE_MS: '100' });
    c.registerDrainStep({ name: 'idle', order: 1, run: async () => undefined, pending: () => undefined });
    const outcome = await c.shutdown('SIGTERM', () => new Promise(() => undefined));
    expect(outcome).toEqual({
      code: 1,
      reason: 'grace_expired',
      open: ['closing: the HTTP server, module shutdown hooks and their connections'],
    });
  });

  it('exits 1 when closing the server fails', async () => {
    const c = coordinator();
    const outcome = await c.shutdown('SIGTERM', async () => {
      throw new Error('close failed');
    });
    expect(outcome.code).toBe(1);
    expect(outcome.reason).toBe('failed');
  });
});
