import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startApp, type RunningApp } from './support/app.js';
import { http } from './support/http.js';
import { stopProcess, useProcesses, type ServiceProcess } from './support/process.js';
import { describeWithRedis } from './support/redis.js';
import { untilCompleted } from './support/tasks.js';
import { waitFor } from './support/wait.js';
import { TestSocket, upgradeStatus } from './support/ws.js';

const post = (base: string, body: object) => http(`${base}/tasks`, { method: 'POST', json: body });
const wsUrl = (base: string, query = '') => `${base.replace('http', 'ws')}/ws${query}`;

describe('tasks with the in-memory driver', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ WS_MAX_SUBSCRIPTIONS: '2' });
  });
  afterAll(async () => {
    await app.close();
  });

  it('says hello with the instance, and streams queued -> active -> progress -> completed', async () => {
    const socket = await TestSocket.open(wsUrl(app.baseUrl));
    expect(socket.frames[0]).toEqual({ event: 'hello', data: { instance: expect.any(String), hostname: expect.any(String) } });
    socket.send('subscribe', { all: true });
    await socket.next((f) => f.event === 'subscribed');
    const created = await post(app.baseUrl, { durationMs: 200, payload: { n: 1 } });
    expect(created.status).toBe(202);
    expect(created.body).toEqual({ id: expect.any(String), status: 'queued' });
    const id = created.body.id;
    await socket.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'completed');
    const statuses = socket.taskFrames(id).map((t) => t.status);
    expect(statuses[0]).toBe('queued');
    expect(statuses).toContain('active');
    expect(statuses.at(-1)).toBe('completed');
    const progress = socket.taskFrames(id).map((t) => t.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress).toContain(50);
    const read = await http(`${app.baseUrl}/tasks/${id}`);
    expect(read.body).toMatchObject({ id, status: 'completed', progress: 100, result: { payload: { n: 1 } }, error: null });
    expect(read.body.finishedAt).not.toBeNull();
    socket.close();
  });

  it('delivers tasks created with a clientId to that client unasked, and to no other', async () => {
    const mine = await TestSocket.open(wsUrl(app.baseUrl, '?clientId=alice'));
    const other = await TestSocket.open(wsUrl(app.baseUrl, '?clientId=bob'));
    const { body } = await post(app.baseUrl, { durationMs: 50, clientId: 'alice' });
    await mine.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
    expect(other.taskFrames(body.id)).toEqual([]);
    mine.close();
    other.close();
  });

  it('subscribes to one task by id', async () => {
    const socket = await TestSocket.open(wsUrl(app.baseUrl));
    const { body } = await post(app.baseUrl, { durationMs: 300 });
    socket.send('subscribe', { taskId: body.id });
    await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
    socket.close();
  });

  it('answers invalid frames with an error frame and keeps the connection; bounds subscriptions', async () => {
    const socket = await TestSocket.open(wsUrl(app.baseUrl));
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await post(app.baseUrl, { durationMs: 5_000 })).body.id);
    socket.ws.send('not json');
    socket.send('dance', {});
    socket.send('subscribe', { taskId: 42 });
    socket.send('subscribe', { taskId: 'no-such-task' });
    await waitFor(async () => (socket.frames.filter((f) => f.event === 'error').length === 4 ? true : undefined));
    for (const id of ids) socket.send('subscribe', { taskId: id });
    await waitFor(async () => (socket.frames.filter((f) => f.event === 'error').length === 5 ? true : undefined));
    const errors = socket.frames.filter((f) => f.event === 'error').map((f) => f.data.message);
    expect(errors[0]).toMatch(/must be JSON/);
    expect(errors[1]).toMatch(/unknown event "dance"/);
    expect(errors[2]).toMatch(/subscribe needs/);
    expect(errors[3]).toBe(
      'unknown task "no-such-task" (without Redis each instance keeps its own tasks in memory: this one never had it)',
    );
    expect(errors[4]).toMatch(/at most 2 subscriptions/);
    // The two accepted subscriptions were answered with their task's present state.
    expect(socket.frames.filter((f) => f.event === 'subscribed').map((f) => f.data.taskId)).toEqual(ids.slice(0, 2));
    expect(ids.slice(0, 2).every((id) => socket.taskFrames(id).length > 0)).toBe(true);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    socket.close();
  });

  it('answers subscribe to a finished task with its final state at once', async () => {
    const { body } = await post(app.baseUrl, { durationMs: 0, payload: 'done' });
    const finished = await waitFor(async () => {
      const view = (await http(`${app.baseUrl}/tasks/${body.id}`)).body;
      return view.status === 'completed' ? view : undefined;
    });
    const socket = await TestSocket.open(wsUrl(app.baseUrl));
    socket.send('subscribe', { taskId: body.id });
    const frame = await socket.next((f) => f.event === 'task' && f.data.id === body.id);
    expect(frame.data).toEqual(finished);
    socket.close();
  });

  it('lists recent tasks newest first, by status and bounded; rejects bad parameters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await post(app.baseUrl, { durationMs: 0, payload: i })).body.id);
    await untilCompleted(app.baseUrl, ids);
    const listed = await http(`${app.baseUrl}/tasks?status=completed&limit=2`);
    expect(listed.status).toBe(200);
    expect(listed.body).toHaveLength(2);
    expect(listed.body.every((v: any) => v.status === 'completed')).toBe(true);
    const finishedAt = listed.body.map((v: any) => v.finishedAt);
    expect(finishedAt).toEqual([...finishedAt].sort().reverse());
    expect((await http(`${app.baseUrl}/tasks`)).body.length).toBeGreaterThanOrEqual(3);
    for (const query of ['status=done', 'limit=0', 'limit=101', 'limit=abc', 'colour=red']) {
      expect({ query, status: (await http(`${app.baseUrl}/tasks?${query}`)).status }).toEqual({ query, status: 400 });
    }
  });

  it('closes a socket that sends a frame over WS_MAX_FRAME_BYTES', async () => {
    const socket = await TestSocket.open(wsUrl(app.baseUrl));
    socket.ws.send('x'.repeat(70 * 1024));
    expect(await socket.closed()).toBe(1009);
  });

  it('rejects bad bodies with 400 and unknown ids with 404', async () => {
    expect((await post(app.baseUrl, { durationMs: -1 })).status).toBe(400);
    expect((await post(app.baseUrl, { durationMs: 'soon' })).status).toBe(400);
    expect((await post(app.baseUrl, { clientId: 'no spaces allowed' })).status).toBe(400);
    expect((await post(app.baseUrl, { colour: 'red' })).status).toBe(400);
    expect((await post(app.baseUrl, { durationMs: 700_000 })).status).toBe(400);
    expect((await http(`${app.baseUrl}/tasks/nope`)).status).toBe(404);
  });
});

