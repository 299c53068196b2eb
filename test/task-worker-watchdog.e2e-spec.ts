import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFreezingProxy, type FreezingProxy } from './support/freezing-proxy.js';
import { http } from './support/http.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { describeWithRedis, uniquePrefix } from './support/redis.js';
import { untilCompleted } from './support/tasks.js';
import { waitFor } from './support/wait.js';

/**
 * A worker whose connections stop answering (half-open sockets: a network fault, a failover
 * behind NAT) while the request path's still work: BullMQ resets a blocking read that never
 * returns, but not a command that never does, so without the watchdog the worker takes nothing
 * more for good. Two real services behind a TCP proxy to one Redis, each with its own queue:
 * one with the watchdog (TASK_WORKER_SILENT_MS), one without.
 */
describeWithRedis(
  'a silent worker is replaced (TASK_WORKER_SILENT_MS)',
  (redis) => {
    const processes = useProcesses();
    let proxy: FreezingProxy;
    let watched: ServiceProcess;
    let unwatched: ServiceProcess;
    const watchedPrefix = uniquePrefix();
    const unwatchedPrefix = uniquePrefix();

    beforeAll(async () => {
      const url = new URL(redis().url);
      proxy = await startFreezingProxy({ host: url.hostname, port: Number(url.port) });
      url.port = String(proxy.port);
      const common = { REDIS_URL: url.toString(), TASK_CONCURRENCY: '2', TASK_ATTEMPTS: '1' };
      [watched, unwatched] = await processes.startAll([
        { ...common, REDIS_PREFIX: watchedPrefix, TASK_WORKER_SILENT_MS: '1500' },
        { ...common, REDIS_PREFIX: unwatchedPrefix, TASK_WORKER_SILENT_MS: '0' },
      ]);
    });
    afterAll(async () => {
      await processes.stopAll();
      await proxy?.close();
    });

    const create = async (base: string) => {
      const response = await http(`${base}/tasks`, { method: 'POST', json: { durationMs: 50 } });
      expect(response.status).toBe(202);
      return response.body.id as string;
    };
    const statusOf = async (base: string, id: string) => (await http(`${base}/tasks/${id}`)).body.status as string;
    const replacedOn = async (base: string) =>
      Number(/^ballast_task_workers_replaced_total (\d+)/m.exec(String((await http(`${base}/metrics`)).body))?.[1]);

    it('takes the waiting tasks again on a new worker, where a worker without the watchdog stays stuck', async () => {
      // Both work before the fault.
      await untilCompleted(watched.baseUrl, [await create(watched.baseUrl)]);
      await untilCompleted(unwatched.baseUrl, [await create(unwatched.baseUrl)]);
      expect(await replacedOn(watched.baseUrl)).toBe(0);

      // Each worker has two connections, both stop answering: its commands (named by ballast)
      // and its blocking reads (BullMQ names that one after the queue: <prefix>:bull:<base64 name>).
      const queueName = Buffer.from('ballast-tasks').toString('base64');
      const freezeWorkerOf = (prefix: string) => proxy.freezeNamed(`${prefix}:worker`) + proxy.freezeNamed(`${prefix}:bull:${queueName}`);
      expect(freezeWorkerOf(watchedPrefix)).toBe(2);
      expect(freezeWorkerOf(unwatchedPrefix)).toBe(2);
      const frozenAt = Date.now();
      const watchedTasks = [await create(watched.baseUrl), await create(watched.baseUrl), await create(watched.baseUrl)];
      const unwatchedTask = await create(unwatched.baseUrl);

      const views = await untilCompleted(watched.baseUrl, watchedTasks, { timeoutMs: 15_000, what: 'the watched service’s tasks' });
      expect(views.map((view) => view.attempt)).toEqual([1, 1, 1]);
      expect(await replacedOn(watched.baseUrl)).toBe(1);
      await watched.waitForLine(/took no job for 1500 ms while \d+ waited and it had free slots: replaced by a new worker/);

      // The control: no event says "still stuck", so it is looked at once BullMQ's own reset of
      // a blocking read (its block timeout, 5 s, + 1 s) has had its chance.
      await sleep(Math.max(0, frozenAt + 7_000 - Date.now()));
      // Queued, or active in Redis for a worker that never heard it took it: not run either way.
      expect(['queued', 'active']).toContain(await statusOf(unwatched.baseUrl, unwatchedTask));
      expect(await replacedOn(unwatched.baseUrl)).toBeNaN();
    }, 30_000);

    it('shuts down cleanly after a replacement: SIGTERM, exit 0', async () => {
      watched.kill('SIGTERM');
      expect(await watched.exited()).toEqual({ code: 0, signal: null });
      await waitFor(async () => (watched.lines.some((line) => /shutdown complete/i.test(line)) ? true : undefined), {
        what: 'the shutdown line',
      });
    }, 30_000);
  },
  { modes: ['standalone'] },
);
