import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'undici';
import { startApp, type RunningApp } from './support/app.js';
import { http } from './support/http.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { describeWithRedis } from './support/redis.js';
import { waitFor } from './support/wait.js';

interface ReadyBody {
  status: string;
  details: { load: { clients: number; cooldown: boolean; hostname: string; minClients: number; maxClients: number } };
}

const ready = (baseUrl: string) => http<ReadyBody>(`${baseUrl}/ready`);
const untilClients = (baseUrl: string, clients: number) =>
  waitFor(
    async () => {
      const response = await ready(baseUrl);
      return response.body.details.load.clients === clients ? response : undefined;
    },
    { what: `${clients} clients in flight` },
  );

describe('readiness hysteresis on the real process', () => {
  const processes = useProcesses();
  let service: ServiceProcess;
  beforeAll(async () => {
    service = await processes.start();
  });

  it('is ready when idle, with the seed fields in the load indicator', async () => {
    const { status, body } = await ready(service.baseUrl);
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.details.load).toMatchObject({ clients: 0, cooldown: false, minClients: 3, maxClients: 4 });
    expect(typeof body.details.load.hostname).toBe('string');
  });

  it('enters cooldown at 4, stays at 3, leaves at 2; a client that disconnects frees its slot', async () => {
    const base = service.baseUrl;
    // Four clients held until each is let go: the test moves when the service says it saw a
    // client come or go, never on a clock.
    const aborts = Array.from({ length: 4 }, () => new AbortController());
    const held = aborts.map((controller) =>
      request(`${base}/long_task?ms=60000`, { signal: controller.signal }).catch((error: Error) => error),
    );

    const atFour = await untilClients(base, 4);
    expect(atFour.status).toBe(503);
    expect(atFour.body.details.load.cooldown).toBe(true);

    aborts[0].abort();
    expect(await held[0]).toHaveProperty('name', 'AbortError');
    const atThree = await untilClients(base, 3);
    expect(atThree.status).toBe(503);
    expect(atThree.body.details.load).toMatchObject({ clients: 3, cooldown: true });

    aborts[1].abort();
    const atTwo = await untilClients(base, 2);
    expect(atTwo.status).toBe(200);
    expect(atTwo.body.details.load).toMatchObject({ clients: 2, cooldown: false });

    // A client that stays to the end gets its answer and frees its slot too.
    const done = await http(`${base}/long_task?ms=1`);
    expect(done.status).toBe(200);
    expect(typeof done.body.client).toBe('number');
    expect((await untilClients(base, 2)).status).toBe(200);

    aborts[2].abort();
    expect((await untilClients(base, 1)).status).toBe(200);
    aborts[3].abort();
    await Promise.all(held);
    expect((await untilClients(base, 0)).status).toBe(200);
  });

  it('does not count probes, metrics or docs as clients', async () => {
    const entries = async () =>
      Number(/^ballast_cooldown_entries_total (\d+)$/m.exec((await http(`${service.baseUrl}/metrics`)).text)?.[1]);
    const before = await entries();
    await Promise.all([
      http(`${service.baseUrl}/live`),
      http(`${service.baseUrl}/ready`),
      http(`${service.baseUrl}/metrics`),
      http(`${service.baseUrl}/docs-json`),
    ]);
    const metrics = await http(`${service.baseUrl}/metrics`);
    expect(metrics.text).toMatch(/^ballast_clients_in_flight 0$/m);
    expect(await entries()).toBe(before);
  });

  it('rejects a bad ms with 400', async () => {
    for (const ms of ['abc', '-1', '1.5', '600001']) {
      const response = await http(`${service.baseUrl}/long_task?ms=${ms}`);
      expect(response.status).toBe(400);
      expect(response.body.message).toMatch(/^ms must be an integer from 0 to 600000/);
    }
  });
});

