import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startApp, type RunningApp } from './support/app.js';
import { startBareBackend, type BareBackend } from './support/bare-backend.js';
import { http } from './support/http.js';
import { startServiceProcess, stopProcess } from './support/process.js';
import { request } from 'undici';

type Script = (n: number, req: IncomingMessage, res: ServerResponse) => void;

/** An upstream whose n-th request (0-based) does what the script says; counts open requests. */
async function scriptedUpstream(script: Script) {
  let n = 0;
  let open = 0;
  const closeWaiters: (() => void)[] = [];
  const backend = await startBareBackend(() => undefined);
  backend.server.removeAllListeners('request');
  backend.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    open += 1;
    res.once('close', () => {
      open -= 1;
      if (open === 0) for (const resolve of closeWaiters.splice(0)) resolve();
    });
    script(n++, req, res);
  });
  return {
    backend,
    get requests() {
      return n;
    },
    get open() {
      return open;
    },
    /** Resolves once no request is open at the upstream: every loser's socket closed. */
    allClosed: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => closeWaiters.push(resolve))),
  };
}

/** The service's own time for the call, from its Server-Timing header. */
const serverMs = (headers: Record<string, string | string[] | undefined>): number => {
  const match = /^smart;dur=(\d+(?:\.\d+)?)$/.exec(String(headers['server-timing']));
  if (!match) throw new Error(`no smart Server-Timing in ${JSON.stringify(headers['server-timing'])}`);
  return Number(match[1]);
};

const json = (res: ServerResponse, status: number, body: string, afterMs = 0) => {
  const timer = setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(body), afterMs);
  res.once('close', () => clearTimeout(timer));
};

describe('/api/smart against local upstreams', () => {
  let app: RunningApp | undefined;
  let upstream: BareBackend | undefined;
  afterEach(async () => {
    await app?.close();
    await upstream?.close();
    app = upstream = undefined;
  });

  async function setUp(script: Script, env: Record<string, string> = {}) {
    const scripted = await scriptedUpstream(script);
    upstream = scripted.backend;
    app = await startApp({ SMART_UPSTREAM_URL: `${scripted.backend.url}/work`, ...env });
    return scripted;
  }
  const call = (timeout: number | string) => http(`${app!.baseUrl}/api/smart?timeout=${timeout}`);

  it('first succeeds: 200 with the upstream JSON and no backups', async () => {
    const up = await setUp((_n, _req, res) => json(res, 200, '{"time":12}', 10));
    const response = await call(1000);
    expect(response.status).toBe(200);
    expect(response.body.api).toEqual({ time: 12 });
    expect(up.requests).toBe(1); // answered before the hedge delay: no backups
    // Held from the request's arrival: at least the call itself.
    expect(serverMs(response.headers)).toBeGreaterThanOrEqual(response.body.time);
  });

  it('first 500, then a backup 200: the backups go out at once', async () => {
    const up = await setUp((n, _req, res) => (n === 0 ? json(res, 500, '{}') : json(res, 200, `{"n":${n}}`, 20)), {
      SMART_FIRST_TRY_MS: '5000',
    });
    // A 4 s deadline, under the 5 s hedge delay: a 200 means the failure sent the backups, not the delay.
    const response = await call(4_000);
    expect(response.status).toBe(200);
    expect(up.requests).toBe(3);
    await up.allClosed();
  });

  it('first slow, backup 200 at the hedge delay, and the first is aborted', async () => {
    const up = await setUp((n, _req, res) => json(res, 200, `{"n":${n}}`, n === 0 ? 5000 : 20));
    const response = await call(1000);
    expect(response.status).toBe(200);
    expect(response.body.time).toBeGreaterThanOrEqual(300); // no backup before the hedge delay
    expect([1, 2]).toContain(response.body.api.n); // a backup won: the first would answer at 5 s
    await up.allClosed(); // the slow first attempt's socket really closed
    expect(up.open).toBe(0);
  });

  it('first slow but wins before the backups answer; the backups are aborted', async () => {
    const up = await setUp((n, _req, res) => json(res, 200, `{"n":${n}}`, n === 0 ? 400 : 3000));
    const response = await call(2000);
    expect(response.status).toBe(200);
    expect(response.body.api).toEqual({ n: 0 });
    expect(up.requests).toBe(3); // backups were sent at 300 ms, the first kept running
    await up.allClosed();
  });

  it('all slow: 503 deadline at the timeout, nothing left running', async () => {
    // The upstream never answers: any answer the client gets is the deadline's.
    const up = await setUp(() => undefined);
    const started = performance.now();
    const response = await call(500);
    const took = performance.now() - started;
    expect(response.status).toBe(503);
    expect(response.body.reason).toBe('deadline');
    expect(response.body.attempts).toHaveLength(3);
    expect(response.body.attempts.every((a: { result: string }) => a.result === 'aborted')).toBe(true);
    expect(took).toBeGreaterThanOrEqual(495);
    // The deadline runs from the request's arrival, and the 503 says how long that was.
    expect(serverMs(response.headers)).toBeGreaterThanOrEqual(499);
    expect(serverMs(response.headers)).toBeLessThanOrEqual(took);
    await up.allClosed();
  });

  it('keeps the deadline against an upstream that hangs without ever sending headers', async () => {
    const up = await setUp(() => undefined);
    const response = await call(400);
    // The upstream never sends headers: an answer at all is the deadline's.
    expect(response.status).toBe(503);
    expect(response.body.reason).toBe('deadline');
    expect(serverMs(response.headers)).toBeGreaterThanOrEqual(399);
    await up.allClosed();
  });

  it('keeps the deadline against a slow body', async () => {
    const up = await setUp((_n, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"time":');
    });
    const response = await call(400);
    // The body never ends: an answer at all is the deadline's.
    expect(response.body.reason).toBe('deadline');
    expect(serverMs(response.headers)).toBeGreaterThanOrEqual(399);
    await up.allClosed();
  });

  it('all 500: 503 upstream_errors listing each attempt', async () => {
    await setUp((_n, _req, res) => json(res, 500, '{}', 5));
    const response = await call(1000);
    expect(response.status).toBe(503);
    expect(response.body.reason).toBe('upstream_errors');
    expect(response.body.attempts).toHaveLength(3);
    expect(response.body.attempts.map((a: { status: number }) => a.status)).toEqual([500, 500, 500]);
  });

  it('treats invalid JSON as a failure, not a crash', async () => {
    const up = await setUp((n, _req, res) => (n === 0 ? json(res, 200, '{"time":') : json(res, 200, '{"ok":true}', 10)));
    const response = await call(1000);
    expect(response.status).toBe(200);
    expect(response.body.api).toEqual({ ok: true });
    expect(up.requests).toBe(3);
  });

  it('without budget tokens sends no backups and reports budget', async () => {
    const up = await setUp((_n, _req, res) => json(res, 500, '{}', 5), { SMART_BUDGET_TOKENS: '0' });
    const response = await call(1000);
    expect(response.status).toBe(503);
    expect(response.body.reason).toBe('budget');
    expect(up.requests).toBe(1);
    const metrics = await http(`${app!.baseUrl}/metrics`);
    expect(metrics.text).toMatch(/^ballast_smart_budget_refused_total 2$/m);
  });

  it.each(['', 'abc', '0', '1.5', '60001', '-5'])('rejects timeout=%j with 400', async (timeout) => {
    await setUp((_n, _req, res) => json(res, 200, '{}'));
    const response = await call(timeout);
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/^timeout must be an integer from 1 to 60000/);
  });
});

