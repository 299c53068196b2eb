import { describe, expect, it } from '@jest/globals';
import { http } from './support/http.js';
import { runServiceToExit, useProcesses } from './support/process.js';

describe('the service process (node dist/main.js)', () => {
  const processes = useProcesses();

  it('starts with embedded defaults and serves /ping and /docs', async () => {
    const service = await processes.start();
    expect((await http(`${service.baseUrl}/ping`)).body.port).toBe(service.port);
    expect((await http(`${service.baseUrl}/docs`)).status).toBe(200);
  });

  it.each([
    [{ PORT: 'abc' }, /PORT must be a number \(got "abc"\)/],
    [{ READY_MIN_CLIENTS: '5', READY_MAX_CLIENTS: '4' }, /READY_MIN_CLIENTS must be <= READY_MAX_CLIENTS \(4\)/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must be a redis:\/\//],
  ])('exits 1 naming the variable for %j', async (env, message) => {
    const { code, stderr } = await runServiceToExit(env);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Invalid configuration/);
    expect(stderr).toMatch(message);
  });
});
