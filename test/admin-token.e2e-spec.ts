import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { http } from './support/http.js';
import { startApp, type RunningApp } from './support/app.js';
import { describeWithRedis } from './support/redis.js';
import { TestSocket } from './support/ws.js';

const TOKEN = 'admin-token-e2e-0123456789abcdef';
const BEARER = { authorization: `Bearer ${TOKEN}` };
const BASIC = { authorization: `Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}` };
const WRONG = { authorization: `Bearer ${TOKEN.slice(0, -1)}x` };

const wsUrl = (app: RunningApp, query = '') => `ws://127.0.0.1:${app.port}/ws${query}`;

describeWithRedis('ADMIN_TOKEN', (redis) => {
  describe('on a service', () => {
    let service: RunningApp;
    beforeAll(async () => {
      service = await startApp({ ...redis().env, REDIS_PREFIX: `${redis().prefix}-admin`, ADMIN_TOKEN: TOKEN });
    });
    afterAll(() => service.close());

    it.each(['/status', '/status/assets/service.js', '/queues', '/queues/api/queues', '/metrics', '/tasks'])(
      '%s: 401 with a challenge and a JSON reason without the token or with a wrong one; 200 with it as Bearer or Basic password',
      async (path) => {
        for (const headers of [{}, WRONG]) {
          const refused = await http(`${service.baseUrl}${path}`, { headers });
          expect(refused.status).toBe(401);
          expect(refused.headers['www-authenticate']).toBe('Basic realm="ballast", charset="UTF-8", Bearer realm="ballast"');
          expect(refused.body).toMatchObject({ statusCode: 401, message: expect.stringContaining('ADMIN_TOKEN') });
        }
        for (const headers of [BEARER, BASIC]) expect((await http(`${service.baseUrl}${path}`, { headers })).status).toBe(200);
      },
    );

    it.each(['/ready', '/live', '/ping', '/docs-json'])('%s stays open (probes, clients, docs)', async (path) => {
      expect((await http(`${service.baseUrl}${path}`)).status).toBe(200);
    });

    it('with the token, Bull Board may act on the queue (not read-only)', async () => {
      const { body } = await http(`${service.baseUrl}/queues/api/queues`, { headers: BEARER });
      expect(body.queues.map((queue: any) => [queue.name, queue.readOnlyMode])).toEqual([['ballast-tasks', false]]);
    });

    it('subscribe all: refused with an error frame without the token; granted by the token on the upgrade or in the frame', async () => {
      const anonymous = await TestSocket.open(wsUrl(service));
      anonymous.send('subscribe', { all: true });
      const refusal = await anonymous.next((f) => f.event === 'error');
      expect(refusal.data.message).toMatch(/^subscribe \{"all": true\} needs ADMIN_TOKEN/);
      anonymous.send('subscribe', { all: true, token: 'not-the-token' });
      await anonymous.next((f) => f.event === 'error' && f !== refusal);

      const byFrame = await TestSocket.open(wsUrl(service));
      byFrame.send('subscribe', { all: true, token: TOKEN });
      const byUpgrade = await TestSocket.open(wsUrl(service), { headers: BEARER });
      byUpgrade.send('subscribe', { all: true });
      await Promise.all([byFrame, byUpgrade].map((socket) => socket.next((f) => f.event === 'subscribed' && f.data.all === true)));

      // Subscribed sockets hear about a task nobody told them the id of; the refused one does not.
      const { body } = await http(`${service.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 50 } });
      await Promise.all(
        [byFrame, byUpgrade].map((socket) =>
          socket.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed'),
        ),
      );
      expect(anonymous.taskFrames(body.id)).toEqual([]);
      for (const socket of [anonymous, byFrame, byUpgrade]) socket.close();
    });

    it("a task's own id and clientId keep working without the token", async () => {
      const mine = await TestSocket.open(wsUrl(service, '?clientId=own-client'));
      const { status, body } = await http(`${service.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 50, clientId: 'own-client' } });
      expect(status).toBe(202);
      await mine.next((f) => f.event === 'task' && f.data.id === body.id && f.data.status === 'completed');
      expect((await http(`${service.baseUrl}/tasks/${body.id}`)).body.status).toBe('completed');

      const byId = await TestSocket.open(wsUrl(service));
      byId.send('subscribe', { taskId: body.id });
      await byId.next((f) => f.event === 'subscribed' && f.data.taskId === body.id);
      expect((await byId.next((f) => f.event === 'task')).data.status).toBe('completed');
      mine.close();
      byId.close();
    });
  });

  describe('on the balancer', () => {
    let balancer: RunningApp;
    beforeAll(async () => {
      balancer = await startApp({ ROLE: 'balancer', BACKENDS: 'http://127.0.0.1:1', HEALTH_CHECK_INTERVAL_MS: '0', ADMIN_TOKEN: TOKEN });
    });
    afterAll(() => balancer.close());

    it.each(['/_balancer/status', '/_balancer/status/assets/balancer.js', '/_balancer/backends', '/_balancer/metrics'])(
      '%s: 401 without the token, 200 with it',
      async (path) => {
        expect((await http(`${balancer.baseUrl}${path}`)).status).toBe(401);
        expect((await http(`${balancer.baseUrl}${path}`, { headers: WRONG })).status).toBe(401);
        expect((await http(`${balancer.baseUrl}${path}`, { headers: BEARER })).status).toBe(200);
        expect((await http(`${balancer.baseUrl}${path}`, { headers: BASIC })).status).toBe(200);
      },
    );

    it.each(['/_balancer/ready', '/_balancer/live'])('%s stays open for probes', async (path) => {
      expect((await http(`${balancer.baseUrl}${path}`)).status).toBe(200);
    });
  });
});

describe('without ADMIN_TOKEN', () => {
  let service: RunningApp;
  beforeAll(async () => {
    service = await startApp({});
  });
  afterAll(() => service.close());

  it('the pages and data paths are open, the page is same-origin only (CSP), and /queues is absent without Redis', async () => {
    const page = await http(`${service.baseUrl}/status`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect((await http(`${service.baseUrl}/tasks`)).status).toBe(200);
    expect((await http(`${service.baseUrl}/metrics`)).status).toBe(200);
    expect((await http(`${service.baseUrl}/queues`)).status).toBe(404);
    const missing = await http(`${service.baseUrl}/status/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('No status page file "nope.js"');

    const socket = await TestSocket.open(wsUrl(service));
    socket.send('subscribe', { all: true });
    await socket.next((f) => f.event === 'subscribed' && f.data.all === true);
    socket.close();
  });
});

describeWithRedis('Bull Board without ADMIN_TOKEN', (redis) => {
  // Nested, so the app closes before the suite's Redis stops.
  describe('on a service with Redis', () => {
    let service: RunningApp;
    beforeAll(async () => {
      service = await startApp({ ...redis().env, REDIS_PREFIX: `${redis().prefix}-board` });
    });
    afterAll(() => service.close());

    it('is open and read-only: it shows the queue and refuses to act on it', async () => {
      const { body } = await http(`${service.baseUrl}/queues/api/queues`);
      expect(body.queues.map((queue: any) => [queue.name, queue.readOnlyMode])).toEqual([['ballast-tasks', true]]);
      const clean = await http(`${service.baseUrl}/queues/api/queues/ballast-tasks/clean/completed`, { method: 'PUT' });
      expect(clean.status).toBe(405);
      expect(clean.body).toEqual({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
    });
  });
});
