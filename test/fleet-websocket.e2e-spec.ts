import { afterEach, expect, it } from '@jest/globals';
import { http } from './support/http.js';
import { startFleet } from './support/fleet.js';
import { useProcesses, type ProcessSet } from './support/process.js';
import { describeWithRedis } from './support/redis.js';
import { untilCompleted } from './support/tasks.js';
import { waitFor } from './support/wait.js';
import { TestSocket } from './support/ws.js';

/** WebSocket clients that meet the fleet through the balancer's front door. */

const fleet = (
  processes: ProcessSet,
  redisEnv: Readonly<Record<string, string>>,
  prefix: string,
  serviceEnv = (_i: number): Record<string, string> => ({}),
) =>
  startFleet(processes, {
    redis: { env: redisEnv, prefix },
    serviceEnv: (i) => ({ SHUTDOWN_GRACE_MS: '15000', LOG_LEVEL: 'info', ...serviceEnv(i) }),
    balancerEnv: { LOG_LEVEL: 'info' },
  });

const post = (base: string, body: object) => http(`${base}/tasks`, { method: 'POST', json: body });

describeWithRedis('WebSocket clients through the balancer', (redis) => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('a client connects through the balancer, creates a task through it and follows it to completed', async () => {
    const { balancer, ws } = await fleet(processes, redis().env, `${redis().prefix}-front`);
    const socket = await TestSocket.open(ws('?clientId=front'));
    expect(socket.frames[0].event).toBe('hello');
    const tunnels = (await http(`${balancer.baseUrl}/_balancer/backends`)).body.backends.map((b: any) => b.tunnels);
    expect(tunnels.sort()).toEqual([0, 1]);

    const { status, body } = await post(balancer.baseUrl, { durationMs: 300, clientId: 'front', payload: 'via the front door' });
    expect(status).toBe(202);
    const done = await socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
    expect(done.data.result).toEqual({ workedMs: expect.any(Number), payload: 'via the front door' });
    expect(socket.taskFrames(body.id).some((t) => t.status === 'active' && t.progress > 0 && t.progress < 100)).toBe(true);

    // A second client that subscribes to the finished task gets its state at once.
    const late = await TestSocket.open(ws());
    late.send('subscribe', { taskId: body.id });
    expect((await late.next((f) => f.event === 'task' && f.data.id === body.id)).data).toEqual(done.data);
    socket.close();
    late.close();
    await waitFor(async () => {
      const backends = (await http(`${balancer.baseUrl}/_balancer/backends`)).body.backends;
      return backends.every((b: any) => b.tunnels === 0) ? true : undefined;
    });
  });

  it('SIGTERM of a service closes its tunnelled sockets with 1012; clients reconnect through the balancer to another', async () => {
    // The drained service only queues: the client's task runs on the other one, and is still
    // running when the client comes back.
    const { services, balancer, ws } = await fleet(processes, redis().env, `${redis().prefix}-drain`, (i) =>
      i === 0 ? { TASK_CONCURRENCY: '0' } : ({} as Record<string, string>),
    );
    const sockets = [await TestSocket.open(ws('?clientId=c0')), await TestSocket.open(ws('?clientId=c1'))];
    const instances = sockets.map((s) => s.frames[0].data.instance);
    expect(new Set(instances).size).toBe(2); // round robin: one tunnel to each service
    const victim = services[0];
    const victimInstance = (await http(`${victim.baseUrl}/ping`)).body.instance;
    const onVictim = sockets.find((s) => s.frames[0].data.instance === victimInstance)!;
    const clientId = onVictim === sockets[0] ? 'c0' : 'c1';
    // A task of the client whose socket will be drained, still running when it reconnects.
    const task = (await post(balancer.baseUrl, { durationMs: 4_000, clientId })).body.id;

    victim.kill('SIGTERM');
    expect((await onVictim.next((f) => f.event === 'shutdown', 15_000)).data).toEqual({ reason: 'server shutting down', reconnect: true });
    expect(await onVictim.closed()).toBe(1012);
    expect((await victim.exited()).code).toBe(0);

    const again = await waitFor(async () => TestSocket.open(ws(`?clientId=${clientId}`)), { timeoutMs: 10_000, what: 'a reconnect' });
    expect(again.frames[0].data.instance).not.toBe(victimInstance);
    // Connected with its clientId, it learns the present of its unfinished task at once.
    expect((await again.next((f) => f.event === 'task' && f.data.id === task)).data.status).toBe('active');
    const other = sockets.find((s) => s !== onVictim)!;
    expect(other.ws.readyState).toBe(other.ws.OPEN); // the other service's sockets were untouched
    for (const socket of [again, other]) socket.close();
  });

  it('SIGTERM of the balancer closes its tunnels with 1001 while frames flow, and it exits 0', async () => {
    const { balancer, ws } = await fleet(processes, redis().env, `${redis().prefix}-front-drain`);
    const sockets = [await TestSocket.open(ws()), await TestSocket.open(ws())];
    for (const socket of sockets) {
      socket.send('subscribe', { all: true });
      await socket.next((f) => f.event === 'subscribed');
    }
    for (let i = 0; i < 4; i += 1) await post(balancer.baseUrl, { durationMs: 2_000 });
    await sockets[0].next((f) => f.event === 'task' && f.data.progress >= 20);

    balancer.kill('SIGTERM');
    // A close frame cut into the middle of another frame would make ws fail the connection (1002/1006).
    expect(await Promise.all(sockets.map((s) => s.closed()))).toEqual([1001, 1001]);
    expect(await balancer.exited()).toEqual({ code: 0, signal: null });
    expect(balancer.lines.some((line) => /closing 2 WebSocket tunnels \(1001\)/.test(line))).toBe(true);
  });

  it('the rolling restart, small: clients that reconnect on close learn every final state of their tasks', async () => {
    const { services, balancer, ws } = await fleet(processes, redis().env, `${redis().prefix}-rolling`);
    const clientIds = ['r0', 'r1', 'r2', 'r3'];
    const learned = new Map(clientIds.map((id) => [id, new Map<string, any>()]));
    const closes: number[] = [];
    let stopping = false;
    const connect = async (clientId: string): Promise<void> => {
      const socket = await waitFor(async () => TestSocket.open(ws(`?clientId=${clientId}`)), { timeoutMs: 15_000, what: 'a connection' });
      socket.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString());
        if (frame.event === 'task' && frame.data.status === 'completed') learned.get(clientId)!.set(frame.data.id, frame.data);
      });
      socket.ws.on('close', (code) => {
        closes.push(code);
        if (!stopping) void connect(clientId); // as a browser client would
      });
    };
    await Promise.all(clientIds.map((id) => connect(id)));
    const owner = new Map<string, string>();
    for (const clientId of clientIds) {
      for (let k = 0; k < 2; k += 1) owner.set((await post(balancer.baseUrl, { durationMs: 1_000, clientId })).body.id, clientId);
    }
    // Rolling: one service drains and comes back.
    services[0].kill('SIGTERM');
    expect((await services[0].exited()).code).toBe(0);
    const stored = await untilCompleted(balancer.baseUrl, [...owner.keys()], { timeoutMs: 30_000 });
    await waitFor(async () => ([...owner].every(([id, clientId]) => learned.get(clientId)!.has(id)) ? true : undefined), {
      timeoutMs: 10_000,
      what: 'every client to learn every final state',
    });
    for (const view of stored) expect(learned.get(owner.get(view.id)!)!.get(view.id)).toEqual(view);
    expect(closes.filter((code) => code === 1012).length).toBeGreaterThan(0);
    stopping = true;
    balancer.kill('SIGTERM');
    expect((await balancer.exited()).code).toBe(0);
    // The balancer's exit can be seen before the clients' close events fire: wait for them.
    await waitFor(async () => (closes.filter((code) => code === 1001).length >= clientIds.length ? true : undefined), {
      what: 'every client to see close 1001',
    });
    expect(closes.filter((code) => code === 1001)).toHaveLength(clientIds.length);
  });
});
