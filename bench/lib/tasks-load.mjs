// The task load bench:tasks and bench:profile-tasks put on an app with ballast's task API
// (ballast itself, or bench/peers/minimal-tasks.mjs): POST /tasks, `completed` frames on /ws.
import { request } from 'undici';
import WebSocket from 'ws';
import { inFlightLoop } from './harness.mjs';

export async function openSocket(base, query = '') {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws${query}`);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  return ws;
}

/** A zero-length task; resolves with its id. */
export async function postTask(base) {
  const response = await request(`${base}/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"durationMs":0}',
  });
  const body = await response.body.json();
  if (response.statusCode !== 202) throw new Error(`POST /tasks ${response.statusCode}`);
  return body.id;
}

/**
 * `tasks` tasks posted `inFlight` at a time, until a socket subscribed to all has seen every
 * `completed` frame. Resolves with the seconds that took.
 */
export async function runTasks(base, { tasks, inFlight }) {
  const ws = await openSocket(base);
  ws.send(JSON.stringify({ event: 'subscribe', data: { all: true } }));
  let completed = 0;
  const done = new Promise((resolve) =>
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.event === 'task' && frame.data.status === 'completed' && ++completed === tasks) resolve();
    }),
  );
  const started = performance.now();
  await inFlightLoop(tasks, inFlight, () => postTask(base));
  await done;
  ws.close();
  return (performance.now() - started) / 1000;
}
