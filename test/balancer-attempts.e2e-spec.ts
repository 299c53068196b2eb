import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { http } from './support/http.js';
import { freePort } from './support/ports.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { waitFor } from './support/wait.js';

/**
 * One attempt path for HTTP and WebSocket upgrades (BackendAttempts over Upstreams): what a
 * returning backend, a refused upgrade and an empty pool look like from a client.
 */

interface UpgradeBackend {
  readonly url: string;
  /** Upgrade requests that reached it. */
  upgrades: number;
  /** Held upgrades, answered when released. */
  release(): void;
  close(): Promise<void>;
}

/**
 * A backend that accepts WebSocket upgrades on `port` (HTTP requests get 200). `hold`: upgrades
 * wait until release(); `refuse`: answered with that status instead of 101.
 */
async function startUpgradeBackend(port: number, options: { hold?: boolean; refuse?: number } = {}): Promise<UpgradeBackend> {
  const wss = new WebSocketServer({ noServer: true });
  const held: (() => void)[] = [];
  let released = !options.hold;
  const server: Server = createServer((_req, res) => res.end('ok'));
  const backend: UpgradeBackend = {
    url: `http://127.0.0.1:${port}`,
    upgrades: 0,
    release() {
      released = true;
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    backend.upgrades += 1;
    const answer = () => {
      if (options.refuse) {
        socket.end(`HTTP/1.1 ${options.refuse} Refused\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(data)));
    };
    if (released) answer();
    else held.push(answer);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  expect((server.address() as AddressInfo).port).toBe(port);
  return backend;
}

/** Opens a WebSocket through the balancer; resolves with the status it got (101 as 'open'). */
function upgradeThrough(balancer: ServiceProcess): Promise<{ opened: boolean; status?: number; ws: WebSocket }> {
  const ws = new WebSocket(`ws://127.0.0.1:${balancer.port}/ws`);
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ opened: true, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode, ws });
      res.resume();
    });
    ws.once('error', () => resolve({ opened: false, ws }));
  });
}

const backendsOf = async (balancer: ServiceProcess) => (await http(`${balancer.baseUrl}/_balancer/backends`)).body.backends as any[];

/** Ejects the backend on `port` (nothing listens there yet) with one GET, then waits until it is half-open. */
async function ejectThenProbe(balancer: ServiceProcess, deadUrl: string): Promise<void> {
  const first = await http(`${balancer.baseUrl}/x`);
  expect(first.status).toBe(200); // refused by the dead one, retried on the live one
  await waitFor(async () => ((await backendsOf(balancer)).find((b) => b.url === deadUrl)?.state === 'probing' ? true : undefined), {
    what: 'the ejection to lapse into half-open',
  });
}

describe('one attempt path: WebSocket upgrades are attempts like any request', () => {
  const processes = useProcesses();
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((thing) => thing.close()));
  });

  async function fleet(returningOptions: { hold?: boolean; refuse?: number }) {
    const [returningPort, livePort] = [await freePort(), await freePort()];
    const live = await startUpgradeBackend(livePort);
    opened.push(live);
    const returningUrl = `http://127.0.0.1:${returningPort}`;
    const balancer = await processes.start({
      ROLE: 'balancer',
      // The returning backend first: round robin's first pick.
      BACKENDS: `${returningUrl},${live.url}`,
      HEALTH_CHECK_INTERVAL_MS: '0',
      RETRY_DOWNTIME_MS: '300',
    });
    await ejectThenProbe(balancer, returningUrl);
    const returning = await startUpgradeBackend(returningPort, returningOptions);
    opened.push(returning);
    return { balancer, live, returning };
  }

  it('an upgrade to a half-open backend is its one probe: the others go elsewhere until it answers', async () => {
    const { balancer, live, returning } = await fleet({ hold: true });
    const clients = Array.from({ length: 6 }, () => upgradeThrough(balancer));
    // Every upgrade reached a backend: the probe is held, the rest were answered.
    await waitFor(async () => (live.upgrades + returning.upgrades === 6 ? true : undefined), { what: 'six upgrades at the backends' });
    expect(returning.upgrades).toBe(1);
    expect(live.upgrades).toBe(5);
    returning.release();
    const results = await Promise.all(clients);
    for (const result of results) {
      expect(result.opened).toBe(true);
      opened.push({ close: async () => result.ws.terminate() });
    }
    // The probe's 101 ended the half-open state.
    const state = await waitFor(async () => {
      const backend = (await backendsOf(balancer)).find((b) => b.url === returning.url);
      return backend?.halfOpen === false ? backend : undefined;
    });
    expect(state.outcomes.success).toBe(1);
  });

  it('an upgrade refused below 500 is judged: the refusal reaches the client and ends the probe', async () => {
    const { balancer, returning } = await fleet({ refuse: 404 });
    const result = await upgradeThrough(balancer);
    expect(result).toMatchObject({ opened: false, status: 404 });
    expect(returning.upgrades).toBe(1);
    const [judged] = (await backendsOf(balancer)).filter((b) => b.url === returning.url);
    // The backend answered as meant: a success for its health, and no longer half-open.
    expect(judged).toMatchObject({ halfOpen: false, state: 'up' });
    expect(judged.outcomes.success).toBe(1);
  });
});

