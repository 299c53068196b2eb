import { expect, it } from '@jest/globals';
import { startApp } from './support/app.js';
import { http } from './support/http.js';
import { useProcesses } from './support/process.js';
import { describeWithRedis } from './support/redis.js';

describeWithRedis('items over HTTP on Redis', (redis) => {
  const env = () => ({ ...redis().env, REDIS_PREFIX: redis().prefix });

  it('keeps items across an instance restart and shares them between instances', async () => {
    const first = await startApp(env());
    const created = await http(`${first.baseUrl}/items/?item_id=42`, { method: 'POST', json: { name: 'Foo', price: 1 } });
    expect(created.status).toBe(200);
    const other = await startApp(env());
    expect((await http(`${other.baseUrl}/items/42`)).body.name).toBe('Foo');
    await other.close();
    await first.close();

    const restarted = await startApp(env());
    try {
      expect((await http(`${restarted.baseUrl}/items/42`)).body).toEqual({
        name: 'Foo',
        description: null,
        price: 1,
        tax: null,
      });
    } finally {
      await restarted.close();
    }
  });

  it('lets exactly one of two concurrent creates on two instances win', async () => {
    const [a, b] = await Promise.all([startApp(env()), startApp(env())]);
    try {
      const results = await Promise.all([
        http(`${a.baseUrl}/items/?item_id=7`, { method: 'POST', json: { name: 'A', price: 1 } }),
        http(`${b.baseUrl}/items/?item_id=7`, { method: 'POST', json: { name: 'B', price: 1 } }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  const processes = useProcesses();

  it('answers 503 with a reason while Redis is unreachable, and keeps serving', async () => {
    // A real process: with Redis away its BullMQ connections retry forever, so it is killed, not closed.
    const service = await processes.start({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_PREFIX: redis().prefix });
    const response = await http(`${service.baseUrl}/items/1`);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body.message).toMatch(/unreachable/);
    expect((await http(`${service.baseUrl}/ping`)).status).toBe(200);
  });
});
