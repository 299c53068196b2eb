import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { http } from './support/http.js';
import { useProcesses } from './support/process.js';
import { waitFor } from './support/wait.js';
import { TestSocket } from './support/ws.js';

const TASKS = 10_000;
const PAYLOAD = 'x'.repeat(2_048);
const MAX_BUFFERED = 1024 * 1024;
/** What the service may grow by over the run: the 10,000 finished views it keeps (about 30 MB) and slack, not a copy of every frame. */
const RSS_GROWTH_BOUND_MB = 80;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('a subscriber that stops reading (real process)', () => {
  const processes = useProcesses();

  it('is closed 1013 once WS_MAX_BUFFERED_BYTES is unsent, keeps the RSS bounded, and the other sockets get every frame', async () => {
    const service = await processes.start({ TASK_CONCURRENCY: '50', WS_MAX_BUFFERED_BYTES: String(MAX_BUFFERED) });
    const wsUrl = `${service.baseUrl.replace('http', 'ws')}/ws`;
    const healthy = await TestSocket.open(wsUrl);
    const stalled = await TestSocket.open(wsUrl);
    for (const socket of [healthy, stalled]) {
      socket.send('subscribe', { all: true });
      await socket.next((f) => f.event === 'subscribed');
    }
    // It reads no more: what the server sends it piles up in the kernel, then in the server.
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const rssBefore = rssMb(service.child.pid!);

    const ids: string[] = [];
    for (let sent = 0; sent < TASKS; sent += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, () => http(`${service.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 0, payload: PAYLOAD } })),
      );
      for (const response of batch) ids.push(response.body.id);
    }
    const last = ids.at(-1)!;
    await healthy.next((f) => f.event === 'task' && f.data.id === last && f.data.status === 'completed', 60_000);
    const completed = new Set(healthy.frames.filter((f) => f.event === 'task' && f.data.status === 'completed').map((f) => f.data.id));
    expect(ids.filter((id) => !completed.has(id))).toEqual([]);

    const metrics = await waitFor(async () => {
      const text = (await http(`${service.baseUrl}/metrics`)).text;
      return /^ballast_ws_connections 1$/m.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/^ballast_ws_slow_closed_total 1$/m);
    const growth = rssMb(service.child.pid!) - rssBefore;
    expect(Math.round(growth)).toBeLessThan(RSS_GROWTH_BOUND_MB);
    healthy.close();
  }, 120_000);
});