describe('the 503 with no attempts says why each backend is unavailable', () => {
  const processes = useProcesses();
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  });

  it('full, not ejected: a request waits for a slot, then is answered 503 with Retry-After and the reason', async () => {
    // A backend that reports itself in cooldown with a hard limit (what READY_SHED services send).
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '30', 'content-type': 'application/json', 'x-ballast-load': '8/8;min=6;cooldown;shed' });
      res.end('{"busy":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const balancer = await processes.start({ ROLE: 'balancer', BACKENDS: url, HEALTH_CHECK_INTERVAL_MS: '0', BALANCER_QUEUE_MS: '200' });
    // A POST's 503 is not resent anywhere: the backend's own answer, passed on, report removed.
    const first = await http(`${balancer.baseUrl}/x`, { method: 'POST', json: {} });
    expect(first.status).toBe(503);
    expect(first.body).toEqual({ busy: true });
    expect(first.headers['retry-after']).toBe('30');
    expect(first.headers['x-ballast-load']).toBeUndefined();
    // Now it is known full: the next request waits its 200 ms for a slot that never frees.
    const second = await http(`${balancer.baseUrl}/x`);
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', reason: 'queue_timeout' });
    expect(second.body.message).toMatch(/^Every backend is at capacity: no slot freed within \d+ ms/);
    expect(second.body.detail).toBe(second.body.message);
    const [backend] = await backendsOf(balancer);
    expect(backend).toMatchObject({ requests: 1, ejectedUntil: null, ejections: 0 });
    const metrics = await http(`${balancer.baseUrl}/_balancer/metrics`);
    expect(metrics.text).toMatch(/^ballast_balancer_rejected_total\{reason="queue_timeout"\} 1$/m);
  });

  it('a 503 on the way, then a backend that cannot answer: the client gets 503 with Retry-After, not a 502', async () => {
    // Busy without a load report: a 503 + Retry-After, the kind a retry moves on from.
    const busy = createServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '2', 'content-type': 'application/json' });
      res.end('{"busy":true}');
    });
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyUrl = `http://127.0.0.1:${(busy.address() as AddressInfo).port}`;
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const balancer = await processes.start({ ROLE: 'balancer', BACKENDS: `${busyUrl},${deadUrl}`, HEALTH_CHECK_INTERVAL_MS: '0' });
    // Round robin starts at the busy one: its 503, then the dead one refuses the retry.
    const answer = await http(`${balancer.baseUrl}/ping`);
    expect(answer.status).toBe(503);
    expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(answer.headers['proxy-status']).toBe('ballast; error=destination_unavailable; details="attempts_failed"');
    expect(answer.body.attempts).toEqual([
      { backend: busyUrl, status: 503 },
      { backend: deadUrl, failure: 'connect' },
    ]);
  });

  it('a WebSocket upgrade with no backend left gets the same answer on its socket', async () => {
    const deadPort = await freePort();
    const balancer = await processes.start({
      ROLE: 'balancer',
      BACKENDS: `http://127.0.0.1:${deadPort}`,
      HEALTH_CHECK_INTERVAL_MS: '0',
      RETRY_DOWNTIME_MS: '60000',
    });
    const first = await upgradeThrough(balancer);
    expect(first).toMatchObject({ opened: false, status: 502 });
    const second = await upgradeThrough(balancer);
    expect(second).toMatchObject({ opened: false, status: 503 });
    const [dead] = await backendsOf(balancer);
    expect(dead).toMatchObject({ state: 'ejected', requests: 1, failures: 1 });
  });
});
