import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskFinishedError, TaskNotFailedError, TaskNotFoundError } from '../errors/index.js';
import { MemoryTaskQueue, type AttemptRunner } from './memory-task-queue.js';
import type { TaskSpec, TaskStatus, TaskUpdate } from './task.js';
import type { RunOutcome } from './task-runner.js';

/** A stand-in for TaskRunner: works `ms` in two progress steps, fails while `fail` says so, honours the signal. */
interface Work {
  ms?: number;
  fail?: (attempt: number) => boolean;
  permanent?: boolean;
}
const runner: AttemptRunner = {
  async run(task, abort, progress): Promise<RunOutcome> {
    const work = task.input as Work;
    try {
      for (const step of [50, 100]) {
        await sleep((work.ms ?? 0) / 2, undefined, { signal: abort.signal });
        progress(step);
      }
    } catch {
      return { kind: 'cancelled' };
    }
    if (work.fail?.(task.attempt))
      return { kind: 'failed', error: `boom ${task.attempt}`, retry: !work.permanent && task.attempt < task.attempts };
    return { kind: 'completed', result: { attempt: task.attempt } };
  },
};

let next = 0;
const spec = (input: Work, change: Partial<TaskSpec> = {}): TaskSpec => ({
  id: `t${next++}`,
  type: 'work',
  input,
  priority: 0,
  retry: { attempts: 1, backoffMs: 0, backoffMaxMs: 0 },
  ...change,
});

function recorded(queue: MemoryTaskQueue): TaskUpdate[] {
  const updates: TaskUpdate[] = [];
  queue.onUpdate((update) => updates.push(update));
  return updates;
}

const statusesOf = (updates: TaskUpdate[], id: string): TaskStatus[] =>
  updates
    .filter((u) => u.view.id === id)
    .map((u) => u.view.status)
    .filter((status, i, all) => status !== all[i - 1]);

