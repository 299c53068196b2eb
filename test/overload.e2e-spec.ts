import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { itemOwnedBy, startFleet } from './support/fleet.js';
import { http } from './support/http.js';
import { stopProcess, useProcesses } from './support/process.js';
import { waitFor } from './support/wait.js';

/**
 * The balancer under load and against greedy or slow clients, with real processes: it admits by
 * what the services report, turns the excess away with a reason, holds each client to its share
 * and does not let slow clients hold connections. Speed is for bench:overload; these count.
 */

const cooldownEntries = async (url: string) =>
  Number(/^ballast_cooldown_entries_total (\d+)$/m.exec((await http(`${url}/metrics`)).text)?.[1]);

describe('admission by reported load', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('every service reports its load, and the balancer keeps it from the client', async () => {
    const { services, balancer } = await startFleet(processes, { services: 1, serviceEnv: () => ({ READY_SHED: 'true' }) });
    const direct = await http(`${services[0].baseUrl}/ping`);
    // Without Redis it also says that its tasks live in its memory (local-tasks).
    expect(direct.headers['x-ballast-load']).toBe('1/4;min=3;shed;local-tasks');
    const probe = await http(`${services[0].baseUrl}/ready`);
    expect(probe.headers['x-ballast-load']).toBe('0/4;min=3;shed;local-tasks'); // a probe is no client
    const proxied = await http(`${balancer.baseUrl}/ping`);
    expect(proxied.status).toBe(200);
    expect(proxied.headers['x-ballast-load']).toBeUndefined();
  });

  it('three times the fleet at once: nothing past any service MAX, the rest 503 with Retry-After and a reason, no 502', async () => {
    // Three services that shed at 4 clients (MIN 3): each serves the 4th (it enters cooldown) and
    // sheds what arrives after it, so together they hold 3 x 4.
    const { services, balancer } = await startFleet(processes, {
      services: 3,
      serviceEnv: () => ({ READY_SHED: 'true', READY_MAX_CLIENTS: '4', READY_MIN_CLIENTS: '3' }),
      balancerEnv: { BALANCER_QUEUE_MS: '100' },
    });
    // 27 requests at once, each holding its slot 2 s: three times what fits.
    const agent = new Agent({ connections: 64 });
    const answers = await Promise.all(
      Array.from({ length: 27 }, async () => {
        const response = await request(`${balancer.baseUrl}/long_task?ms=2000`, { dispatcher: agent });
        return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: (await response.body.json()) as any };
      }),
    );
    await agent.close();
    const served = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    // The first twelve got the twelve slots; the rest waited up to 100 ms for one that did not
    // free in time, or were told sooner: a queue that stands with more waiting than the slots
    // that freed lately could admit (at least 16) turns its oldest away at once (queue_full).
    expect(served).toHaveLength(12);
    expect(refused.every((a) => a.status === 503 && a.retryAfter === '1' && ['queue_timeout', 'queue_full'].includes(a.body.reason))).toBe(
      true,
    );
    // No service was sent past its MAX: each entered cooldown once, with its 4th, and none had to shed.
    expect(await Promise.all(services.map((s) => cooldownEntries(s.baseUrl)))).toEqual([1, 1, 1]);
    const metrics = (await http(`${balancer.baseUrl}/_balancer/metrics`)).text;
    expect(metrics).not.toMatch(/^ballast_balancer_attempts_total\{[^}]*outcome="status_5xx"\} [1-9]/m);
    const rejected = (reason: string) =>
      Number(new RegExp(`^ballast_balancer_rejected_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(rejected('queue_timeout') + rejected('queue_full')).toBe(15);
    expect(metrics).toMatch(/^ballast_balancer_queue_wait_seconds_count\{outcome="rejected"\} 15$/m);
    const status = (await http(`${balancer.baseUrl}/_balancer/backends`)).body;
    expect(status.queue).toEqual({ waiting: 0, maxWaitMs: 100 });
    for (const backend of status.backends) expect(backend.reportedLoad).toMatchObject({ maxClients: 4, minClients: 3, shed: true });
  });

  it('a request that waits is served when a slot frees within the bound', async () => {
    const { balancer } = await startFleet(processes, {
      services: 1,
      serviceEnv: () => ({ READY_SHED: 'true', READY_MAX_CLIENTS: '1', READY_MIN_CLIENTS: '1' }),
      balancerEnv: { BALANCER_QUEUE_MS: '10000' },
    });
    // MAX 1: one at a time. The second waits for the first's slot (its answer ends the cooldown), then is served.
    const [first, second] = await Promise.all([http(`${balancer.baseUrl}/long_task?ms=200`), http(`${balancer.baseUrl}/long_task?ms=1`)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    const metrics = (await http(`${balancer.baseUrl}/_balancer/metrics`)).text;
    expect(metrics).toMatch(/^ballast_balancer_queue_admitted_total 1$/m);
    // It waited about the first's 200 ms: in the (0.1, 0.25] bucket, and none rejected.
    expect(metrics).toMatch(/^ballast_balancer_queue_wait_seconds_bucket\{le="0\.1",outcome="admitted"\} 0$/m);
    expect(metrics).toMatch(/^ballast_balancer_queue_wait_seconds_bucket\{le="0\.25",outcome="admitted"\} 1$/m);
    expect(metrics).toMatch(/^ballast_balancer_queue_wait_seconds_count\{outcome="rejected"\} 0$/m);
  });
});

describe('per-client limits', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('holds a greedy client to its rate with 429 + Retry-After while another client is served', async () => {
    const { balancer } = await startFleet(processes, {
      services: 1,
      balancerEnv: { BALANCER_CLIENT_RATE: '1', BALANCER_CLIENT_BURST: '5', BALANCER_CLIENT_KEY: 'header:x-client' },
    });
    const as = (client: string) => http(`${balancer.baseUrl}/ping`, { headers: { 'x-client': client } });
    const greedy = [];
    for (let i = 0; i < 8; i += 1) greedy.push(await as('greedy'));
    expect(greedy.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    expect(greedy[5].headers['retry-after']).toBe('1');
    expect(greedy[5].body).toMatchObject({ statusCode: 429, reason: 'client_rate' });
    expect(greedy[5].body.message).toMatch(/more than its share \(1 requests per second\)/);
    expect((await as('polite')).status).toBe(200);
    const metrics = (await http(`${balancer.baseUrl}/_balancer/metrics`)).text;
    expect(metrics).toMatch(/^ballast_balancer_rejected_total\{reason="client_rate"\} 3$/m);
  });

  it('caps one client at its requests in flight', async () => {
    const { balancer } = await startFleet(processes, { services: 1, balancerEnv: { BALANCER_CLIENT_CONCURRENCY: '1' } });
    const holder = http(`${balancer.baseUrl}/long_task?ms=1000`);
    await waitFor(async () => ((await http(`${balancer.baseUrl}/_balancer/backends`)).body.backends[0].inFlight === 1 ? true : undefined));
    const second = await http(`${balancer.baseUrl}/ping`);
    expect(second.status).toBe(429);
    expect(second.body.reason).toBe('client_concurrency');
    expect((await holder).status).toBe(200);
    expect((await http(`${balancer.baseUrl}/ping`)).status).toBe(200); // its slot came back
  });
});

describe('slow and numerous clients', () => {
  const processes = useProcesses();
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await processes.stopAll();
  });

  const open = async (port: number) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    await once(socket, 'connect');
    return socket;
  };
  const answerOf = (socket: Socket) =>
    new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
    });

  /**
   * Half-open, like a client that has not yet read the answer: it goes on sending after the
   * balancer's FIN. A socket closed at once would answer those bytes with a reset, which can
   * destroy the answer before a client reads it.
   */
  const halfOpenClient = async (port: number) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(socket);
    await once(socket, 'connect');
    const errors: string[] = [];
    socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const closed = once(socket, 'close');
    const send = (bytes: string) => new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
    return {
      send,
      ended: () => once(socket, 'end'),
      answer: () => text,
      errors,
      /**
       * Five more bytes, 100 ms apart, after the balancer's FIN, then the client's own: a closed
       * socket would have reset the connection by the second (EPIPE or ECONNRESET in errors).
       */
      async keepSendingThenClose() {
        for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setTimeout(() => void send('X').then(resolve), 100));
        socket.end();
        await closed;
      },
    };
  };
  const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

  it('answers a client that trickles its headers 408, then half-closes and reads what it still sends', async () => {
    const { balancer } = await startFleet(processes, { services: 1, balancerEnv: { BALANCER_HEADERS_TIMEOUT_MS: '500' } });
    const client = await halfOpenClient(balancer.port);
    await client.send('GET /ping HTTP/1.1\r\nHost: x\r\n');
    // One header byte every 100 ms until the balancer half-closes: only the balancer ends this.
    const trickle = setInterval(() => void client.send('X'), 100);
    try {
      await client.ended();
    } finally {
      clearInterval(trickle);
    }
    expect(client.answer()).toMatch(/^HTTP\/1\.1 408 /);
    expect(client.answer()).toMatch(/connection: close/i);
    expect(bodyOf(client.answer())).toMatchObject({ statusCode: 408, message: expect.stringMatching(/did not arrive in time/) });
    await client.keepSendingThenClose();
    expect(client.errors).toEqual([]);
  });

  it('answers a head too large 431 and bytes that are not HTTP 400, as JSON, without a reset (balancer and service)', async () => {
    const { balancer, services } = await startFleet(processes, { services: 1 });
    for (const port of [balancer.port, services[0].port]) {
      const large = await halfOpenClient(port);
      await large.send(`GET /ping HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n`);
      await large.ended();
      expect(large.answer()).toMatch(/^HTTP\/1\.1 431 /);
      expect(bodyOf(large.answer())).toMatchObject({ statusCode: 431, message: 'The request head is too large' });
      await large.keepSendingThenClose();
      expect(large.errors).toEqual([]);

      const garbage = await halfOpenClient(port);
      await garbage.send('\x16\x03\x01 a TLS hello, say\r\n\r\n');
      await garbage.ended();
      expect(garbage.answer()).toMatch(/^HTTP\/1\.1 400 /);
      expect(bodyOf(garbage.answer())).toMatchObject({ statusCode: 400, message: 'The request is not valid HTTP/1.1' });
      await garbage.keepSendingThenClose();
      expect(garbage.errors).toEqual([]);
    }
  });

  it('answers connections past BALANCER_MAX_CONNECTIONS with 503 instead of dropping them', async () => {
    const { balancer } = await startFleet(processes, { services: 1, balancerEnv: { BALANCER_MAX_CONNECTIONS: '2' } });
    const [a, b] = [await open(balancer.port), await open(balancer.port)];
    const third = await open(balancer.port);
    const answer = await answerOf(third);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer).toMatch(/retry-after: 1/i);
    expect(answer).toContain('most client connections (2)');
    // Closing one makes room again.
    a.destroy();
    await once(a, 'close');
    await waitFor(async () => ((await http(`${balancer.baseUrl}/ping`)).status === 200 ? true : undefined));
    b.destroy();
  });

  it('closes a keep-alive connection after BALANCER_KEEPALIVE_REQUESTS answers, so clients reconnect (and spread over workers)', async () => {
    const { balancer } = await startFleet(processes, { services: 1, balancerEnv: { BALANCER_KEEPALIVE_REQUESTS: '2' } });
    const socket = await open(balancer.port);
    const answer = answerOf(socket);
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    const ping = 'GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(ping);
    await waitFor(async () => (/\r\n\r\n\{[^}]*\}/.test(received) ? true : undefined), { what: 'the first answer' });
    socket.write(ping);
    const [first, second] = (await answer).split(/(?=HTTP\/1\.1 )/);
    expect(first).toMatch(/^HTTP\/1\.1 200 /);
    expect(first).toMatch(/^connection: keep-alive/im);
    // The second is the last on this connection: said so, and the balancer closes it.
    expect(second).toMatch(/^HTTP\/1\.1 200 /);
    expect(second).toMatch(/^connection: close/im);
  });
});

describe('timeouts are earned back by traffic', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('a passing /ready ends an ejection for refused connections, not one for a timeout', async () => {
    const { urls, services, balancer } = await startFleet(processes, {
      services: 3,
      serviceEnv: (i) => (i === 1 ? { FAULT_MODE: 'slow', FAULT_DELAY_MS: '5000' } : {}),
      balancerEnv: {
        HEALTH_CHECK_INTERVAL_MS: '100',
        MAX_RESPONSE_DELAY_MS: '300',
        RETRY_DOWNTIME_MS: '60000',
        MAX_EJECTION_PERCENT: '100',
      },
    });
    const backendsOf = async () => (await http(`${balancer.baseUrl}/_balancer/backends`)).body.backends as any[];
    const port0 = Number(new URL(urls[0]).port);
    // An item on the first pins a read to it whatever the checks have seen; the read finds it refusing.
    const itemId = await itemOwnedBy(balancer.baseUrl, urls[0]);
    await stopProcess(services[0]);
    expect((await http(`${balancer.baseUrl}/items/${itemId}`)).status).toBe(502);
    // The slow one passes /ready, so round robin reaches it within three requests: it times out.
    for (let i = 0; i < 3; i += 1) expect((await http(`${balancer.baseUrl}/ping`)).status).toBe(200);
    const ejected = await backendsOf();
    expect(ejected[0].lastVerdict).toMatch(/connect/);
    expect(ejected[1].lastVerdict).toMatch(/timeout/);
    await processes.start({ PORT: String(port0) });
    // The restarted one's passing check brings it back, long before its 60 s...
    await waitFor(async () => ((await backendsOf())[0].ejectedUntil === null ? true : undefined), { timeoutMs: 10_000 });
    // ...while the slow one, whose /ready passes just as well, stays out until traffic shows it is fast.
    const [, slow] = await backendsOf();
    expect(slow.ready).toBe(true);
    expect(slow.state).toBe('ejected');
    expect(Date.parse(slow.ejectedUntil)).toBeGreaterThan(Date.now() + 30_000);
  });
});
