import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { startBareBackend, type BareBackend } from './support/bare-backend.js';
import { http } from './support/http.js';
import { rawRequest } from './support/raw.js';
import { startFleet, type Fleet } from './support/fleet.js';
import { freePort } from './support/ports.js';
import { stopProcess, useProcesses, type ProcessSet, type ServiceProcess } from './support/process.js';
import { waitFor } from './support/wait.js';

/** `size` services (logging at info, for the tests that read their lines) and a balancer in front. */
const startCluster = (
  processes: ProcessSet,
  size: number,
  serviceEnv: (index: number) => Record<string, string | undefined> = () => ({}),
  balancerEnv: Record<string, string> = {},
): Promise<Fleet> => startFleet(processes, { services: size, serviceEnv: (i) => ({ LOG_LEVEL: 'info', ...serviceEnv(i) }), balancerEnv });

const pingPort = async (base: string) => {
  const response = await http(`${base}/ping`);
  expect(response.status).toBe(200);
  expect(response.headers['x-app-url']).toBe(`http://127.0.0.1:${response.body.port}`);
  return response.body.port as number;
};

describe('balancer over 4 services: the seed-001 suite', () => {
  const processes = useProcesses();
  let cluster: Fleet;
  let base: string;
  beforeAll(async () => {
    cluster = await startCluster(processes, 4);
    base = cluster.balancer.baseUrl;
  });

  const sequential = async (n: number) => {
    const ports: number[] = [];
    for (let i = 0; i < n; i += 1) ports.push(await pingPort(base));
    return ports;
  };
  /** The ports, rotated to start where the cursor stands. */
  const cycleFrom = (first: number, n: number) => {
    const start = cluster.ports.indexOf(first);
    return Array.from({ length: n }, (_, i) => cluster.ports[(start + i) % cluster.ports.length]);
  };

  it('4 sequential /ping reach the 4 backends in order, 6 repeat the cycle', async () => {
    expect(await sequential(4)).toEqual(cluster.ports);
    expect(await sequential(6)).toEqual([...cluster.ports, ...cluster.ports.slice(0, 2)]);
  });

  it('8 concurrent /ping reach each backend twice', async () => {
    const ports = await Promise.all(Array.from({ length: 8 }, () => pingPort(base)));
    for (const port of cluster.ports) expect(ports.filter((p) => p === port)).toHaveLength(2);
  });

  it('runs again against the same balancer, cyclic from wherever the cursor stands', async () => {
    const run = await sequential(4);
    expect(run).toEqual(cycleFrom(run[0], 4));
    const six = await sequential(6);
    expect(six).toEqual(cycleFrom(six[0], 6));
  });

  it('keeps items sticky: POST, GET, PUT, DELETE of item 42 hit one backend without moving the cursor', async () => {
    const created = await http(`${base}/items/?item_id=42`, { method: 'POST', json: { name: 'Foo', price: 1 } });
    expect(created.status).toBe(200);
    const owner = created.headers['x-app-url'];
    const before = await pingPort(base);
    for (let i = 0; i < 5; i += 1) {
      const read = await http(`${base}/items/42`);
      expect(read.status).toBe(200);
      expect(read.headers['x-app-url']).toBe(owner);
    }
    const replaced = await http(`${base}/items/42`, { method: 'PUT', json: { name: 'NewName', price: 2 } });
    expect(replaced.status).toBe(200);
    expect(replaced.headers['x-app-url']).toBe(owner);
    expect(replaced.body.name).toBe('NewName');
    expect(await pingPort(base)).toBe(cycleFrom(before, 2)[1]);
    expect((await http(`${base}/items/42`)).body.name).toBe('NewName');
    const deleted = await http(`${base}/items/42`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(deleted.headers['x-app-url']).toBe(owner);
  });

  it('sends a second create of a mapped item to its owner, which answers 400; the first item stays', async () => {
    const first = await http(`${base}/items/?item_id=43`, { method: 'POST', json: { name: 'First', price: 1 } });
    expect(first.status).toBe(200);
    const owner = first.headers['x-app-url'];
    for (let i = 0; i < cluster.ports.length; i += 1) {
      // Round robin would have sent these to each of the other backends in turn.
      const again = await http(`${base}/items/?item_id=43`, { method: 'POST', json: { name: `Copy ${i}`, price: 2 } });
      expect({ status: again.status, backend: again.headers['x-app-url'] }).toEqual({ status: 400, backend: owner });
      expect(again.body.message).toBe('Item 43 already exists');
    }
    const read = await http(`${base}/items/43`);
    expect({ name: read.body.name, backend: read.headers['x-app-url'] }).toEqual({ name: 'First', backend: owner });
    expect((await http(`${base}/items/43`, { method: 'DELETE' })).status).toBe(204);
  });

  it('does not record stickiness for a failed POST', async () => {
    const stickyItems = async () => (await http(`${base}/_balancer/backends`)).body.stickyItems as number;
    const before = await stickyItems();
    const failed = await http(`${base}/items/?item_id=77`, { method: 'POST', json: { name: 'x' } });
    expect(failed.status).toBe(400); // no price
    expect(await stickyItems()).toBe(before);
    // The same id created properly is then recorded: the count above could have moved.
    expect((await http(`${base}/items/?item_id=77`, { method: 'POST', json: { name: 'x', price: 1 } })).status).toBe(200);
    expect(await stickyItems()).toBe(before + 1);
    expect((await http(`${base}/items/77`, { method: 'DELETE' })).status).toBe(204);
  });

  it('reports each backend at /_balancer/backends', async () => {
    await sequential(cluster.ports.length); // one request to each, whatever ran before
    const { status, body } = await http(`${base}/_balancer/backends`);
    expect(status).toBe(200);
    expect(body.backends.map((b: any) => b.url)).toEqual(cluster.ports.map((p) => `http://127.0.0.1:${p}`));
    for (const backend of body.backends) {
      expect(backend).toMatchObject({ healthy: true, ready: true, ejectedUntil: null, inFlight: 0, failures: 0 });
      expect(backend.requests).toBeGreaterThan(0);
    }
    const metrics = await http(`${base}/_balancer/metrics`);
    expect(metrics.text).toMatch(/ballast_balancer_attempts_total\{backend="http:\/\/127\.0\.0\.1:\d+",outcome="success"\} \d+/);
    expect((await http(`${base}/_balancer/ready`)).status).toBe(200);
    expect((await http(`${base}/_balancer/live`)).status).toBe(200);
  });
});

describe('balancer failure handling (seed 002)', () => {
  const processes = useProcesses();
  afterEach(() => processes.stopAll());

  it('skips a stopped backend at once and takes it back after RETRY_DOWNTIME_MS', async () => {
    const cluster = await startCluster(processes, 3, () => ({}), { RETRY_DOWNTIME_MS: '1500', HEALTH_CHECK_INTERVAL_MS: '0' });
    const base = cluster.balancer.baseUrl;
    await stopProcess(cluster.services[1]);
    const stoppedAt = Date.now();
    const ports = [];
    for (let i = 0; i < 6; i += 1) ports.push(await pingPort(base)); // every one 200
    expect(ports).not.toContain(cluster.ports[1]);

    await processes.start({ PORT: String(cluster.ports[1]) });
    await waitFor(async () => ((await pingPort(base)) === cluster.ports[1] ? true : undefined), {
      timeoutMs: 10_000,
      what: 'the restarted backend to be used again',
    });
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1400);
  });

  it('never lets an alternate backend’s failures reach a GET client', async () => {
    const cluster = await startCluster(processes, 2, (i) => (i === 0 ? { FAULT_MODE: 'alternate' } : {}), {
      RETRY_DOWNTIME_MS: '200',
    });
    const base = cluster.balancer.baseUrl;
    for (let i = 0; i < 30; i += 1) expect((await http(`${base}/ping`)).status).toBe(200);
    const backends = (await http(`${base}/_balancer/backends`)).body.backends;
    expect(backends[0].failures).toBeGreaterThan(0);
  });

  it('does not resend a POST that an alternate backend answered 500: the item exists nowhere', async () => {
    const cluster = await startCluster(processes, 2, (i) => (i === 0 ? { FAULT_MODE: 'alternate' } : {}), {
      RETRY_DOWNTIME_MS: '0',
      HEALTH_CHECK_INTERVAL_MS: '0',
    });
    const [faulty, healthy] = cluster.services.map((s) => s.baseUrl);
    const failed: number[] = [];
    for (let id = 1; id <= 20 && failed.length < 3; id += 1) {
      const response = await http(`${cluster.balancer.baseUrl}/items/?item_id=${id}`, { method: 'POST', json: { name: 'x', price: 1 } });
      expect([200, 500]).toContain(response.status);
      if (response.status === 500) {
        expect(response.headers['x-app-url']).toBe(faulty);
        failed.push(id);
      }
    }
    expect(failed.length).toBeGreaterThan(0);
    // The faulty backend fails every other request, reads included: ask until it answers.
    const directStatus = async (url: string) => {
      const first = await http(url);
      return first.status === 500 ? (await http(url)).status : first.status;
    };
    for (const id of failed) {
      // Direct reads: had the balancer resent the POST, the healthy backend would hold it.
      expect(await directStatus(`${healthy}/items/${id}`)).toBe(404);
      expect(await directStatus(`${faulty}/items/${id}`)).toBe(404);
    }
  });

  it('skips a slow backend after its first timeout', async () => {
    const cluster = await startCluster(processes, 3, (i) => (i === 2 ? { FAULT_MODE: 'slow', FAULT_DELAY_MS: '3000' } : {}), {
      MAX_RESPONSE_DELAY_MS: '300',
      HEALTH_CHECK_INTERVAL_MS: '0',
    });
    const base = cluster.balancer.baseUrl;
    const ports = [];
    for (let i = 0; i < 9; i += 1) ports.push(await pingPort(base));
    expect(ports).not.toContain(cluster.ports[2]);
    const slow = (await http(`${base}/_balancer/backends`)).body.backends[2];
    // One timed-out attempt, then skipped: not one per round-robin turn.
    expect(slow).toMatchObject({ requests: 1, failures: 1 });
    expect(slow.ejectedUntil).not.toBeNull();
  });
});