describe('graceful shutdown with the in-memory driver (real process)', () => {
  const processes = useProcesses();

  it('refuses new sockets and tasks, keeps existing sockets fed, drains the queue, then closes sockets 1012 and exits 0', async () => {
    const service = await processes.start({ TASK_CONCURRENCY: '2', SHUTDOWN_GRACE_MS: '20000' });
    const socket = await TestSocket.open(wsUrl(service.baseUrl));
    socket.send('subscribe', { all: true });
    await socket.next((f) => f.event === 'subscribed');
    const accepted: string[] = [];
    for (let i = 0; i < 6; i += 1) accepted.push((await post(service.baseUrl, { durationMs: 400 })).body.id);

    service.kill('SIGTERM');
    await waitFor(async () => ((await http(`${service.baseUrl}/ready`)).status === 503 ? true : undefined));
    expect(await upgradeStatus(wsUrl(service.baseUrl))).toBe(503);
    const refused = await post(service.baseUrl, { durationMs: 10 });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');

    const shutdownFrame = await socket.next((f) => f.event === 'shutdown', 15_000);
    expect(shutdownFrame.data).toEqual({ reason: 'server shutting down', reconnect: true });
    for (const id of accepted) expect(socket.taskFrames(id).at(-1)?.status).toBe('completed');
    expect(await socket.closed()).toBe(1012);
    expect((await service.exited()).code).toBe(0);
  });
});