describe('graceful shutdown of the real process', () => {
  const processes = useProcesses();

  it('on SIGTERM: /ready 503 while requests are still in flight, /live 200, they finish with 200, exit 0', async () => {
    const service = await processes.start({ LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '20000' });
    const base = service.baseUrl;
    const settled: number[] = [];
    const tasks = [http(`${base}/long_task?ms=2500`), http(`${base}/long_task?ms=3000`)].map((task, index) =>
      task.then((response) => (settled.push(index), response)),
    );
    await untilClients(base, 2);

    service.kill('SIGTERM');
    const notReady = await waitFor(async () => {
      const response = await ready(base);
      return response.status === 503 ? response : undefined;
    });
    // Ordering, not wall-clock: readiness failed before the in-flight requests were drained.
    expect(settled).toEqual([]);
    expect(notReady.body.status).toBe('error');
    expect((notReady.body as any).error.shutdown).toMatchObject({ status: 'down', accepting: false });
    expect((await http(`${base}/live`)).status).toBe(200);
    service.kill('SIGINT'); // a second signal must not start a second shutdown

    const results = await Promise.all(tasks);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(await service.exited()).toEqual({ code: 0, signal: null });
    expect(service.lines.filter((line) => /no longer accepting new work/.test(line))).toHaveLength(1);
    expect(service.lines.some((line) => /SIGINT received while already shutting down/.test(line))).toBe(true);
    expect(service.lines.some((line) => /shutdown complete/.test(line))).toBe(true);
  });

  it('drains in-flight requests even with READY_TRACK_CLIENTS=false', async () => {
    // debug: Fastify's "incoming request" line tells the request arrived before SIGTERM.
    const service = await processes.start({ LOG_LEVEL: 'debug', READY_TRACK_CLIENTS: 'false', SHUTDOWN_GRACE_MS: '20000' });
    const inFlight = http(`${service.baseUrl}/long_task?ms=1500`);
    await service.waitForLine(/"url":"\/long_task\?ms=1500".*incoming request/);
    service.kill('SIGTERM');
    expect((await inFlight).status).toBe(200);
    expect(await service.exited()).toEqual({ code: 0, signal: null });
    // The drain step waited for the request: the server closed only after it answered. Told
    // by the logs' own clocks, not by line order: the access log is written in batches.
    const lineOf = (pattern: RegExp) => service.lines.find((line) => pattern.test(line))!;
    const fields = (line: string) => JSON.parse(line) as { time: string; totalMs?: number };
    const timeOf = (pattern: RegExp) => Date.parse(fields(lineOf(pattern)).time);
    const access = fields(lineOf(/"log":"access".*"path":"\/long_task".*"status":200/));
    const answeredAt = Date.parse(access.time) + access.totalMs!;
    expect(timeOf(/draining in-flight HTTP requests/)).toBeLessThan(answeredAt);
    // SIGTERM came right after the request arrived; it takes 1500 ms to answer.
    expect(timeOf(/closing the HTTP server/) - Date.parse(access.time)).toBeGreaterThanOrEqual(1_500);
    expect(timeOf(/closing the HTTP server/)).toBeGreaterThanOrEqual(Math.floor(answeredAt));
  });

  it('exits 1 naming what was open when the grace period runs out', async () => {
    const service = await processes.start({ LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '300' });
    void http(`${service.baseUrl}/long_task?ms=5000`).catch(() => undefined);
    await untilClients(service.baseUrl, 1);
    service.kill('SIGTERM');
    expect((await service.exited()).code).toBe(1);
    expect(service.lines.some((line) => /grace period of 300 ms expired.*1 requests in flight/.test(line))).toBe(true);
  });
});

describe('readiness in-process', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => {
    await running?.close();
  });

  it('never leaks the count: errors, 404s, bad bodies and aborted requests all leave', async () => {
    const base = running.baseUrl;
    const aborted = new AbortController();
    const hanging = request(`${base}/long_task?ms=20000`, { signal: aborted.signal }).catch((error: Error) => error);
    await Promise.all([
      http(`${base}/nowhere`),
      http(`${base}/items/abc`),
      http(`${base}/items/?item_id=1`, { method: 'POST', body: '{', headers: { 'content-type': 'application/json' } }),
      http(`${base}/items/?item_id=1`, { method: 'POST', json: { name: 'x'.repeat(2_000_000), price: 1 } }),
      http(`${base}/ping`),
    ]);
    // Only the hanging long task is still counted once the others have answered (else this times out).
    await untilClients(base, 1);
    aborted.abort();
    expect(await hanging).toHaveProperty('name', 'AbortError');
    // The aborted request leaves too: /ready, asked from outside, reaches 0 (or the wait times out).
    const idle = await untilClients(base, 0);
    expect(idle.status).toBe(200);
    expect(idle.body.details.load.cooldown).toBe(false);
  });
});

describe('load shedding (READY_SHED=true)', () => {
  let running: RunningApp;
  beforeAll(async () => {
    running = await startApp({ READY_SHED: 'true', READY_MIN_CLIENTS: '1', READY_MAX_CLIENTS: '1' });
  });
  afterAll(async () => {
    await running.close();
  });

  it('answers new requests 503 with Retry-After while in cooldown, and serves again after', async () => {
    const holder = http(`${running.baseUrl}/long_task?ms=500`);
    await untilClients(running.baseUrl, 1);
    const shed = await http(`${running.baseUrl}/ping`);
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.body.message).toMatch(/cooldown/);
    expect((await ready(running.baseUrl)).status).toBe(503); // probes are never shed
    expect((await holder).status).toBe(200);
    expect((await http(`${running.baseUrl}/ping`)).status).toBe(200);
  });
});

describeWithRedis('readiness on Redis', (redis) => {
  it('is ready once Redis is connected', async () => {
    const running = await startApp({ ...redis().env, REDIS_PREFIX: redis().prefix });
    try {
      const response = await waitFor(async () => {
        const r = await ready(running.baseUrl);
        return r.status === 200 ? r : undefined;
      });
      expect((response.body as any).details.redis).toMatchObject({ status: 'up', connection: 'ready' });
    } finally {
      await running.close();
    }
  });

  const processes = useProcesses();

  it('is 503 with the redis indicator down while Redis is unreachable', async () => {
    // A real process: with Redis away its BullMQ connections retry forever, so it is killed, not closed.
    const service = await processes.start({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_PREFIX: redis().prefix });
    const response = await ready(service.baseUrl);
    expect(response.status).toBe(503);
    expect((response.body as any).error.redis.status).toBe('down');
    expect((await http(`${service.baseUrl}/live`)).status).toBe(200);
  });
});