describe('balancer against bare backends', () => {
  const processes = useProcesses();
  let ok: BareBackend;
  let failing: BareBackend;
  let balancer: ServiceProcess;
  let deadPort: number;

  beforeAll(async () => {
    ok = await startBareBackend((req, res, body) => {
      if (req.url?.startsWith('/big')) {
        const size = Number(new URL(req.url, 'http://x').searchParams.get('bytes'));
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          connection: 'x-hop',
          'x-hop': 'secret',
          'keep-alive': 'timeout=5',
        });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            const n = Math.min(chunk.length, size - sent);
            sent += n;
            if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      const digest = createHash('sha256').update(body).digest('hex');
      const payload = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes: body.length, digest });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
    failing = await startBareBackend((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"down":true}');
    });
    deadPort = await freePort();
    balancer = await processes.start({
      ROLE: 'balancer',
      BACKENDS: `http://127.0.0.1:${deadPort},${ok.url}`,
      HEALTH_CHECK_INTERVAL_MS: '0',
      RETRY_DOWNTIME_MS: '60000',
    });
  });
  afterAll(async () => {
    await Promise.all([ok?.close(), failing?.close()]);
  });

  it('retries a POST whose first backend refused the connection: nothing had been sent', async () => {
    const response = await http(`${balancer.baseUrl}/echo`, { method: 'POST', json: { a: 1 } });
    expect(response.body).toMatchObject({ method: 'POST' });
    expect(response.status).toBe(200);
    expect(response.headers['x-app-url']).toBe(ok.url);
    expect(ok.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('streams a large request body up and a large response down', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 3);
    const up = await http(`${balancer.baseUrl}/upload`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(up.body.bytes).toBe(body.length);
    expect(up.body.digest).toBe(createHash('sha256').update(body).digest('hex'));
    const down = await http(`${balancer.baseUrl}/big?bytes=${20 * 1024 * 1024}`);
    expect(down.status).toBe(200);
    expect(down.text.length).toBe(20 * 1024 * 1024);
  });

  it('removes hop-by-hop headers both ways and sets X-Forwarded-*', async () => {
    const raw = await rawRequest(
      balancer.port,
      'GET /echo?q=1 HTTP/1.1\r\nHost: front.example\r\nConnection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\nX-Keep: yes\r\nX-Forwarded-For: 10.1.1.1\r\n\r\n',
    );
    const echoed = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string>; url: string };
    expect(echoed.url).toBe('/echo?q=1');
    expect(echoed.headers['x-keep']).toBe('yes');
    for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-connection']) expect(echoed.headers[name]).toBeUndefined();
    expect(echoed.headers['x-forwarded-for']).toBe('10.1.1.1, 127.0.0.1');
    expect(echoed.headers['x-forwarded-proto']).toBe('http');
    expect(echoed.headers['x-forwarded-host']).toBe('front.example');

    const big = await http(`${balancer.baseUrl}/big?bytes=10`);
    expect(big.headers['x-hop']).toBeUndefined();
    expect(big.headers['keep-alive']).not.toBe('timeout=5');
  });

  it('is not an open proxy: an absolute-form target still goes to a configured backend', async () => {
    const raw = await rawRequest(
      balancer.port,
      'GET http://elsewhere.example/secret HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 200/);
    expect(raw).toContain(`x-app-url: ${ok.url}`);
    expect(ok.seen.at(-1)?.url).toBe('/secret');
  });

  it('answers 503 with a JSON reason, without trying a backend, when every backend is ejected', async () => {
    const lonely = await processes.start({ ROLE: 'balancer', BACKENDS: `http://127.0.0.1:${deadPort}`, HEALTH_CHECK_INTERVAL_MS: '0' });
    const first = await http(`${lonely.baseUrl}/ping`);
    expect(first.status).toBe(502);
    expect(first.body.attempts).toEqual([{ backend: `http://127.0.0.1:${deadPort}`, failure: 'connect' }]);
    const second = await http(`${lonely.baseUrl}/ping`);
    expect(second.status).toBe(503);
    // Retry-After is when the ejection ends: RETRY_DOWNTIME_MS (10 s) after the first request,
    // less however long this machine took between the two.
    const retryAfter = Number(second.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(second.body.message).toBe('No backend available: 1 ejected');
    expect(second.body.backends).toEqual({ total: 1, ejected: 1, busy: 0, probing: 0, full: 0 });
    // "At once": the ejected backend was not tried again (one attempt in all, the first).
    const [dead] = (await http(`${lonely.baseUrl}/_balancer/backends`)).body.backends;
    expect(dead).toMatchObject({ requests: 1, failures: 1 });
  });

  it('passes a 5xx to a POST through without resending it', async () => {
    const lb = await processes.start({ ROLE: 'balancer', BACKENDS: `${failing.url},${ok.url}`, HEALTH_CHECK_INTERVAL_MS: '0' });
    const okPosts = ok.seen.filter((r) => r.method === 'POST').length;
    const response = await http(`${lb.baseUrl}/items/?item_id=5`, { method: 'POST', json: { name: 'x', price: 1 } });
    expect(response.status).toBe(503);
    expect(response.headers['x-app-url']).toBe(failing.url);
    expect(failing.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(ok.seen.filter((r) => r.method === 'POST')).toHaveLength(okPosts);
  });
});