describeWithRedis('tasks with BullMQ on a real Redis', (redis) => {
  const processes = useProcesses();
  it('runs at most TASK_CONCURRENCY jobs at once on an instance (one worker, not one per provider alias)', async () => {
    const app = await startApp({ ...redis().env, REDIS_PREFIX: `${redis().prefix}-conc`, TASK_CONCURRENCY: '1' });
    try {
      const socket = await TestSocket.open(wsUrl(app.baseUrl));
      socket.send('subscribe', { all: true });
      await socket.next((f) => f.event === 'subscribed');
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) ids.push((await post(app.baseUrl, { durationMs: 300 })).body.id);
      for (const id of ids) await socket.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'completed', 15_000);
      // In frame order, a job becomes active only after the one before it completed.
      const order = socket.frames
        .filter((f) => f.event === 'task' && ((f.data.status === 'active' && f.data.progress === 0) || f.data.status === 'completed'))
        .map((f) => `${f.data.status}:${ids.indexOf(f.data.id)}`);
      // (A frame is the stored view when it is read, so a job can show `active` twice.)
      for (let i = 1; i < ids.length; i += 1) {
        expect({ job: i, startedAfterPrevious: order.indexOf(`active:${i}`) > order.indexOf(`completed:${i - 1}`) }).toEqual({
          job: i,
          startedAfterPrevious: true,
        });
      }
      expect(order.filter((entry) => entry.startsWith('completed'))).toEqual(['completed:0', 'completed:1', 'completed:2']);
      socket.close();
    } finally {
      await app.close();
    }
  });

  it('frames carry the stored view: every instance sends the same finishedAt as GET /tasks/:id', async () => {
    const env = { ...redis().env, REDIS_PREFIX: `${redis().prefix}-view` };
    const a = await startApp({ ...env, TASK_CONCURRENCY: '0' });
    const b = await startApp(env);
    try {
      const sockets = [await TestSocket.open(wsUrl(a.baseUrl)), await TestSocket.open(wsUrl(b.baseUrl))];
      for (const socket of sockets) {
        socket.send('subscribe', { all: true });
        await socket.next((f) => f.event === 'subscribed');
      }
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await post(a.baseUrl, { durationMs: 100 })).body.id);
      for (const id of ids) {
        const frames = await Promise.all(
          sockets.map((s) => s.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'completed')),
        );
        const stored = (await http(`${a.baseUrl}/tasks/${id}`)).body;
        for (const frame of frames) expect(frame.data).toEqual(stored);
      }
      // The list reads the same store: the three that finished last, latest first.
      const stored = await Promise.all(ids.map(async (id) => (await http(`${a.baseUrl}/tasks/${id}`)).body));
      const listed = (await http(`${b.baseUrl}/tasks?status=completed&limit=3`)).body;
      const finishedAt = listed.map((view: any) => view.finishedAt);
      expect(finishedAt).toEqual([...finishedAt].sort().reverse());
      const cutoff = finishedAt.at(-1);
      expect(stored.filter((view) => view.finishedAt > cutoff).every((view) => listed.some((l: any) => l.id === view.id))).toBe(true);
      expect(listed.every((view: any) => ids.includes(view.id))).toBe(true);
      for (const socket of sockets) socket.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a socket that reconnects with ?clientId= learns the present of its unfinished and just-finished tasks at once', async () => {
    const env = { ...redis().env, REDIS_PREFIX: `${redis().prefix}-present`, TASK_CONCURRENCY: '1' };
    const app = await startApp(env);
    try {
      // Finished while the client was away: told with its final state.
      const done = (await post(app.baseUrl, { durationMs: 0, clientId: 'dora' })).body.id;
      await untilCompleted(app.baseUrl, [done]);
      const running = (await post(app.baseUrl, { durationMs: 3_000, clientId: 'dora' })).body.id;
      const waiting = (await post(app.baseUrl, { durationMs: 3_000, clientId: 'dora' })).body.id;
      const others = (await post(app.baseUrl, { durationMs: 10, clientId: 'eve' })).body.id;
      await waitFor(async () => ((await http(`${app.baseUrl}/tasks/${running}`)).body.status === 'active' ? true : undefined));
      const socket = await TestSocket.open(wsUrl(app.baseUrl, '?clientId=dora'));
      const present = await Promise.all([done, running, waiting].map((id) => socket.next((f) => f.event === 'task' && f.data.id === id)));
      expect(present.map((f) => f.data.status)).toEqual(['completed', 'active', 'queued']);
      expect(socket.taskFrames(others)).toEqual([]);
      socket.close();
    } finally {
      await app.close();
    }
  });

  it('terminates a peer that stops answering pings, and forgets it', async () => {
    const app = await startApp({ ...redis().env, REDIS_PREFIX: `${redis().prefix}-beat`, WS_HEARTBEAT_MS: '200' });
    try {
      const healthy = await TestSocket.open(wsUrl(app.baseUrl));
      const vanished = await TestSocket.open(wsUrl(app.baseUrl), { autoPong: false });
      expect(await vanished.closed()).toBe(1006); // terminated: no close frame
      expect((await http(`${app.baseUrl}/metrics`)).text).toMatch(/^ballast_ws_connections 1$/m);
      expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
      healthy.close();
    } finally {
      await app.close();
    }
  });

  it('a task created on A and processed on B notifies the client on A', async () => {
    const env = { ...redis().env, REDIS_PREFIX: `${redis().prefix}-ab` };
    const a = await startApp({ ...env, TASK_CONCURRENCY: '0' });
    const b = await startApp(env);
    try {
      const socket = await TestSocket.open(wsUrl(a.baseUrl, '?clientId=carol'));
      const { status, body } = await post(a.baseUrl, { durationMs: 200, clientId: 'carol', payload: { via: 'a' } });
      expect(status).toBe(202);
      const done = await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
      expect(done.data.result).toMatchObject({ payload: { via: 'a' } });
      expect(socket.taskFrames(body.id).map((t) => t.status)).toContain('active');
      expect((await http(`${a.baseUrl}/tasks/${body.id}`)).body).toMatchObject({ status: 'completed', progress: 100 });
      socket.close();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('SIGTERM to A: A finishes its active jobs and exits 0, its waiting jobs stay for B, which completes every accepted task', async () => {
    const env = { ...redis().env, REDIS_PREFIX: `${redis().prefix}-drain`, TASK_CONCURRENCY: '3' };
    const a = await processes.start(env);
    const socket = await TestSocket.open(wsUrl(a.baseUrl));
    socket.send('subscribe', { all: true });
    await socket.next((f) => f.event === 'subscribed');
    const accepted: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const response = await post(a.baseUrl, { durationMs: 500, payload: { i } });
      expect(response.status).toBe(202);
      accepted.push(response.body.id);
    }
    a.kill('SIGTERM');
    const shutdown = await socket.next((f) => f.event === 'shutdown', 15_000);
    expect(shutdown.data).toEqual({ reason: 'server shutting down', reconnect: true });
    expect((await a.exited()).code).toBe(0);
    // A's socket saw the jobs A completed; with 3 slots it cannot have run all 20 before exiting.
    const completedOnA = accepted.filter((id) => socket.taskFrames(id).some((t) => t.status === 'completed'));
    expect(completedOnA.length).toBeLessThan(accepted.length);

    // B starts only now: whatever A did not complete must still be in Redis for it.
    const b = await processes.start(env);
    const views = await untilCompleted(b.baseUrl, accepted, { timeoutMs: 30_000, what: 'every accepted task to complete on B' });
    views.forEach((view, i) => expect(view.result).toEqual({ workedMs: expect.any(Number), payload: { i } }));
  });

  /**
   * One worker (concurrency 1) and an API instance with none, on `env`; a task is posted through
   * the API and followed on its socket, then `scenario` runs. The API is closed after.
   */
  async function followedOnOneWorker(
    env: Record<string, string>,
    task: { durationMs: number; payload: string },
    scenario: (fleet: { worker: ServiceProcess; api: { baseUrl: string }; socket: TestSocket; id: string }) => Promise<void>,
  ): Promise<void> {
    const worker = await processes.start({ ...env, TASK_CONCURRENCY: '1' });
    const api = await startApp({ ...env, TASK_CONCURRENCY: '0' });
    try {
      const socket = await TestSocket.open(wsUrl(api.baseUrl));
      const { body } = await post(api.baseUrl, task);
      socket.send('subscribe', { taskId: body.id });
      await scenario({ worker, api, socket, id: body.id });
      socket.close();
    } finally {
      await api.close();
    }
  }

  it('kill -9 of the worker mid-task: another runs it again within TASK_LOCK_MS + two stalled checks', async () => {
    const lockMs = 12_000;
    const env = { ...redis().env, REDIS_PREFIX: `${redis().prefix}-stalled`, TASK_LOCK_MS: String(lockMs) };
    await followedOnOneWorker(env, { durationMs: 60_000, payload: 'stalled' }, async ({ worker, socket, id }) => {
      await socket.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'active');
      // The rescuer is up before the kill, so what is measured is BullMQ's recovery, not a boot.
      await processes.start({ ...env, TASK_CONCURRENCY: '1' });
      const before = socket.frames.length;
      const killedAt = Date.now();
      expect((await stopProcess(worker)).signal).toBe('SIGKILL');
      await socket.next(
        (f) => f.event === 'task' && f.data.id === id && f.data.status === 'active' && socket.frames.indexOf(f) >= before,
        lockMs + 15_000,
      );
      // Lock left (at most lockMs) + the stalled checks (every 5 s) + the rescuer's pick-up and
      // the frame. A check holds BullMQ's stalled-check key for exactly the interval, so a timer
      // that fires a moment early finds the key still set and skips: up to two intervals (one CI
      // run took 20.0 s against the one-interval bound of 19 s).
      expect(Date.now() - killedAt).toBeLessThanOrEqual(lockMs + 2 * 5_000 + 2_000);
    });
  }, 60_000);

  it('kill -9 of the worker mid-task: the task still completes on another', async () => {
    const env = { ...redis().env, REDIS_PREFIX: `${redis().prefix}-kill`, TASK_LOCK_MS: '1000' };
    await followedOnOneWorker(env, { durationMs: 1500, payload: 'rescued' }, async ({ worker, api, socket, id }) => {
      await socket.next((f) => f.event === 'task' && f.data.id === id && f.data.progress >= 10);
      expect((await stopProcess(worker)).signal).toBe('SIGKILL');
      await processes.start({ ...env, TASK_CONCURRENCY: '1' });
      const done = await socket.next((f) => f.event === 'task' && f.data.id === id && f.data.status === 'completed', 20_000);
      // The dead worker had done about a tenth; the rescuer ran the whole job again.
      expect(done.data.result).toEqual({ workedMs: expect.any(Number), payload: 'rescued' });
      expect(done.data.result.workedMs).toBeGreaterThanOrEqual(1500);
      expect((await http(`${api.baseUrl}/tasks/${id}`)).body).toMatchObject({ status: 'completed', error: null });
    });
  });
});