describe('MemoryTaskQueue', () => {
  it('queues, runs with progress, completes, and keeps the finished view', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    const updates = recorded(queue);
    const queued = await queue.add(spec({ ms: 20 }, { clientId: 'carol' }));
    expect(queued).toMatchObject({ type: 'work', status: 'queued', progress: 0, attempt: 0, attempts: 1, runAt: null, finishedAt: null });
    await queue.drain();
    const mine = updates.filter((u) => u.view.id === queued.id);
    expect(mine.every((u) => u.clientId === 'carol')).toBe(true);
    expect(mine.map((u) => u.view.progress)).toEqual([0, 0, 50, 100, 100]);
    expect(statusesOf(updates, queued.id)).toEqual(['queued', 'active', 'completed']);
    const finished = await queue.get(queued.id);
    expect(finished).toMatchObject({ status: 'completed', progress: 100, result: { attempt: 1 }, error: null, attempt: 1 });
    expect(Date.parse(finished!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(finished!.createdAt));
    expect(queue.pending()).toBeUndefined();
  });

  it('never runs more than its concurrency at once, and runs every task', async () => {
    const queue = new MemoryTaskQueue(2, runner);
    const updates = recorded(queue);
    let active = 0;
    let peak = 0;
    queue.onUpdate(({ view }) => {
      if (view.status === 'active' && view.progress === 0) peak = Math.max(peak, ++active);
      if (view.status === 'completed') active -= 1;
    });
    const ids = await Promise.all(Array.from({ length: 5 }, () => queue.add(spec({ ms: 10 })))).then((views) => views.map((v) => v.id));
    await Promise.resolve();
    expect(queue.pending()).toBe('2 tasks active, 3 waiting (in memory)');
    await queue.drain();
    expect(peak).toBe(2);
    for (const id of ids) expect(statusesOf(updates, id).at(-1)).toBe('completed');
  });

  it('runs by priority (0 first, then lower first), then in arrival order', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    const started: string[] = [];
    queue.onUpdate(({ view }) => {
      if (view.status === 'active' && view.progress === 0) started.push(view.id);
    });
    const blocker = await queue.add(spec({ ms: 20 }));
    await Promise.resolve();
    const added: string[] = [];
    for (const priority of [5, 0, 1, 5, 0]) added.push((await queue.add(spec({}, { id: `p${priority}-${added.length}`, priority }))).id);
    await queue.drain();
    expect(started).toEqual([blocker.id, 'p0-1', 'p0-4', 'p1-2', 'p5-0', 'p5-3']);
  });

  it('holds a delayed task as scheduled until it is due', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    const updates = recorded(queue);
    const runAt = Date.now() + 60;
    const view = await queue.add(spec({}, { runAt }));
    expect(view).toMatchObject({ status: 'scheduled', runAt: new Date(runAt).toISOString() });
    expect((await queue.counts(Date.now())).scheduled).toBe(1);
    await sleep(20);
    expect((await queue.get(view.id))?.status).toBe('scheduled');
    await new Promise<void>((resolve) => queue.onUpdate((u) => u.view.status === 'completed' && resolve()));
    const started = updates.find((u) => u.view.status === 'active')!;
    expect(Date.now()).toBeGreaterThanOrEqual(runAt);
    expect(started.view.runAt).toBe(new Date(runAt).toISOString());
    expect(statusesOf(updates, view.id)).toEqual(['scheduled', 'queued', 'active', 'completed']);
  });

  it('retries a failing task with backoff, showing retrying with the error and the next attempt time', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    const updates = recorded(queue);
    const view = await queue.add(spec({ fail: (attempt) => attempt <= 2 }, { retry: { attempts: 3, backoffMs: 20, backoffMaxMs: 1_000 } }));
    await queue.drain();
    expect(statusesOf(updates, view.id)).toEqual(['queued', 'active', 'retrying', 'active', 'retrying', 'active', 'completed']);
    const retrying = updates.filter((u) => u.view.status === 'retrying').map((u) => u.view);
    expect(retrying.map((v) => [v.attempt, v.error])).toEqual([
      [1, 'boom 1'],
      [2, 'boom 2'],
    ]);
    for (const v of retrying) expect(Date.parse(v.nextAttemptAt!)).toBeGreaterThan(Date.parse(v.createdAt));
    expect(await queue.get(view.id)).toMatchObject({ status: 'completed', attempt: 3, attempts: 3, error: null, nextAttemptAt: null });
  });

  it('fails after the last attempt or a permanent error, and POST retry runs it again from attempt 1', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    const failing = await queue.add(spec({ fail: () => true }, { retry: { attempts: 2, backoffMs: 1, backoffMaxMs: 1 } }));
    const permanent = await queue.add(
      spec({ fail: () => true, permanent: true }, { retry: { attempts: 5, backoffMs: 1, backoffMaxMs: 1 } }),
    );
    await queue.drain();
    expect(await queue.get(failing.id)).toMatchObject({ status: 'failed', attempt: 2, error: 'boom 2' });
    expect(await queue.get(permanent.id)).toMatchObject({ status: 'failed', attempt: 1, error: 'boom 1' });
    const again = await queue.retry(failing.id);
    expect(again).toMatchObject({ status: 'queued', attempt: 0, error: null, finishedAt: null });
    await queue.drain();
    expect(await queue.get(failing.id)).toMatchObject({ status: 'failed', attempt: 2 });
    const done = await queue.add(spec({}));
    await queue.drain();
    await expect(queue.retry(done.id)).rejects.toBeInstanceOf(TaskNotFailedError);
    await expect(queue.retry('nope')).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('cancels a waiting task at once and a running one through its signal; a finished one is a conflict', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    const updates = recorded(queue);
    const running = await queue.add(spec({ ms: 10_000 }));
    const waiting = await queue.add(spec({}));
    const scheduled = await queue.add(spec({}, { runAt: Date.now() + 60_000 }));
    await Promise.resolve();
    expect(await queue.cancel(waiting.id)).toMatchObject({ requested: false, view: { status: 'cancelled', error: 'cancelled' } });
    expect(await queue.cancel(scheduled.id)).toMatchObject({ requested: false, view: { status: 'cancelled' } });
    expect(await queue.cancel(running.id)).toMatchObject({ requested: true, view: { status: 'active' } });
    await queue.drain();
    expect(await queue.get(running.id)).toMatchObject({ status: 'cancelled', error: 'cancelled' });
    expect(statusesOf(updates, waiting.id)).toEqual(['queued', 'cancelled']);
    await expect(queue.cancel(running.id)).rejects.toBeInstanceOf(TaskFinishedError);
    await expect(queue.cancel('nope')).rejects.toBeInstanceOf(TaskNotFoundError);
    expect(await queue.counts(Date.now())).toMatchObject({ cancelled: 3, queued: 0, scheduled: 0 });
  });

  it('drain runs what is due, drops what is scheduled (saying so), and resolves at once when idle', async () => {
    const warnings: string[] = [];
    const queue = new MemoryTaskQueue(1, runner, (message) => warnings.push(message));
    await queue.drain();
    const due = await queue.add(spec({ ms: 30 }));
    await queue.add(spec({}, { runAt: Date.now() + 60_000 }));
    await queue.drain();
    expect((await queue.get(due.id))?.status).toBe('completed');
    expect(warnings).toEqual([expect.stringMatching(/dropping 1 scheduled tasks/)]);
  });

  it('counts tasks by status and the oldest wait', async () => {
    const queue = new MemoryTaskQueue(1, runner);
    expect(await queue.counts(Date.now())).toMatchObject({ queued: 0, active: 0, completed: 0, failed: 0, oldestQueuedMs: 0 });
    const first = await queue.add(spec({ ms: 20 }));
    await queue.add(spec({ ms: 20 }));
    await queue.add(spec({ ms: 20 }));
    await Promise.resolve();
    const counts = await queue.counts(Date.parse(first.createdAt) + 5_000);
    expect(counts).toMatchObject({ queued: 2, active: 1, completed: 0, failed: 0 });
    expect(counts.oldestQueuedMs).toBeGreaterThanOrEqual(4_990);
    await queue.drain();
    expect(await queue.counts(Date.now())).toMatchObject({ queued: 0, active: 0, completed: 3, failed: 0, oldestQueuedMs: 0 });
  });
});
