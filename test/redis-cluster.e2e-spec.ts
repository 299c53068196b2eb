import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Cluster } from 'ioredis';
import { http } from './support/http.js';
import { keepWriting } from './support/keep-writing.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { describeWithCluster, uniquePrefix } from './support/redis.js';
import { untilCompleted } from './support/tasks.js';
import { TestSocket } from './support/ws.js';
import { waitFor } from './support/wait.js';

/**
 * Redis Cluster with real processes (6 nodes on loopback: 3 primaries, 3 replicas): two
 * services share items spread over the shards and a queue kept in one hash slot, and ride
 * through a planned failover and a crash of the primary that owns the queue's slot.
 */
describeWithCluster('Redis Cluster: two services on a 6-node cluster', (cluster) => {
  const processes = useProcesses();
  const prefix = uniquePrefix();
  /** Every task key carries this hash tag: the queue lives on the primary owning its slot. */
  const queueTag = `{${prefix}}`;
  let a: ServiceProcess;
  let b: ServiceProcess;

  beforeAll(async () => {
    const env = { REDIS_CLUSTER_NODES: cluster().startupNodes, REDIS_PREFIX: prefix };
    [a, b] = await processes.startAll([env, env]);
  });
  afterAll(() => processes.stopAll());

  let nextItem = 2_000;
  const tryCreate = async (base: string, id = (nextItem += 1)) =>
    (await http(`${base}/items/?item_id=${id}`, { method: 'POST', json: { name: 'spread', price: 1 } })).status;
  const createTask = (base: string, body: object = { durationMs: 0 }) =>
    waitFor(
      async () => {
        const response = await http(`${base}/tasks`, { method: 'POST', json: body });
        if (response.status === 503) return undefined;
        expect(response.status).toBe(202);
        return response.body.id as string;
      },
      { what: `a task created on ${base}`, timeoutMs: 15_000 },
    );
  const redisDetails = async (base: string) => (await http(`${base}/ready`)).body.details.redis;

  /** Both services keep writing items until stopped; every answer counted, the slowest timed. */
  const keepWritingItems = () =>
    keepWriting(
      () => [a.baseUrl, b.baseUrl],
      (base) => tryCreate(base),
    );

  /** Each service lists `port` among its primaries and creates and runs tasks again. */
  const untilBothUse = async (port: number) => {
    for (const service of [a, b]) {
      await waitFor(
        async () => {
          const details = await redisDetails(service.baseUrl);
          if (details.primaries?.includes(`127.0.0.1:${port}`)) return true;
          throw new Error(`redis: ${JSON.stringify(details)}`);
        },
        { what: `${service.baseUrl} using the new primary`, timeoutMs: 20_000 },
      );
    }
  };

  it('items spread over the three primaries, task keys share one slot, and /ready lists the primaries and their replicas', async () => {
    for (let id = 1; id <= 30; id += 1) expect(await tryCreate(a.baseUrl, id)).toBe(200);
    expect((await http(`${b.baseUrl}/items/7`)).body).toMatchObject({ name: 'spread' });
    const task = await createTask(a.baseUrl);
    await untilCompleted(b.baseUrl, [task], { timeoutMs: 10_000 });

    const admin = new Cluster([{ host: '127.0.0.1', port: cluster().livePort() }]);
    try {
      await new Promise((resolve) => admin.once('ready', resolve));
      const keysByPrimary = await Promise.all(admin.nodes('master').map((node) => node.keys(`*${prefix}*`)));
      const itemShards = keysByPrimary.filter((keys) => keys.some((key) => key.startsWith(`${prefix}:item:`)));
      expect(itemShards.length).toBe(3);
      const taskShards = keysByPrimary.filter((keys) => keys.some((key) => key.startsWith(queueTag)));
      expect(taskShards.length).toBe(1);
      expect(taskShards[0].some((key) => key.startsWith(`${queueTag}:bull:`))).toBe(true);
      expect(
        keysByPrimary
          .flat()
          .filter((key) => key.includes(`:bull:`))
          .every((key) => key.startsWith(queueTag)),
      ).toBe(true);
    } finally {
      admin.disconnect();
    }

    const details = await waitFor(async () => {
      const now = await redisDetails(a.baseUrl);
      return now.replicas?.length === 3 ? now : undefined;
    });
    expect(details).toMatchObject({ status: 'up', mode: 'cluster', primarySwitches: 0 });
    expect(details.primaries).toHaveLength(3);
    for (const replica of details.replicas) {
      expect(details.primaries).toContain(replica.of);
      expect(replica).toMatchObject({ state: 'online', lagSeconds: expect.any(Number), behindBytes: expect.any(Number) });
    }
  });

  it('REDIS_MIN_REPLICAS_ACK=1 waits on the primary owning the queue: 202 once its replica has the task; with that replica frozen, 503 naming the task', async () => {
    const acked = await processes.start({ REDIS_CLUSTER_NODES: cluster().startupNodes, REDIS_PREFIX: prefix, REDIS_MIN_REPLICAS_ACK: '1' });
    const create = (key: string) =>
      http(`${acked.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 0 }, headers: { 'idempotency-key': key } });
    expect((await create('cluster-replicated')).status).toBe(202);

    const owner = cluster().ownerOf(queueTag)!;
    const replica = cluster().nodes.find(({ port }) => cluster().replicaOf(port) === owner)!;
    replica.freeze();
    try {
      const refused = await create('cluster-not-replicated');
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ replicasAcknowledged: 0, replicasRequired: 1 });
      await untilCompleted(acked.baseUrl, [refused.body.taskId as string], { timeoutMs: 10_000 });
    } finally {
      replica.freeze(false);
    }
    await cluster().untilHealthy();
  });

  it('a planned failover of the queue’s primary: both services follow, lose nothing, and write again within seconds', async () => {
    const oldOwner = cluster().ownerOf(queueTag)!;
    const writer = keepWritingItems();
    const newOwner = await cluster().switchover(queueTag);
    expect(newOwner).not.toBe(oldOwner);
    await untilBothUse(newOwner);
    const { answers, slowestMs } = await writer.stop();
    expect([...answers.keys()].every((status) => status === 200 || status === 503)).toBe(true);
    expect(answers.get(200)).toBeGreaterThan(0);
    expect(slowestMs).toBeLessThan(3_000);
    expect((await redisDetails(a.baseUrl)).primarySwitches).toBeGreaterThanOrEqual(1);
    await untilCompleted(b.baseUrl, [await createTask(a.baseUrl), await createTask(b.baseUrl)], { timeoutMs: 15_000 });
    await cluster().untilHealthy();
  });

  it('the queue’s primary killed (kill -9): its replica takes the slots, both services follow, and a task running then still completes for its follower', async () => {
    const running = await createTask(a.baseUrl, { durationMs: 1_500 });
    const follower = await TestSocket.open(`${b.baseUrl.replace('http', 'ws')}/ws`);
    follower.send('subscribe', { taskId: running });
    await follower.next((frame) => frame.event === 'subscribed');
    const oldOwner = cluster().ownerOf(queueTag)!;
    const writer = keepWritingItems();
    await cluster()
      .nodes.find((node) => node.port === oldOwner)!
      .stop('SIGKILL');
    const newOwner = await cluster().untilOwnerIsNot(queueTag, oldOwner);
    await untilBothUse(newOwner);
    const { answers, slowestMs } = await writer.stop();
    expect([...answers.keys()].every((status) => status === 200 || status === 503)).toBe(true);
    expect(slowestMs).toBeLessThan(3_000);
    await untilCompleted(b.baseUrl, [running, await createTask(b.baseUrl)], { timeoutMs: 30_000 });
    await follower.next((frame) => frame.event === 'task' && frame.data.id === running && frame.data.status === 'completed', 10_000);
    follower.close();
  });
});