// A URL's encoded ACL user is a standalone concern (Sentinel and Cluster take REDIS_USERNAME and REDIS_PASSWORD).
describeWithRedis(
  'tasks with BullMQ on a real Redis, by URL',
  (redis) => {
    it('one connection policy for every client: an encoded ACL username and password reach the store, queue, worker and events', async () => {
      // A user whose name and password need URL-encoding: each Redis client must decode both.
      const admin = new Redis(redis().url);
      const user = `${redis().prefix}@u`;
      await admin.call('ACL', 'SETUSER', user, 'on', '>p@ss:w/rd', '~*', '&*', '+@all');
      const url = new URL(redis().url);
      url.username = encodeURIComponent(user);
      url.password = encodeURIComponent('p@ss:w/rd');
      const app = await startApp({ REDIS_URL: url.toString(), REDIS_PREFIX: `${redis().prefix}-acl` });
      try {
        const ready = await waitFor(async () => {
          const response = await http(`${app.baseUrl}/ready`);
          return response.status === 200 ? response : undefined;
        });
        expect(ready.body.details.redis).toMatchObject({ status: 'up', connection: 'ready' });
        const socket = await TestSocket.open(wsUrl(app.baseUrl, '?clientId=acl'));
        const { status, body } = await post(app.baseUrl, { durationMs: 50, clientId: 'acl' });
        expect(status).toBe(202);
        await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
        expect((await http(`${app.baseUrl}/items/?item_id=1`, { method: 'POST', json: { name: 'a', price: 1 } })).status).toBe(200);
        // Every client of this app is logged in as that user.
        const clients = String(await admin.call('CLIENT', 'LIST'));
        expect(clients.split('\n').filter((line) => line.includes(`user=${user} `)).length).toBeGreaterThanOrEqual(4);
        socket.close();
      } finally {
        await app.close();
        await admin.call('ACL', 'DELUSER', user);
        admin.disconnect();
      }
    });
  },
  { modes: ['standalone'] },
);
