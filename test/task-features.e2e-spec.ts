import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { fingerprintOf } from '../src/tasks/idempotency/idempotency-keys.js';
import { startApp, type RunningApp } from './support/app.js';
import { http } from './support/http.js';
import { describeWithRedis, type TestRedis } from './support/redis.js';
import { ReportTasksModule } from './support/report-tasks.js';
import { waitFor } from './support/wait.js';
import { TestSocket } from './support/ws.js';

const wsUrl = (base: string, query = '') => `${base.replace('http', 'ws')}/ws${query}`;
const post = (base: string, body: object, headers: Record<string, string> = {}) =>
  http(`${base}/tasks`, { method: 'POST', json: body, headers });
const read = async (base: string, id: string) => (await http(`${base}/tasks/${id}`)).body;
const modules = [ReportTasksModule];
const FAST_RETRIES = { TASK_BACKOFF_MS: '100', TASK_BACKOFF_MAX_MS: '400' };

/**
 * Where the task features are tried: `creator` takes creates and reads, `runner` runs tasks
 * (with Redis, two instances: what one is asked, the other does; in memory, one instance),
 * `solo(env)` starts one instance working on one task at a time.
 */
interface Fleet {
  creator(): string;
  runner(): string;
  solo(env?: Record<string, string>): Promise<RunningApp>;
}

