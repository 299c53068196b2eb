import { afterEach, describe, expect, it } from '@jest/globals';
import { http } from './support/http.js';
import { startFleet, type Fleet } from './support/fleet.js';
import { useProcesses } from './support/process.js';
import { describeWithRedis } from './support/redis.js';
import { waitFor } from './support/wait.js';
import { TestSocket } from './support/ws.js';

/**
 * Tasks through the balancer when every service keeps its tasks in memory (no Redis, as
 * `npm run start:cluster` without a redis-server): a task's requests, and a clientId's creates
 * and sockets, reach the instance that holds them. With Redis nothing is pinned.
 */

const post = (base: string, body: object) => http(`${base}/tasks`, { method: 'POST', json: body });
const backendsOf = async (fleet: Fleet) => (await http(`${fleet.balancer.baseUrl}/_balancer/backends`)).body.backends as any[];

describe('tasks through the balancer, services without Redis', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  async function localFleet(): Promise<Fleet> {
    const fleet = await startFleet(processes, { services: 3, serviceEnv: () => ({ TASK_ATTEMPTS: '1' }) });
    // Learnt from the services' load reports, first from the balancer's checks of /ready.
    await waitFor(async () => ((await backendsOf(fleet)).every((b) => b.keepsTasksLocally) ? true : undefined), {
      what: 'the balancer to learn that every service keeps its tasks',
    });
    return fleet;
  }

  it("a clientId's socket and creates meet on one instance, and every task request reaches its task", async () => {
    const fleet = await localFleet();
    const base = fleet.balancer.baseUrl;
    const socket = await TestSocket.open(fleet.ws('?clientId=carol'));
    const socketInstance = socket.frames[0].data.instance;

    const created = [];
    for (let i = 0; i < 6; i += 1)
      created.push(await post(base, { type: 'demo', input: { durationMs: 100, payload: i }, clientId: 'carol' }));
    expect(created.map((r) => r.status)).toEqual(Array(6).fill(202));
    expect(created.every((r) => r.headers.location === `/tasks/${r.body.id}`)).toBe(true);
    // All on the socket's instance: it gets every one's frames without subscribing.
    expect(new Set(created.map((r) => r.headers['x-app-url'])).size).toBe(1);
    for (const { body } of created) await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
    const owner = created[0].headers['x-app-url'];
    expect((await http(`${owner}/ping`)).body.instance).toBe(socketInstance);

    // A task without a clientId lives where round robin put it; its reads follow it there.
    const lone = await post(base, { durationMs: 0 });
    for (const { body } of [...created, lone]) {
      const reads = await Promise.all(Array.from({ length: 4 }, () => http(`${base}/tasks/${body.id}`)));
      expect(reads.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    }

    // Retry and cancel reach their task too (round robin would answer 404 two times in three).
    const failing = (await post(base, { type: 'demo', input: { failTimes: 1 }, clientId: 'carol' })).body.id;
    await socket.next((f) => f.event === 'task' && f.data.id === failing && f.data.status === 'failed');
    expect((await http(`${base}/tasks/${failing}/retry`, { method: 'POST' })).status).toBe(202);
    // Run again from attempt 1, which fails again (failTimes 1): a second `failed`.
    await waitFor(async () => (socket.taskFrames(failing).filter((t) => t.status === 'failed').length === 2 ? true : undefined), {
      what: 'the retried task to run again',
    });
    const long = (await post(base, { type: 'demo', input: { durationMs: 10_000 }, clientId: 'carol' })).body.id;
    await socket.next((f) => f.event === 'task' && f.data.id === long && f.data.status === 'active');
    expect((await http(`${base}/tasks/${long}`, { method: 'DELETE' })).status).toBe(202);
    await socket.next((f) => f.event === 'task' && f.data.id === long && f.data.status === 'cancelled', 2_000);
    socket.close();
  });

  it('a client that creates first and connects later is connected where its tasks are', async () => {
    const fleet = await localFleet();
    const base = fleet.balancer.baseUrl;
    const running = await post(base, { type: 'demo', input: { durationMs: 5_000 }, clientId: 'dave' });
    expect(running.status).toBe(202);
    // Round robin alone would land these on the other two instances: they follow dave's first.
    const more = [await post(base, { durationMs: 5_000, clientId: 'dave' }), await post(base, { durationMs: 5_000, clientId: 'dave' })];
    expect(more.map((r) => r.headers['x-app-url'])).toEqual([running.headers['x-app-url'], running.headers['x-app-url']]);

    for (let i = 0; i < 3; i += 1) {
      // Each connect is told the present of dave's unfinished tasks: all three are on its instance.
      const socket = await TestSocket.open(fleet.ws('?clientId=dave'));
      for (const { body } of [running, ...more]) await socket.next((f) => f.event === 'task' && f.data.id === body.id);
      socket.close();
    }
    // Another client's socket goes by round robin, as before.
    const others = await Promise.all([1, 2, 3].map((i) => TestSocket.open(fleet.ws(`?clientId=erin${i}`))));
    expect(new Set(others.map((s) => s.frames[0].data.instance)).size).toBe(3);
    for (const socket of others) socket.close();
  });

  it("a client whose instance died moves with its next create or socket; the dead instance's task reads say where it lived", async () => {
    const fleet = await localFleet();
    const base = fleet.balancer.baseUrl;
    const first = await post(base, { durationMs: 0, clientId: 'gina' });
    const owner = first.headers['x-app-url'];
    const victim = fleet.services[fleet.urls.indexOf(owner as string)];
    victim.kill('SIGKILL');
    await victim.exited();
    await waitFor(async () => ((await backendsOf(fleet)).find((b) => b.url === owner)?.state !== 'up' ? true : undefined), {
      what: 'the balancer to see the instance gone',
    });
    // Its new task and its socket go to another instance, the same one.
    const next = await post(base, { durationMs: 3_000, clientId: 'gina' });
    expect(next.status).toBe(202);
    expect(next.headers['x-app-url']).not.toBe(owner);
    const socket = await TestSocket.open(fleet.ws('?clientId=gina'));
    expect((await socket.next((f) => f.event === 'task' && f.data.id === next.body.id)).data.status).toBe('active');
    socket.close();
    // The task that lived on the dead instance is not looked for elsewhere (another would say
    // 404): the first read finds its instance refusing connections, and ejects it; the next is
    // told where the task lived.
    const tried = await http(`${base}/tasks/${first.body.id}`);
    expect(tried.status).toBeGreaterThanOrEqual(500);
    const lost = await http(`${base}/tasks/${first.body.id}`);
    expect([lost.status, lost.headers['retry-after'] !== undefined]).toEqual([503, true]);
    expect(lost.body.message).toBe(`Task ${first.body.id} lives on ${owner}, which is ejected`);
  });

  it('a create whose body is not JSON or names no valid clientId still gets the service’s own answer', async () => {
    const fleet = await localFleet();
    const base = fleet.balancer.baseUrl;
    const notJson = await http(`${base}/tasks`, { method: 'POST', body: '{"clientId":', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    const badClient = await post(base, { durationMs: 0, clientId: 'a b' });
    expect(badClient.status).toBe(400);
    expect(badClient.body.message).toMatch(/clientId/);
    const ok = await post(base, { durationMs: 0, clientId: null });
    expect(ok.status).toBe(202);
    expect((await http(`${base}/tasks/${ok.body.id}`)).status).toBe(200);
  });
});

describeWithRedis('tasks through the balancer, services on one Redis', (redis) => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('pins nothing: any instance answers for any task', async () => {
    const fleet = await startFleet(processes, { services: 3, redis: { env: redis().env, prefix: `${redis().prefix}-shared` } });
    const base = fleet.balancer.baseUrl;
    await waitFor(async () => ((await backendsOf(fleet)).every((b) => b.reportedLoad) ? true : undefined), { what: 'load reports' });
    expect((await backendsOf(fleet)).map((b) => b.keepsTasksLocally)).toEqual([false, false, false]);
    const created = await post(base, { durationMs: 0, clientId: 'frank' });
    expect(created.status).toBe(202);
    const reads = [];
    for (let i = 0; i < 6; i += 1) reads.push(await http(`${base}/tasks/${created.body.id}`));
    expect(reads.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(new Set(reads.map((r) => r.headers['x-app-url'])).size).toBe(3);
    expect((await backendsOf(fleet)).map((b) => b.stickyItems)).toEqual([0, 0, 0]);
  });
});
