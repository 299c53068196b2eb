import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { http } from './support/http.js';
import { keepWriting } from './support/keep-writing.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { describeWithSentinel, uniquePrefix } from './support/redis.js';
import { redisCli } from './support/spawn.mjs';
import { untilCompleted } from './support/tasks.js';
import { TestSocket } from './support/ws.js';
import { waitFor } from './support/wait.js';

/**
 * Redis Sentinel with real processes (1 primary, 2 replicas, 3 sentinels on loopback): two
 * services reach the primary the sentinels name, share items and tasks through it, and ride
 * through a planned switchover (SENTINEL FAILOVER) by themselves.
 */
describeWithSentinel('Redis Sentinel: two services on the primary the sentinels name', (fleet) => {
  const processes = useProcesses();
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeAll(async () => {
    const env = { REDIS_SENTINELS: fleet().sentinels, REDIS_SENTINEL_NAME: fleet().name, REDIS_PREFIX: uniquePrefix() };
    [a, b] = await processes.startAll([env, env]);
  });
  afterAll(() => processes.stopAll());

  let nextItem = 1_000;
  const createItem = async (base: string, name: string) => {
    const id = (nextItem += 1);
    const response = await http(`${base}/items/?item_id=${id}`, { method: 'POST', json: { name, price: 1 } });
    expect(response.status).toBe(200);
    return id;
  };
  const tryCreate = async (base: string) =>
    (await http(`${base}/items/?item_id=${(nextItem += 1)}`, { method: 'POST', json: { name: 'during', price: 1 } })).status;
  /** A create as a client makes it: a 503 + Retry-After (a queue connection still moving to the new primary) is retried. */
  const createTask = (base: string) =>
    waitFor(
      async () => {
        const response = await http(`${base}/tasks`, { method: 'POST', json: { durationMs: 0 } });
        if (response.status === 503) return undefined;
        expect(response.status).toBe(202);
        return response.body.id as string;
      },
      { what: `a task created on ${base}`, timeoutMs: 15_000 },
    );
  const redisDetails = async (base: string) => (await http(`${base}/ready`)).body.details.redis;
  /** Tasks this instance's worker completed, from its /metrics. */
  const completedBy = async (base: string) => {
    const text = String((await http(`${base}/metrics`)).body);
    return [...text.matchAll(/^ballast_tasks_finished_total\{[^}]*outcome="completed"[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  };
  /** Every service's own worker completes tasks again (not only some instance's): tasks are created until each has. */
  const untilEveryWorkerCompletes = async () => {
    const before = await Promise.all([a, b].map((service) => completedBy(service.baseUrl)));
    await waitFor(
      async () => {
        await createTask(a.baseUrl);
        const now = await Promise.all([a, b].map((service) => completedBy(service.baseUrl)));
        return now.every((count, i) => count > before[i]) ? true : undefined;
      },
      { what: 'both services’ workers completing tasks again', timeoutMs: 15_000 },
    );
  };

  /** Both services keep writing items until stopped; every answer counted, the slowest timed. */
  const keepWritingItems = () =>
    keepWriting(
      () => [a.baseUrl, b.baseUrl],
      (base) => tryCreate(base),
    );

  /** Each service names `port` as its primary and writes there. */
  const untilBothWriteOn = async (port: number) => {
    for (const service of [a, b]) {
      await waitFor(
        async () => {
          const details = await redisDetails(service.baseUrl);
          if (details.primary === `127.0.0.1:${port}`) return true;
          throw new Error(`redis: ${JSON.stringify(details)}`);
        },
        {
          what: `${service.baseUrl} on the new primary`,
          timeoutMs: 20_000,
        },
      );
      await waitFor(async () => ((await tryCreate(service.baseUrl)) === 200 ? true : undefined), {
        what: `${service.baseUrl} writing again`,
        timeoutMs: 20_000,
      });
    }
  };

  it('items and tasks written through one service are read and run through the other; /ready names the mode and the primary', async () => {
    const primary = `127.0.0.1:${fleet().primaryPort()}`;
    for (const service of [a, b]) {
      expect(await redisDetails(service.baseUrl)).toMatchObject({ status: 'up', mode: 'sentinel', primary, primarySwitches: 0 });
    }
    const item = await createItem(a.baseUrl, 'kept by the primary');
    expect((await http(`${b.baseUrl}/items/${item}`)).body).toMatchObject({ name: 'kept by the primary' });
    const task = await createTask(a.baseUrl);
    await untilCompleted(b.baseUrl, [task], { timeoutMs: 10_000 });
  });

  it('REDIS_MIN_REPLICAS_ACK=2: a create answers 202 once both replicas have it; with them frozen, 503 naming the task, and a retry with its key gets that task', async () => {
    const acked = await processes.start({
      REDIS_SENTINELS: fleet().sentinels,
      REDIS_SENTINEL_NAME: fleet().name,
      REDIS_PREFIX: uniquePrefix(),
      REDIS_MIN_REPLICAS_ACK: '2',
    });
    const create = (key: string) =>
      http(`${acked.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 0 }, headers: { 'idempotency-key': key } });
    expect((await create('replicated')).status).toBe(202);

    const replicas = fleet().nodes.slice(1);
    for (const replica of replicas) replica.freeze();
    try {
      const started = performance.now();
      const refused = await create('not-yet-replicated');
      // WAIT is bounded by half the command timeout (500 ms of 1000).
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.body).toMatchObject({ replicasAcknowledged: 0, replicasRequired: 2 });
      const taskId = refused.body.taskId as string;
      // Queued on the primary all the same: it runs.
      await untilCompleted(acked.baseUrl, [taskId], { timeoutMs: 10_000 });

      for (const replica of replicas) replica.freeze(false);
      await fleet().untilReplicasOnline(2);
      const retried = await create('not-yet-replicated');
      expect(retried.status).toBe(202);
      expect(retried.headers['idempotent-replayed']).toBe('true');
      expect(retried.body.id).toBe(taskId);
    } finally {
      for (const replica of replicas) replica.freeze(false);
    }
  });

  it('a planned switchover: both services move to the new primary, lose nothing written before it, and write again within seconds', async () => {
    const before = [await createItem(a.baseUrl, 'before the switchover'), await createItem(b.baseUrl, 'before, on b')];
    const oldPrimary = fleet().primaryPort();
    const switched = fleet().switchover();
    // Clients keep writing through the switchover: every answer is 200 or a clean 503, never a hang.
    const writer = keepWritingItems();
    const newPrimary = await switched;
    expect(newPrimary).not.toBe(oldPrimary);
    await untilBothWriteOn(newPrimary);
    const { answers, slowestMs } = await writer.stop();
    expect([...answers.keys()].every((status) => status === 200 || status === 503)).toBe(true);
    expect(answers.get(200)).toBeGreaterThan(0);
    // Within the command timeout (1 s) and a retry, never a hang.
    expect(slowestMs).toBeLessThan(3_000);
    for (const id of before) expect((await http(`${a.baseUrl}/items/${id}`)).status).toBe(200);
    const details = await redisDetails(a.baseUrl);
    expect(details.primarySwitches).toBeGreaterThanOrEqual(1);
    expect(typeof details.lastSwitchAt).toBe('string');
    // Workers resumed on the new primary: tasks created on either service run, and both workers run them.
    await untilCompleted(b.baseUrl, [await createTask(a.baseUrl), await createTask(b.baseUrl)], { timeoutMs: 15_000 });
    await untilEveryWorkerCompletes();
  });

  it('the primary killed (kill -9): the sentinels promote a replica, both services follow, and a task running then still completes', async () => {
    const before = await createItem(a.baseUrl, 'before the crash');
    const running = (await http(`${a.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 1_500 } })).body.id as string;
    // A socket on the other service follows it through the failover.
    const follower = await TestSocket.open(`${b.baseUrl.replace('http', 'ws')}/ws`);
    follower.send('subscribe', { taskId: running });
    await follower.next((frame) => frame.event === 'subscribed');
    const oldPrimary = await fleet().untilReplicasOnline(1);
    // A replica has everything written so far (WAIT), and Sentinel promotes the replica furthest
    // along: what follows may be lost, this may not.
    expect(Number(redisCli(oldPrimary, 'WAIT', '1', '5000'))).toBeGreaterThanOrEqual(1);
    const writer = keepWritingItems();
    await fleet()
      .nodes.find((node) => node.port === oldPrimary)!
      .stop('SIGKILL');
    const newPrimary = await fleet().untilPrimaryIsNot(oldPrimary);
    await untilBothWriteOn(newPrimary);
    const { answers, slowestMs } = await writer.stop();
    expect([...answers.keys()].every((status) => status === 200 || status === 503)).toBe(true);
    expect(slowestMs).toBeLessThan(3_000);
    // Replication is asynchronous: what the old primary acknowledged a moment before it died may
    // be gone (documented). An item the replicas confirmed is not.
    expect((await http(`${b.baseUrl}/items/${before}`)).status).toBe(200);
    await untilCompleted(b.baseUrl, [running, await createTask(b.baseUrl)], { timeoutMs: 30_000 });
    // Every worker came back, not just one: ioredis can end a Sentinel client for good in a
    // failover (ioredis#1683), which left every service's worker, queue and events stopped.
    await untilEveryWorkerCompletes();
    // Its follower is told it completed (the queue's events resumed on the new primary, and the
    // gateway re-reads the tasks its sockets follow when they do).
    await follower.next((frame) => frame.event === 'task' && frame.data.id === running && frame.data.status === 'completed', 10_000);
    await b.waitForLine(/queue events resumed: telling the followers of [1-9]\d* tasks/, 10_000);
    follower.close();
    expect((await redisDetails(b.baseUrl)).primarySwitches).toBeGreaterThanOrEqual(2);
  });
});