function taskFeatures(fleet: Fleet): void {
  async function following(base: string, query = ''): Promise<TestSocket> {
    const socket = await TestSocket.open(wsUrl(base, query));
    socket.send('subscribe', { all: true });
    await socket.next((f) => f.event === 'subscribed');
    return socket;
  }

  it('runs a type registered as a provider, checks its input before queueing, and names the known types', async () => {
    const socket = await following(fleet.runner());
    const created = await post(fleet.creator(), { type: 'report', input: { month: '2026-11', rows: 4 } });
    expect(created.status).toBe(202);
    const done = await socket.next((f) => f.event === 'task' && f.data.id === created.body.id && f.data.status === 'completed');
    expect(done.data).toMatchObject({
      type: 'report',
      attempt: 1,
      attempts: 2,
      result: { month: '2026-11', rows: 4, attempt: 1 },
      progress: 100,
    });
    expect(socket.taskFrames(created.body.id).map((t) => t.progress)).toContain(50);

    const unknown = await post(fleet.creator(), { type: 'invoice', input: {} });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toBe('unknown task type "invoice"; known types: demo, report');
    expect(unknown.body.knownTypes).toEqual(['demo', 'report']);
    const bad = await post(fleet.creator(), { type: 'report', input: { month: 'Nov', extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.reasons).toEqual(['month must be YYYY-MM', 'property extra should not exist']);
    const legacy = await post(fleet.creator(), { durationMs: -1 });
    expect(legacy.status).toBe(400);
    expect(legacy.body.reasons).toEqual([expect.stringMatching(/^durationMs must be an integer from 0 to \d+$/)]);
    // Nothing refused was queued.
    expect((await http(`${fleet.creator()}/tasks?limit=100`)).body.filter((v: any) => v.type === 'invoice')).toEqual([]);
    socket.close();
  });

  it('retries a failing task with backoff: retrying frames with the error and next attempt, in order, then completed', async () => {
    const socket = await following(fleet.runner());
    const { body } = await post(fleet.creator(), { durationMs: 0, failTimes: 2, payload: 'third time' });
    const done = await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed', 15_000);
    expect(done.data).toMatchObject({ attempt: 3, attempts: 3, error: null, nextAttemptAt: null, result: { payload: 'third time' } });
    const frames = socket.taskFrames(body.id);
    // Frames tell the present when they are sent: a step may be passed over (a read that came
    // after it), never shown out of order.
    const expected = ['active:1', 'retrying:1', 'active:2', 'retrying:2', 'active:3', 'completed:3'];
    const steps = frames.map((t) => `${t.status}:${t.attempt}`).filter((step) => !step.startsWith('queued'));
    const positions = steps.map((step) => expected.indexOf(step));
    expect({ steps, inOrder: positions.every((p, i) => p >= 0 && (i === 0 || p >= positions[i - 1])) }).toEqual({ steps, inOrder: true });
    expect(steps).toEqual(expect.arrayContaining(['retrying:1', 'retrying:2']));
    expect(steps.at(-1)).toBe('completed:3');
    const retrying = frames.filter((t) => t.status === 'retrying');
    expect(retrying[0].error).toMatch(/demo failure on attempt 1/);
    for (const t of retrying) expect(Date.parse(t.nextAttemptAt)).toBeGreaterThan(Date.parse(t.createdAt));
    socket.close();
  });

  it('fails after the last attempt or at once on a permanent error; POST /tasks/:id/retry runs a failed task again', async () => {
    const socket = await following(fleet.runner());
    const exhausted = (await post(fleet.creator(), { type: 'demo', input: { durationMs: 0, failTimes: 9 } })).body.id;
    const refused = (await post(fleet.creator(), { type: 'report', input: { month: '2026-01', refuse: true } })).body.id;
    const failed = await Promise.all(
      [exhausted, refused].map((id) => socket.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'failed', 15_000)),
    );
    expect(failed[0].data).toMatchObject({ attempt: 3, attempts: 3, error: expect.stringMatching(/attempt 3/) });
    expect(failed[1].data).toMatchObject({ attempt: 1, attempts: 2, error: 'no data for 2026-01' });

    const again = await http(`${fleet.creator()}/tasks/${exhausted}/retry`, { method: 'POST' });
    expect(again.status).toBe(202);
    // Its present: it may have started (and failed its first attempt again) by now.
    expect(again.body).toMatchObject({ id: exhausted, finishedAt: null });
    expect(['queued', 'active', 'retrying']).toContain(again.body.status);
    const refailed = await socket.next(
      (f) =>
        f.event === 'task' &&
        f.data.id === exhausted &&
        f.data.status === 'failed' &&
        Date.parse(f.data.finishedAt) > Date.parse(failed[0].data.finishedAt),
      15_000,
    );
    expect(refailed.data.attempt).toBe(3);

    const completed = (await post(fleet.creator(), { durationMs: 0 })).body.id;
    await waitFor(async () => ((await read(fleet.creator(), completed)).status === 'completed' ? true : undefined));
    const notFailed = await http(`${fleet.creator()}/tasks/${completed}/retry`, { method: 'POST' });
    expect(notFailed.status).toBe(409);
    expect(notFailed.body.message).toMatch(/is completed; only a failed task can be retried/);
    expect((await http(`${fleet.creator()}/tasks/no-such-task/retry`, { method: 'POST' })).status).toBe(404);
    socket.close();
  });

  it('Idempotency-Key: 50 concurrent creates make one task; a replay says so; another body is 422; a long key 400', async () => {
    const key = `order-${Math.random()}`;
    const body = { type: 'report', input: { month: '2026-10' }, clientId: 'idem' };
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(i % 2 ? fleet.runner() : fleet.creator(), body, { 'idempotency-key': key })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(49);
    const id = answers[0].body.id;
    await waitFor(async () => ((await read(fleet.creator(), id)).status === 'completed' ? true : undefined));
    // Later, same key and body (fields in another order): the same task, as it is now.
    const replay = await post(
      fleet.creator(),
      { clientId: 'idem', input: { month: '2026-10' }, type: 'report' },
      { 'idempotency-key': key },
    );
    expect(replay.body).toEqual({ id, status: 'completed' });
    const listed = (await http(`${fleet.creator()}/tasks?limit=100`)).body.filter((v: any) => v.result?.month === '2026-10');
    expect(listed).toHaveLength(1);

    const other = await post(fleet.creator(), { ...body, input: { month: '2026-09' } }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.message).toBe('This Idempotency-Key was used with a different request body');
    expect((await post(fleet.creator(), body, { 'idempotency-key': 'k'.repeat(256) })).status).toBe(400);
    expect((await post(fleet.creator(), body, { 'idempotency-key': 'k'.repeat(255) })).status).toBe(202);
  });

  it('a delayed task is scheduled (listed so, with runAt) and runs within a second of its time', async () => {
    const socket = await following(fleet.runner());
    const { body } = await post(fleet.creator(), { durationMs: 500, delayMs: 1_500 });
    expect(body.status).toBe('scheduled');
    const view = await read(fleet.creator(), body.id);
    expect(view).toMatchObject({ status: 'scheduled', runAt: expect.any(String) });
    const runAt = Date.parse(view.runAt);
    const scheduled = (await http(`${fleet.creator()}/tasks?status=scheduled`)).body;
    expect(scheduled.map((v: any) => v.id)).toContain(body.id);
    const active = await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'active', 10_000);
    const startedAt = Date.now();
    expect(startedAt).toBeGreaterThanOrEqual(runAt);
    expect(startedAt - runAt).toBeLessThan(1_000);
    expect(active.data.runAt).toBe(view.runAt);
    socket.close();
  });

  it('runs by priority at concurrency 1: lower first, in arrival order among equals', async () => {
    const solo = await fleet.solo({ TASK_CONCURRENCY: '1' });
    try {
      const socket = await following(solo.baseUrl);
      const blocker = (await post(solo.baseUrl, { durationMs: 600 })).body.id;
      await socket.next((f) => f.event === 'task' && f.data.id === blocker && f.data.status === 'active');
      const ids: Record<string, string> = {};
      for (const [name, priority] of [
        ['p9', 9],
        ['p2', 2],
        ['p5', 5],
        ['p2b', 2],
      ] as const) {
        ids[name] = (await post(solo.baseUrl, { type: 'demo', input: { durationMs: 0 }, priority })).body.id;
      }
      for (const id of Object.values(ids))
        await socket.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'completed');
      const order = socket.frames
        .filter((f) => f.event === 'task' && f.data.status === 'completed')
        .map((f) => Object.keys(ids).find((name) => ids[name] === f.data.id))
        .filter(Boolean);
      expect(order).toEqual(['p2', 'p2b', 'p5', 'p9']);
      socket.close();
    } finally {
      await solo.close();
    }
  });

  it('DELETE cancels a waiting task at once and a running one on whichever instance runs it, within a second', async () => {
    const socket = await following(fleet.creator());
    const running = (await post(fleet.creator(), { durationMs: 30_000 })).body.id;
    await socket.next((f) => f.event === 'task' && f.data.id === running && f.data.status === 'active');
    const scheduled = (await post(fleet.creator(), { durationMs: 0, delayMs: 60_000 })).body.id;

    const waiting = await http(`${fleet.creator()}/tasks/${scheduled}`, { method: 'DELETE' });
    expect(waiting.status).toBe(200);
    expect(waiting.body).toMatchObject({ id: scheduled, status: 'cancelled', error: 'cancelled' });
    await socket.next((f) => f.event === 'task' && f.data.id === scheduled && f.data.status === 'cancelled');
    expect(await read(fleet.runner(), scheduled)).toMatchObject({ status: 'cancelled' });

    const askedAt = Date.now();
    const active = await http(`${fleet.creator()}/tasks/${running}`, { method: 'DELETE' });
    expect(active.status).toBe(202);
    // Running when asked; its handler may have stopped by the time the answer is written.
    expect(['active', 'cancelled']).toContain(active.body.status);
    const cancelled = await socket.next((f) => f.event === 'task' && f.data.id === running && f.data.status === 'cancelled', 5_000);
    expect(Date.now() - askedAt).toBeLessThan(1_000);
    expect(cancelled.data).toMatchObject({ error: 'cancelled', finishedAt: expect.any(String) });
    expect(await read(fleet.runner(), running)).toMatchObject({ status: 'cancelled' });
    const listed = (await http(`${fleet.runner()}/tasks?status=cancelled`)).body.map((v: any) => v.id);
    expect(listed).toEqual(expect.arrayContaining([running, scheduled]));

    const again = await http(`${fleet.creator()}/tasks/${running}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/is already cancelled/);
    expect((await http(`${fleet.creator()}/tasks/no-such-task`, { method: 'DELETE' })).status).toBe(404);
    socket.close();
  });

  it('counts attempts per type and outcome in /metrics', async () => {
    const id = (await post(fleet.creator(), { type: 'report', input: { month: '2026-08' } })).body.id;
    await waitFor(async () => ((await read(fleet.creator(), id)).status === 'completed' ? true : undefined));
    const metrics = (await http(`${fleet.runner()}/metrics`)).text;
    expect(metrics).toMatch(/^ballast_tasks_finished_total\{type="report",outcome="completed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ballast_tasks_finished_total\{type="demo",outcome="retried"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ballast_tasks_finished_total\{type="demo",outcome="cancelled"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ballast_task_run_seconds_count\{type="report",outcome="failed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^ballast_task_wait_seconds_count\{type="report"\} [1-9]\d*$/m);
    const creatorMetrics = (await http(`${fleet.creator()}/metrics`)).text;
    expect(creatorMetrics).toMatch(/^ballast_tasks\{status="cancelled"\} [1-9]\d*$/m);
  });
}

describe('task features with the in-memory driver (one instance)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(FAST_RETRIES, { modules });
  });
  afterAll(async () => {
    await app.close();
  });
  taskFeatures({
    creator: () => app.baseUrl,
    runner: () => app.baseUrl,
    solo: (env) => startApp({ ...FAST_RETRIES, ...env }, { modules }),
  });
});

describeWithRedis('task features with BullMQ on a real Redis (created on A, run on B)', (redis: () => TestRedis) => {
  let a: RunningApp;
  let b: RunningApp;
  const env = () => ({ ...FAST_RETRIES, ...redis().env, REDIS_PREFIX: `${redis().prefix}-features` });
  beforeAll(async () => {
    a = await startApp({ ...env(), TASK_CONCURRENCY: '0' }, { modules });
    b = await startApp({ ...env(), TASK_CONCURRENCY: '4' }, { modules });
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
  });
  taskFeatures({
    creator: () => a.baseUrl,
    runner: () => b.baseUrl,
    solo: (more) => startApp({ ...env(), ...more, REDIS_PREFIX: `${redis().prefix}-solo` }, { modules }),
  });

  it('a key whose task Redis lost (a failover kept the key, not the job) queues that task again on the next retry, under its id', async () => {
    const body = { type: 'report', input: { month: '2026-11' } };
    const key = 'kept-key-lost-job';
    const lostId = '5b0d8a52-0c57-4a43-9c1b-0f6f4c4a1e11';
    // What a failover can leave: the claim, made well over a create's budget ago, and no job.
    const admin = redis().client();
    try {
      const claimKey = `${redis().prefix}-features:tasks:idem:${createHash('sha256').update(key).digest('base64url')}`;
      const record = { taskId: lostId, fingerprint: fingerprintOf(body), claimedAt: Date.now() - 60_000 };
      await admin.set(
        redis().mode === 'cluster' ? `{${claimKey.replace(':tasks:', '}:tasks:')}` : claimKey,
        JSON.stringify(record),
        'PX',
        60_000,
      );
    } finally {
      admin.disconnect();
    }
    const retried = await post(a.baseUrl, body, { 'idempotency-key': key });
    expect(retried.status).toBe(202);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    expect(retried.body.id).toBe(lostId);
    await waitFor(async () => ((await http(`${b.baseUrl}/tasks/${lostId}`)).body.status === 'completed' ? true : undefined), {
      what: 'the task queued again to complete',
    });
  });
});
