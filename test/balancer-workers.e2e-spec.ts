import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { startBareBackend } from './support/bare-backend.js';
import { startFleet } from './support/fleet.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { waitFor } from './support/wait.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request on a connection of its own: node:cluster hands each new connection to the next
 * worker (round robin), so consecutive calls land on alternating workers.
 */
function onFreshConnection(url: string, options: { method?: string; json?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    const req = request(
      url,
      { method: options.method ?? 'GET', agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The start resolves with the first worker listening; the second boots alongside it, and the
 * balancer says it is ready only once both listen.
 */
function untilReady(balancer: ServiceProcess): Promise<Answer> {
  return waitFor(
    async () => {
      const answer = await onFreshConnection(`${balancer.baseUrl}/_balancer/ready`);
      return answer.status === 200 ? answer : undefined;
    },
    { timeoutMs: 20_000, what: '/_balancer/ready to answer 200' },
  );
}

/** The parts of /_balancer/backends these tests read. */
interface BackendsView {
  backends: { inFlight: number }[];
  byWorker: { worker: number; queued: number; backends: { inFlight: number; share: number | null }[] }[];
}

/** BALANCER_WORKERS=2: node:cluster workers share the port and the fleet's state. */
describe('balancer with BALANCER_WORKERS=2', () => {
  const processes = useProcesses();
  let services: ServiceProcess[];
  let balancer: ServiceProcess;

  beforeAll(async () => {
    // Memory item stores: only the backend that created an item has it, so stickiness is visible.
    ({ services, balancer } = await startFleet(processes, {
      balancerEnv: { BALANCER_WORKERS: '2', HEALTH_CHECK_INTERVAL_MS: '0', RETRY_DOWNTIME_MS: '60000' },
    }));
    const ready = await untilReady(balancer);
    // Both listen by then (the first test sees each answer): connections go to each in turn.
    expect(JSON.parse(ready.body).details.workers).toEqual({ status: 'up', allListening: true });
  });

  afterAll(async () => {
    if (balancer.child.exitCode === null) balancer.kill('SIGTERM');
  });

  it('a create seen by one worker routes the reads that land on the other to the same backend', async () => {
    const created = await onFreshConnection(`${balancer.baseUrl}/items/?item_id=31`, {
      method: 'POST',
      json: { name: 'shared', price: 1 },
    });
    expect(created.status).toBe(200);
    const owner = created.headers['x-app-url'];
    const reads = [];
    for (let i = 0; i < 6; i += 1) reads.push(await onFreshConnection(`${balancer.baseUrl}/items/31`));
    expect(reads.map((r) => [r.status, r.headers['x-app-url']])).toEqual(reads.map(() => [200, owner]));
    // Both workers answered reads, so the one that did not see the create honoured it too.
    expect(new Set(reads.map((r) => r.headers['x-balancer-worker']))).toEqual(new Set(['1', '2']));
    expect(reads.some((r) => r.headers['x-balancer-worker'] !== created.headers['x-balancer-worker'])).toBe(true);
  });

  it('an ejection seen by one worker is honoured by all: the dead backend gets exactly one attempt in all', async () => {
    const victim = services[1];
    victim.kill('SIGKILL');
    await victim.exited();
    const pings = [];
    for (let i = 0; i < 8; i += 1) pings.push(await onFreshConnection(`${balancer.baseUrl}/ping`));
    expect(pings.map((p) => p.status)).toEqual(pings.map(() => 200)); // the one failed attempt was retried

    // Whichever worker answers /_balancer/backends, it shows the shared state and the whole
    // fleet's counters, gathered from both workers through the primary.
    const views = new Map<number, any>();
    await waitFor(async () => {
      const view = JSON.parse((await onFreshConnection(`${balancer.baseUrl}/_balancer/backends`)).body);
      views.set(view.worker, view);
      return views.size === 2 ? true : undefined;
    });
    const rowsOf = (url: string) => [...views.values()].map((view) => view.backends.find((b: any) => b.url === url));
    expect([...views.values()].map((view) => view.workers)).toEqual([2, 2]);
    for (const row of rowsOf(victim.baseUrl)) {
      expect(row).toMatchObject({ state: 'ejected', requests: 1, failures: 1, inFlight: 0 });
      expect(row.outcomes).toEqual({ success: 0, status_5xx: 0, connect: 1, timeout: 0, reset: 0, client_gone: 0 });
    }
    // 1 create + 6 reads + 8 pings, split between the workers, summed in each answer.
    for (const row of rowsOf(services[0].baseUrl)) {
      expect(row).toMatchObject({ state: 'up', requests: 15, failures: 0, inFlight: 0 });
      expect(row.outcomes.success).toBe(15);
    }
  });

  it('/_balancer/metrics merges every worker: attempts add up to what the clients saw', async () => {
    const text = (await onFreshConnection(`${balancer.baseUrl}/_balancer/metrics`)).body;
    const count = (backend: string, outcome: string) =>
      Number(
        new RegExp(`^ballast_balancer_attempts_total\\{backend="${backend}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0,
      );
    // 1 create + 6 reads + 8 pings answered by the live backend, 1 refused connection to the dead one.
    expect(count(services[0].baseUrl, 'success')).toBe(15);
    expect(count(services[1].baseUrl, 'connect')).toBe(1);
    expect(text).toMatch(new RegExp(`^ballast_balancer_backend_ejected\\{backend="${services[1].baseUrl}"\\} 1$`, 'm'));
  });

  it('SIGTERM to the primary drains every worker and exits 0', async () => {
    balancer.kill('SIGTERM');
    await expect(balancer.exited()).resolves.toEqual({ code: 0, signal: null });
    // Both workers drained (each logs it), not just the primary exiting.
    const completed = balancer.lines.filter((line) => line.includes('"msg":"shutdown complete"')).map((line) => JSON.parse(line).pid);
    expect(new Set(completed).size).toBe(2);
  });
});

describe('per-client limits with BALANCER_WORKERS=2', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it("hold a client to its rate over both workers together, not each worker's", async () => {
    const { balancer } = await startFleet(processes, {
      services: 1,
      balancerEnv: { BALANCER_WORKERS: '2', BALANCER_CLIENT_RATE: '5', BALANCER_CLIENT_BURST: '5' },
    });
    await untilReady(balancer);
    // One client (one address) at 20 requests/s for 3 s, each on a connection of its own: the
    // workers take turns. Its due is a burst of 5 + 5/s x 3 s = 20; a worker each would let ~40 in.
    const answers: Answer[] = [];
    for (let i = 0; i < 60; i += 1) {
      answers.push(await onFreshConnection(`${balancer.baseUrl}/ping`));
      await sleep(50);
    }
    const admitted = answers.filter((a) => a.status === 200);
    expect(new Set(admitted.map((a) => a.headers['x-balancer-worker']))).toEqual(new Set(['1', '2']));
    expect(admitted.length).toBeGreaterThanOrEqual(18);
    expect(admitted.length).toBeLessThanOrEqual(25);
    expect(answers.filter((a) => a.status !== 200).every((a) => a.status === 429)).toBe(true);
  });
});

describe('the primary tells its workers once they listen', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('one worker runs the active checks (the message naming it used to arrive before it could hear it)', async () => {
    const backend = await startBareBackend((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    try {
      const balancer = await processes.start({
        ROLE: 'balancer',
        BACKENDS: backend.url,
        BALANCER_WORKERS: '2',
        HEALTH_CHECK_INTERVAL_MS: '100',
      });
      await untilReady(balancer);
      const checks = () => backend.seen.filter((request) => request.url === '/ready').length;
      await waitFor(async () => (checks() >= 5 ? true : undefined), { what: 'five /ready checks' });
    } finally {
      await backend.close();
    }
  });

  it('a worker restarted after a crash starts with the sticky table the others hold', async () => {
    const { balancer } = await startFleet(processes, {
      balancerEnv: { BALANCER_WORKERS: '2', HEALTH_CHECK_INTERVAL_MS: '0' },
    });
    await untilReady(balancer);
    const created = await onFreshConnection(`${balancer.baseUrl}/items/?item_id=77`, { method: 'POST', json: { name: 'kept', price: 1 } });
    expect(created.status).toBe(200);
    const owner = created.headers['x-app-url'];
    // The primary restarts only a worker that ran 5 s (a crash loop is not restarted).
    await sleep(5_200);
    const { pid } = JSON.parse((await onFreshConnection(`${balancer.baseUrl}/_balancer/live`)).body).info.process;
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (balancer.lines.some((line) => line.includes('starting another')) ? true : undefined), {
      what: 'the primary to restart the worker',
    });
    // Its replacement (worker 3) holds the owner before any request could have told it: asked
    // before any other request reaches the balancer, it names the owner of the one item.
    const status = await waitFor(
      async () => {
        const answer = await onFreshConnection(`${balancer.baseUrl}/_balancer/backends`);
        const body = JSON.parse(answer.body);
        return body.worker === 3 ? body : undefined;
      },
      { timeoutMs: 15_000, what: 'the restarted worker to answer' },
    );
    expect(status.stickyItems).toBe(1);
    expect(status.backends.find((backend: { url: string }) => backend.url === owner).stickyItems).toBe(1);
  }, 40_000);
});

describe("a shedding backend's slots with BALANCER_WORKERS=2", () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  /** A keep-alive connection of its own, and the worker that accepted it (a connection stays with its worker). */
  async function connectionToAWorker(base: string): Promise<{ agent: Agent; worker: string }> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answer = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      request(`${base}/ping`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      })
        .on('error', reject)
        .end();
    });
    return { agent, worker: String(answer['x-balancer-worker']) };
  }

  function longTask(base: string, agent: Agent, ms: number): Promise<number> {
    return new Promise((resolve, reject) => {
      request(`${base}/long_task?ms=${ms}`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
  }

  it('are split between the workers while both have requests waiting, not kept by the one that held them', async () => {
    // One backend that takes 4 at once; each request holds a slot for 400 ms.
    const { balancer } = await startFleet(processes, {
      services: 1,
      serviceEnv: () => ({ READY_SHED: 'true', READY_MAX_CLIENTS: '4', READY_MIN_CLIENTS: '3' }),
      balancerEnv: { BALANCER_WORKERS: '2', HEALTH_CHECK_INTERVAL_MS: '0', BALANCER_QUEUE_MS: '10000' },
    });
    await untilReady(balancer);
    const base = balancer.baseUrl;
    // Eight connections to each worker (node:cluster deals new connections out in turn).
    const byWorker = new Map<string, Agent[]>();
    while ([...byWorker.values()].filter((agents) => agents.length >= 8).length < 2) {
      const { agent, worker } = await connectionToAWorker(base);
      byWorker.set(worker, [...(byWorker.get(worker) ?? []), agent]);
    }
    const [[first, firstAgents], [second, secondAgents]] = [...byWorker.entries()];
    try {
      const served: string[] = [];
      const refused: number[] = [];
      const send = (worker: string, agents: Agent[]) =>
        agents.slice(0, 8).map(async (agent) => {
          const status = await longTask(base, agent, 400);
          if (status === 200) served.push(worker);
          else refused.push(status);
        });
      // The first worker's eight: four take the slots, four wait. Then the other's eight wait too.
      const early = send(first, firstAgents);
      await sleep(100);
      const late = send(second, secondAgents);
      // While both wait, /_balancer/backends says each worker's part: the worker held to its
      // share shows it, and the workers' requests in flight add up to the backend's.
      const split = await waitFor(
        async () => {
          const status = JSON.parse((await onFreshConnection(`${base}/_balancer/backends`)).body) as BackendsView;
          return status.byWorker.some((worker) => worker.backends[0].share !== null) ? status : undefined;
        },
        { timeoutMs: 2_000, what: 'a worker held to its share' },
      );
      expect(split.byWorker.map((worker) => String(worker.worker)).sort()).toEqual([first, second].sort());
      expect(split.byWorker.reduce((sum, worker) => sum + worker.backends[0].inFlight, 0)).toBe(split.backends[0].inFlight);
      for (const worker of split.byWorker) {
        const { share } = worker.backends[0];
        if (share !== null) expect(share).toBeLessThanOrEqual(4);
      }
      await Promise.all([...early, ...late]);
      // The other worker had not heard from the backend since the first filled it, so its first
      // requests went there and were refused (full): they waited for a slot rather than come back
      // 503, their only backend having been tried.
      expect(refused).toEqual([]);
      // The first four served are the first worker's (they held the slots). Alone, the first
      // worker refilled each slot its own request freed, so the next four were its too, while
      // the other's waited; with the slots split, the other has its share of them.
      expect(served.slice(0, 4)).toEqual([first, first, first, first]);
      expect(served.slice(4, 8).filter((worker) => worker === second).length).toBeGreaterThanOrEqual(2);
    } finally {
      for (const agents of byWorker.values()) for (const agent of agents) agent.destroy();
    }
  }, 40_000);
});
