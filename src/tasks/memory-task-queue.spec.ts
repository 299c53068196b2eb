import { describe, expect, it } from '@jest/globals';
import { MemoryTaskQueue } from './memory-task-queue.js';
import type { TaskStatus, TaskUpdate } from './task.js';

function recorded(queue: MemoryTaskQueue): TaskUpdate[] {
  const updates: TaskUpdate[] = [];
  queue.onUpdate((update) => updates.push(update));
  return updates;
}

const statusesOf = (updates: TaskUpdate[], id: string): TaskStatus[] => updates.filter((u) => u.view.id === id).map((u) => u.view.status);

describe('MemoryTaskQueue', () => {
  it('queues, runs with ten progress reports, completes, and keeps the finished view', async () => {
    const queue = new MemoryTaskQueue(1);
    const updates = recorded(queue);
    const queued = await queue.add({ durationMs: 20, payload: { n: 1 }, clientId: 'carol' });
    expect(queued).toMatchObject({ status: 'queued', progress: 0, result: null, finishedAt: null });
    await queue.drain();
    const mine = updates.filter((u) => u.view.id === queued.id);
    expect(mine.every((u) => u.clientId === 'carol')).toBe(true);
    expect(mine.map((u) => u.view.progress)).toEqual([0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100]);
    expect(statusesOf(updates, queued.id)).toEqual(['queued', 'active', ...Array(10).fill('active'), 'completed']);
    const finished = await queue.get(queued.id);
    expect(finished).toMatchObject({ status: 'completed', progress: 100, result: { payload: { n: 1 } }, error: null });
    expect(Date.parse(finished!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(finished!.createdAt));
    expect(queue.pending()).toBeUndefined();
  });

  it('never runs more than its concurrency at once, and runs every task', async () => {
    const queue = new MemoryTaskQueue(2);
    const updates = recorded(queue);
    let active = 0;
    let peak = 0;
    queue.onUpdate(({ view }) => {
      if (view.status === 'active' && view.progress === 0) peak = Math.max(peak, ++active);
      if (view.status === 'completed') active -= 1;
    });
    const ids = await Promise.all(Array.from({ length: 5 }, () => queue.add({ durationMs: 10 }))).then((views) => views.map((v) => v.id));
    expect(queue.pending()).toBe('2 tasks active, 3 waiting (in memory)');
    await queue.drain();
    expect(peak).toBe(2);
    for (const id of ids) expect(statusesOf(updates, id).at(-1)).toBe('completed');
  });

  it('runs tasks in the order they were added', async () => {
    const queue = new MemoryTaskQueue(1);
    const started: string[] = [];
    queue.onUpdate(({ view }) => {
      if (view.status === 'active' && view.progress === 0) started.push(view.id);
    });
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push((await queue.add({ durationMs: 0 })).id);
    await queue.drain();
    expect(started).toEqual(ids);
  });

  it('drain resolves at once when idle, and only after the last task otherwise', async () => {
    const queue = new MemoryTaskQueue(1);
    await queue.drain();
    const { id } = await queue.add({ durationMs: 30 });
    await queue.drain();
    expect((await queue.get(id))?.status).toBe('completed');
  });

  it('answers undefined for an unknown id', async () => {
    expect(await new MemoryTaskQueue(1).get('nope')).toBeUndefined();
  });

  it('counts tasks by status and the oldest wait, and tells its observer when each starts and ends', async () => {
    const runs: string[] = [];
    const queue = new MemoryTaskQueue(1, {
      started: (createdAtMs, nowMs) => runs.push(`started after >= 0: ${nowMs - createdAtMs >= 0}`),
      finished: (outcome, runMs) => runs.push(`${outcome} in >= 20 ms: ${runMs >= 19}`),
    });
    expect(await queue.counts(Date.now())).toEqual({ queued: 0, active: 0, completed: 0, failed: 0, oldestQueuedMs: 0 });
    const first = await queue.add({ durationMs: 20 });
    await queue.add({ durationMs: 20 });
    await queue.add({ durationMs: 20 });
    // The first is running once the pump has run (a microtask after add).
    await Promise.resolve();
    const createdAt = Date.parse(first.createdAt);
    const counts = await queue.counts(createdAt + 5_000);
    expect(counts).toMatchObject({ queued: 2, active: 1, completed: 0, failed: 0 });
    expect(counts.oldestQueuedMs).toBeGreaterThanOrEqual(4_990);
    await queue.drain();
    expect(await queue.counts(Date.now())).toEqual({ queued: 0, active: 0, completed: 3, failed: 0, oldestQueuedMs: 0 });
    expect(runs).toEqual(Array(3).fill(['started after >= 0: true', 'completed in >= 20 ms: true']).flat());
  });
});
