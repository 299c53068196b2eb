import { afterEach, describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { http } from './support/http.js';
import { itemOwnedBy, startFleet } from './support/fleet.js';
import { stopProcess, useProcesses, type ProcessSet } from './support/process.js';
import { rawRequest } from './support/raw.js';
import { describeWithRedis, startPrivateRedis, type PrivateRedis } from './support/redis.js';
import { untilCompleted } from './support/tasks.js';
import { waitFor } from './support/wait.js';

/**
 * Fault containment with real processes: no single request, body or outage takes the fleet
 * down. Each test counts what every client saw.
 */

const cluster = (
  processes: ProcessSet,
  size: number,
  balancerEnv: Record<string, string>,
  serviceEnv = (_i: number): Record<string, string | undefined> => ({}),
) => startFleet(processes, { services: size, balancerEnv, serviceEnv });

const backendsOf = async (base: string) => (await http(`${base}/_balancer/backends`)).body.backends as any[];
const pingPorts = async (base: string, n: number) => {
  const ports: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const response = await http(`${base}/ping`);
    expect(response.status).toBe(200);
    ports.push(response.body.port);
  }
  return ports;
};
const ejectionsOf = (metrics: string, url: string) =>
  Number(new RegExp(`ballast_balancer_ejections_total\\{backend="${url.replace(/[/.]/g, '\\$&')}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);

describe('a client cannot eject the fleet', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('after a poison request and three deadline 503s, pings still reach every backend', async () => {
    const { ports, balancer } = await cluster(processes, 3, { HEALTH_CHECK_INTERVAL_MS: '200' });
    const base = balancer.baseUrl;
    // Every backend answers this one 500: the request's fault, not theirs.
    const poison = await http(`${base}/api/work?error=1&hang=0&invalid=0&min=0&max=0`);
    // Tried on each backend once; the last one's own answer reaches the client, not a 502 about it.
    expect(poison.status).toBe(500);
    expect(poison.body.message).toBe('Simulated upstream error');
    expect((await backendsOf(base)).map((backend) => backend.outcomes.status_5xx)).toEqual([1, 1, 1]);
    for (let i = 0; i < 3; i += 1) expect((await http(`${base}/api/smart?timeout=1`)).status).toBeGreaterThanOrEqual(500);

    expect(new Set(await pingPorts(base, 6))).toEqual(new Set(ports));
    for (const backend of await backendsOf(base)) expect(backend).toMatchObject({ ejectedUntil: null, busyUntil: null, healthy: true });
  });

  it('a backend that sheds is full, not broken: never ejected, sent nothing while its report says full, back when it has room', async () => {
    // One service sheds load (READY_SHED): while a long task holds its only slot it answers 503 + Retry-After: 1.
    const { urls, balancer } = await cluster(processes, 2, { HEALTH_CHECK_INTERVAL_MS: '0' }, (i) =>
      i === 0 ? { READY_SHED: 'true', READY_MIN_CLIENTS: '1', READY_MAX_CLIENTS: '1' } : {},
    );
    const holder = http(`${urls[0]}/long_task?ms=3000`);
    await waitFor(async () => ((await http(`${urls[0]}/ready`)).status === 503 ? true : undefined));
    const answers = [];
    for (let i = 0; i < 6; i += 1) answers.push(await http(`${balancer.baseUrl}/ping`));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // The load report is between the service and the balancer only.
    expect(answers.every((a) => a.headers['x-ballast-load'] === undefined)).toBe(true);
    const [shedding] = await backendsOf(balancer.baseUrl);
    expect(shedding).toMatchObject({ ejectedUntil: null, ejections: 0 });
    expect(shedding.reportedLoad).toMatchObject({ clients: 1, maxClients: 1, cooldown: true, shed: true });
    // Asked once; its 503 said it was full, so round robin passed it over (it would ask it on each of the 6).
    expect(answers.every((a) => a.headers['x-app-url'] === urls[1])).toBe(true);
    expect(shedding.requests).toBe(1);
    expect((await holder).status).toBe(200);
    // Its slot free again (its report ages out, or a check says so), it gets requests again.
    await waitFor(async () => ((await http(`${balancer.baseUrl}/ping`)).headers['x-app-url'] === urls[0] ? true : undefined), {
      what: 'the shedding backend to get traffic again',
    });
  });

  it('a killed backend restarted under a 30 s ejection gets traffic once it passes /ready, long before the ejection ends', async () => {
    const { ports, urls, services, balancer } = await cluster(processes, 3, {
      HEALTH_CHECK_INTERVAL_MS: '200',
      RETRY_DOWNTIME_MS: '30000',
    });
    // An item it owns pins a read to it whatever the checks have seen: that read finds it refusing.
    const itemId = await itemOwnedBy(balancer.baseUrl, urls[1]);
    await stopProcess(services[1]);
    expect((await http(`${balancer.baseUrl}/items/${itemId}`)).status).toBe(502);
    const ejected = (await backendsOf(balancer.baseUrl))[1];
    expect(Date.parse(ejected.ejectedUntil) - Date.now()).toBeGreaterThan(20_000);

    await processes.start({ PORT: String(ports[1]) });
    await waitFor(async () => ((await http(`${urls[1]}/ready`)).status === 200 ? true : undefined));
    // Well inside the 30 s ejection: only the passing check can have returned it.
    await waitFor(async () => ((await pingPorts(balancer.baseUrl, 1))[0] === ports[1] ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the returned backend to get a request',
    });
    expect(Date.parse(ejected.ejectedUntil)).toBeGreaterThan(Date.now());
    expect((await backendsOf(balancer.baseUrl))[1]).toMatchObject({ ejectedUntil: null });
  });

  it('a slow backend stalls at most one request per return from ejection', async () => {
    // Returns happen when an ejection expires (active checks off: on 2 cores under this load
    // they time out, and ending ejections early is tested above). Before half-open, every
    // client waiting at the expiry landed on it at once.
    const { urls, balancer } = await cluster(
      processes,
      3,
      { HEALTH_CHECK_INTERVAL_MS: '0', MAX_RESPONSE_DELAY_MS: '300', RETRY_DOWNTIME_MS: '200' },
      (i) => (i === 2 ? { FAULT_MODE: 'slow', FAULT_DELAY_MS: '3000' } : {}),
    );
    const base = balancer.baseUrl;
    const ejections = async () => ejectionsOf((await http(`${base}/_balancer/metrics`)).text, urls[2]);
    const slowState = async () => {
      // Settled: no attempt in flight on it, so every request it got has been judged.
      const slow = await waitFor(async () => {
        const backend = (await backendsOf(base))[2];
        return backend.inFlight === 0 ? backend : undefined;
      });
      return { requests: slow.requests as number, ejections: await ejections() };
    };
    /** Five clients until `enough()` or 15 s (and 2000 requests each). */
    const load = async (enough: () => Promise<boolean>) => {
      const statuses: number[] = [];
      const until = Date.now() + 15_000;
      let done = false;
      const watcher = (async () => {
        while (!done && Date.now() < until) {
          if (await enough()) done = true;
          else await new Promise((resolve) => setTimeout(resolve, 200)); // poll interval: the state is in another process
        }
        done = true;
      })();
      await Promise.all(
        Array.from({ length: 5 }, async () => {
          for (let i = 0; i < 2000 && !done; i += 1) statuses.push((await http(`${base}/ping`)).status);
        }),
      );
      await watcher;
      return statuses;
    };
    // Discovery: whatever is sent to it before its first timeout stalls; that is the price of finding out.
    expect((await load(async () => (await ejections()) >= 1)).filter((status) => status !== 200)).toEqual([]);
    const before = await slowState();
    // Then only returns: run until it has come back (and been sent away) twice more.
    expect((await load(async () => (await ejections()) >= before.ejections + 2)).filter((status) => status !== 200)).toEqual([]);
    const after = await slowState();
    const returns = after.ejections - before.ejections;
    expect(returns).toBeGreaterThanOrEqual(2);
    // Each return got exactly one request (the probe), which timed out and sent it back.
    expect(after.requests - before.requests).toBe(returns);
  });
});

describe('early answers and bad input at the door', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  const fiveMegabytes = Buffer.alloc(5 * 1024 * 1024, 0x78);
  const postBig = async (url: string) => {
    try {
      const response = await request(url, { method: 'POST', body: fiveMegabytes, headers: { 'content-type': 'application/json' } });
      await response.body.dump();
      return response.statusCode;
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  };

  it('a 5 MB body gets the 413 every time, direct and through the balancer, and ejects nothing', async () => {
    const { urls, balancer } = await cluster(processes, 2, { HEALTH_CHECK_INTERVAL_MS: '0' });
    const direct: (number | string)[] = [];
    for (let i = 0; i < 40; i += 1) direct.push(await postBig(`${urls[0]}/items/?item_id=${i}`));
    expect(direct).toEqual(Array(40).fill(413));
    const through: (number | string)[] = [];
    for (let i = 0; i < 20; i += 1) through.push(await postBig(`${balancer.baseUrl}/tasks`));
    expect(through).toEqual(Array(20).fill(413));
    for (const backend of await backendsOf(balancer.baseUrl)) expect(backend).toMatchObject({ ejectedUntil: null, failures: 0 });
  });

  it('JSON nested 5000 deep is a 400 on every JSON route, direct and through the balancer', async () => {
    const { urls, balancer } = await cluster(processes, 1, { HEALTH_CHECK_INTERVAL_MS: '0' });
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const routes: [string, string][] = [
      ['POST', '/items/?item_id=5'],
      ['PUT', '/items/5'],
      ['POST', '/tasks'],
    ];
    for (const base of [urls[0], balancer.baseUrl]) {
      for (const [method, path] of routes) {
        const response = await http(`${base}${path}`, { method, body: deep, headers: { 'content-type': 'application/json' } });
        expect({ method, path, status: response.status, message: response.body.message }).toEqual({
          method,
          path,
          status: 400,
          message: 'JSON nested deeper than 64 levels (BODY_MAX_DEPTH)',
        });
      }
    }
    expect((await http(`${urls[0]}/ping`)).status).toBe(200);
  });

  it('two Host headers are a 400 and CONNECT a 405 on both roles, and nothing reaches a backend', async () => {
    const { services, balancer } = await cluster(processes, 1, { HEALTH_CHECK_INTERVAL_MS: '0' });
    for (const target of [services[0], balancer]) {
      const twoHosts = await rawRequest(
        target.port,
        'GET /ping HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n',
      );
      expect(twoHosts).toMatch(/^HTTP\/1\.1 400 /);
      expect(twoHosts).toContain('exactly one Host header');
      const connect = await rawRequest(target.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      expect(connect).toMatch(/^HTTP\/1\.1 405 /);
      expect(connect).toContain('not a forward proxy');
    }
    expect((await backendsOf(balancer.baseUrl))[0].requests).toBe(0);
  });
});

// Its own single redis-server, stopped and restarted: the Sentinel and Cluster suites kill theirs.
describeWithRedis(
  'Redis outages fail fast and shut down clean',
  () => {
    const processes = useProcesses();
    let redis: PrivateRedis | undefined;
    afterEach(async () => {
      await processes.stopAll();
      await redis?.stop('SIGKILL');
    });

    it('Redis killed: every Redis route answers 503 + Retry-After instead of waiting, /ready says why, SIGTERM exits 0', async () => {
      redis = await startPrivateRedis({ aof: false });
      const service = await processes.start({ REDIS_URL: redis.url, LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '10000', TASK_CONCURRENCY: '1' });
      await waitFor(async () => ((await http(`${service.baseUrl}/ready`)).status === 200 ? true : undefined));
      const running = await http(`${service.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 20_000 } });
      expect(running.status).toBe(202);
      await waitFor(async () => ((await http(`${service.baseUrl}/tasks/${running.body.id}`)).body.status === 'active' ? true : undefined));
      await redis.stop('SIGKILL');

      const routes: [string, string, object?][] = [
        ['GET', '/items/1'],
        ['POST', '/items/?item_id=2', { name: 'a', price: 1 }],
        ['PUT', '/items/1', { name: 'a', price: 1 }],
        ['DELETE', '/items/1'],
        ['POST', '/tasks', { durationMs: 10 }],
        ['GET', `/tasks/${running.body.id}`],
      ];
      for (const [method, path, json] of routes) {
        // Redis stays down for the whole test: an answer at all means the route did not wait for it.
        const response = await http(`${service.baseUrl}${path}`, { method, json });
        expect({ method, path, status: response.status, retryAfter: response.headers['retry-after'] }).toEqual({
          method,
          path,
          status: 503,
          retryAfter: '1',
        });
      }
      const ready = await http(`${service.baseUrl}/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body.error.redis).toMatchObject({ status: 'down' });
      // ...and says why, once the client's reconnect attempts have been refused.
      await waitFor(async () => {
        const redisIndicator = (await http(`${service.baseUrl}/ready`)).body.error.redis;
        return /ECONNREFUSED/.test(redisIndicator.error ?? '') ? true : undefined;
      });

      service.kill('SIGTERM');
      expect(await service.exited()).toEqual({ code: 0, signal: null });
      expect(service.lines.some((line) => /Redis unreachable at shutdown: leaving 1 active jobs/.test(line))).toBe(true);
    });

    it('Redis frozen (SIGSTOP): SIGTERM with a task running still exits 0, within the shutdown grace', async () => {
      redis = await startPrivateRedis({ aof: false });
      const service = await processes.start({
        REDIS_URL: redis.url,
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_MS: '10000',
        TASK_CONCURRENCY: '1',
        REDIS_COMMAND_TIMEOUT_MS: '500',
      });
      await waitFor(async () => ((await http(`${service.baseUrl}/ready`)).status === 200 ? true : undefined));
      const running = await http(`${service.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 20_000 } });
      await waitFor(async () => ((await http(`${service.baseUrl}/tasks/${running.body.id}`)).body.status === 'active' ? true : undefined));
      redis.freeze();
      // Connections stay open and nothing answers: only the command timeout tells.
      await waitFor(async () => ((await http(`${service.baseUrl}/ready`)).status === 503 ? true : undefined), {
        timeoutMs: 10_000,
        what: '/ready to see Redis gone',
      });
      const item = await http(`${service.baseUrl}/items/1`);
      expect([item.status, item.headers['retry-after']]).toEqual([503, '1']);
      expect((await http(`${service.baseUrl}/ready`)).body.error.redis.error).toMatch(/no answer within 500 ms/);
      const signalled = Date.now();
      service.kill('SIGTERM');
      expect(await service.exited()).toEqual({ code: 0, signal: null });
      // Drains at once (nothing can be reported to Redis), well inside SHUTDOWN_GRACE_MS.
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(service.lines.some((line) => /Redis unreachable at shutdown: leaving 1 active jobs/.test(line))).toBe(true);
    });

    it('with AOF as shipped, tasks accepted before a Redis restart complete after it', async () => {
      redis = await startPrivateRedis({ aof: true });
      const service = await processes.start({ REDIS_URL: redis.url, TASK_CONCURRENCY: '1', TASK_LOCK_MS: '2000' });
      const ready = await waitFor(async () => {
        const response = await http(`${service.baseUrl}/ready`);
        return response.status === 200 && response.body.details.redis.durability ? response : undefined;
      });
      expect(ready.body.details.redis.durability).toMatchObject({
        aof: true,
        appendfsync: 'everysec',
        maxmemoryPolicy: 'noeviction',
        warnings: [],
      });
      const accepted: string[] = [];
      for (let i = 0; i < 10; i += 1)
        accepted.push((await http(`${service.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 200 } })).body.id);

      await redis.stop('SIGTERM');
      await redis.start();
      const views = await untilCompleted(service.baseUrl, accepted, {
        timeoutMs: 45_000,
        what: 'every task accepted before the restart to complete',
      });
      for (const view of views) expect(view.result).toEqual({ workedMs: expect.any(Number), payload: null });
    });
  },
  { modes: ['standalone'] },
);
