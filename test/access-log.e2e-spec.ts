import { describe, expect, it } from '@jest/globals';
import { startFleet } from './support/fleet.js';
import { http, type JsonResponse } from './support/http.js';
import { stopProcess, useProcesses, type ServiceProcess } from './support/process.js';
import { TestSocket } from './support/ws.js';

/**
 * The access log, read from the processes' own output after they stopped: one balancer line per
 * request a client sent (answered by a backend, rejected by the balancer, retried, tunnelled),
 * and for each answer a backend gave, a line in that service's log under the same request id.
 */

interface AccessLine {
  log: 'access';
  role: 'balancer' | 'service';
  time: string;
  requestId: string;
  client: string;
  forwardedFor?: string;
  method: string;
  path: string;
  route?: string;
  status: number;
  backend?: string;
  attempts?: { backend: string; status?: number; failure?: string }[];
  bytesIn: number;
  bytesOut: number;
  upstreamMs?: number;
  totalMs: number;
  rejected?: string;
  tunnel?: boolean;
}

const accessLines = (process: ServiceProcess): AccessLine[] =>
  process.lines.filter((line) => line.includes('"log":"access"')).map((line) => JSON.parse(line) as AccessLine);

describe('access log through a fleet', () => {
  const processes = useProcesses();

  it('has one balancer line per client request, each answered one also in its service, under one request id', async () => {
    const fleet = await startFleet(processes, {
      services: 2,
      balancerEnv: {
        // No active checks: the stopped backend below is found by the request that meets it.
        HEALTH_CHECK_INTERVAL_MS: '0',
        BALANCER_CLIENT_KEY: 'header:x-client',
        BALANCER_CLIENT_CONCURRENCY: '2',
      },
    });
    const base = fleet.balancer.baseUrl;
    const sent: JsonResponse[] = [];
    const send = async (path: string, options: Parameters<typeof http>[1] = {}) => {
      const response = await http(`${base}${path}`, options);
      sent.push(response);
      return response;
    };

    // Answered by a backend: a read, a write with a body, a 404, bad JSON, a caller's own id.
    await send('/ping?secret=1');
    const created = await send('/items/?item_id=7', { method: 'POST', json: { name: 'logged', price: 2 } });
    expect(created.status).toBe(200);
    await send('/items/7');
    await send('/items/424242');
    expect(
      (await send('/items/?item_id=8', { method: 'POST', body: '{"name":', headers: { 'content-type': 'application/json' } })).status,
    ).toBe(400);
    expect((await send('/ping', { headers: { 'x-request-id': 'caller-chosen-1' } })).headers['x-request-id']).toBe('caller-chosen-1');
    // A URL the service's router refuses outright: its JSON reason, and a line on both sides.
    const badUrl = await send('/items/%zz');
    expect(badUrl.status).toBe(400);
    expect(badUrl.body).toMatchObject({ statusCode: 400, error: 'Bad Request', detail: expect.stringContaining('not a valid url') });
    // Rejected by the balancer: a greedy client past its concurrency of 2.
    const greedy = await Promise.all(Array.from({ length: 4 }, () => send('/long_task?ms=400', { headers: { 'x-client': 'greedy' } })));
    expect(greedy.map((r) => r.status).sort()).toEqual([200, 200, 429, 429]);
    // The balancer's own answers say so (RFC 9209), under the same request id as its line.
    for (const refused of greedy.filter((r) => r.status === 429)) {
      expect(refused.headers['proxy-status']).toBe('ballast; error=http_request_denied; details="client_concurrency"');
    }
    // A tunnel: one line for its whole life.
    const socket = await TestSocket.open(fleet.ws());
    socket.close();
    await socket.closed();
    // A backend gone: reads are retried on the other, and the line lists both attempts.
    const [gone, kept] = fleet.services;
    await stopProcess(gone, 'SIGTERM');
    for (let i = 0; i < 4; i += 1) expect((await send('/ping')).status).toBe(200);

    await Promise.all([stopProcess(fleet.balancer, 'SIGTERM'), stopProcess(kept, 'SIGTERM')]);
    const balancerLines = accessLines(fleet.balancer);
    const serviceLines = new Map(fleet.services.map((service, i) => [fleet.urls[i], accessLines(service)]));

    // One line per request, and one for the tunnel; every id is the one the client saw.
    const httpLines = balancerLines.filter((line) => !line.tunnel);
    expect(httpLines).toHaveLength(sent.length);
    expect(new Set(httpLines.map((line) => line.requestId))).toEqual(new Set(sent.map((r) => r.headers['x-request-id'])));
    expect(balancerLines.filter((line) => line.tunnel)).toEqual([
      expect.objectContaining({ status: 101, path: '/ws', backend: expect.any(String), bytesIn: expect.any(Number) }),
    ]);

    // The query is not logged unless asked for.
    expect(httpLines.find((line) => line.path.startsWith('/ping') && line.requestId === sent[0].headers['x-request-id'])?.path).toBe(
      '/ping',
    );
    const rejected = httpLines.filter((line) => line.rejected);
    expect(rejected).toHaveLength(2);
    for (const line of rejected) expect(line).toMatchObject({ status: 429, rejected: 'client_concurrency', attempts: [] });
    const post = httpLines.find((line) => line.method === 'POST' && line.status === 200)!;
    expect(post.bytesIn).toBe(JSON.stringify({ name: 'logged', price: 2 }).length);
    expect(post.bytesOut).toBeGreaterThan(0);

    // Every answer a backend gave is in that backend's own log, same id, path and status.
    for (const line of balancerLines.filter((l) => l.backend !== undefined && !l.tunnel)) {
      const own = serviceLines.get(line.backend!)!.find((s) => s.requestId === line.requestId);
      expect(own).toMatchObject({ role: 'service', method: line.method, path: line.path, status: line.status, forwardedFor: line.client });
      // Within the balancer's time, give or take where each stops its clock: the service's after
      // Fastify's completion hooks, which may run after the balancer has the last byte (27 ms
      // after, once, with the suite's processes sharing two cores; 5 ms of slack failed there).
      expect(own!.totalMs).toBeLessThanOrEqual(line.totalMs + 50);
    }

    // After the stop, reads that met the gone backend name it as a refused connection first.
    const goneUrl = fleet.urls[0];
    const retried = httpLines.filter((line) => line.attempts?.some((a) => a.backend === goneUrl && a.failure));
    expect(retried.length).toBeGreaterThanOrEqual(1);
    for (const line of retried) {
      expect(line.attempts).toEqual([
        { backend: goneUrl, failure: 'connect' },
        { backend: fleet.urls[1], status: 200 },
      ]);
    }
    expect(httpLines.slice(-4).every((line) => line.backend === fleet.urls[1] && line.status === 200)).toBe(true);
  });
});