describe('/api/work, the offline upstream simulator', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp({ WORK_HANG_RATE: '0', WORK_ERROR_RATE: '0', WORK_INVALID_RATE: '0', WORK_MIN_MS: '10', WORK_MAX_MS: '50' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers per its query: ok, 500, invalid JSON; rejects bad parameters', async () => {
    const ok = await http(`${app.baseUrl}/api/work?min=1&max=1&hang=0&error=0&invalid=0`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ time: 1 });
    expect((await http(`${app.baseUrl}/api/work?min=1&max=1&hang=0&error=1&invalid=0`)).status).toBe(500);
    const invalid = await request(`${app.baseUrl}/api/work?min=1&max=1&hang=0&error=0&invalid=1`);
    expect(invalid.statusCode).toBe(200);
    expect(invalid.headers['content-type']).toMatch(/application\/json/);
    const text = await invalid.body.text();
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect((await http(`${app.baseUrl}/api/work?min=5&max=1`)).status).toBe(400);
    expect((await http(`${app.baseUrl}/api/work?bogus=1`)).status).toBe(400);
    expect((await http(`${app.baseUrl}/api/work?hang=2`)).status).toBe(400);
  });

  it('is the default upstream of /api/smart, so npm start works offline', async () => {
    const response = await http(`${app.baseUrl}/api/smart?timeout=2000`);
    expect(response.status).toBe(200);
    expect(response.body.api.time).toBeLessThanOrEqual(50);
  });
});

describe('tracing, in the real process', () => {
  it('sends the hedged call and its attempts to the Zipkin endpoint, flushed on SIGTERM', async () => {
    // A collector: the spans it was sent, as Zipkin's v2 JSON.
    const spans: { name: string; localEndpoint?: { serviceName?: string } }[] = [];
    const collector = await startBareBackend((req, res, body) => {
      if (req.method === 'POST' && req.url === '/api/v2/spans') spans.push(...(JSON.parse(body.toString('utf8')) as typeof spans));
      res.writeHead(202).end();
    });
    const upstream = await startBareBackend((_req, res) => json(res, 200, '{"time":3}'));
    try {
      const service = await startServiceProcess({
        OTEL_TRACES_EXPORTER: 'zipkin',
        OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${collector.url}/api/v2/spans`,
        OTEL_SERVICE_NAME: 'ballast-traced',
        SMART_UPSTREAM_URL: `${upstream.url}/work`,
      });
      expect((await http(`${service.baseUrl}/api/smart?timeout=1000`)).status).toBe(200);
      // The batch processor holds spans for seconds: what reaches the collector came with the shutdown.
      expect(await stopProcess(service, 'SIGTERM')).toEqual({ code: 0, signal: null });
      expect(spans.map((span) => span.name).sort()).toEqual(['smart.attempt', 'smart.call']);
      for (const span of spans) expect(span.localEndpoint?.serviceName).toBe('ballast-traced');
    } finally {
      await upstream.close();
      await collector.close();
    }
  });
});
