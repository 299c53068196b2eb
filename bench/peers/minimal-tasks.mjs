// The tasks peer: the smallest app that does ballast's task job — POST /tasks puts a job on
// BullMQ, a worker reports progress once and completes it, QueueEvents turns progress and
// completion into frames for WebSocket clients subscribed to all. Fastify + BullMQ + ws, no
// framework, no validation, no stored views (~40 lines). With `every` as the fifth argument it
// also sends the `queued` and `active` frames (on QueueEvents `waiting` and `active`), as
// ballast's contract asks of every status change: 4 frames per task instead of 2.
// argv: port redisUrl prefix concurrency [every]
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, Worker } from 'bullmq';
import Fastify from 'fastify';
import { WebSocketServer } from 'ws';

const [port, redisUrl, prefix, concurrency, frames] = process.argv.slice(2);
const url = new URL(redisUrl);
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const queue = new Queue('tasks', { connection, prefix });
const worker = new Worker(
  'tasks',
  async (job) => {
    await job.updateProgress(100);
    return { workedMs: 0, payload: job.data.payload ?? null };
  },
  { connection, prefix, concurrency: Number(concurrency) },
);
const events = new QueueEvents('tasks', { connection, prefix });

const app = Fastify();
app.post('/tasks', async (request, reply) => {
  const id = randomUUID();
  await queue.add('task', request.body ?? {}, { jobId: id, removeOnComplete: 1000 });
  return reply.code(202).send({ id, status: 'queued' });
});
await app.listen({ port: Number(port), host: '127.0.0.1' });

const subscribers = new Set();
const wss = new WebSocketServer({ server: app.server, path: '/ws' });
wss.on('connection', (ws) => {
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString());
    if (frame.event === 'subscribe' && frame.data?.all === true) subscribers.add(ws);
  });
  ws.on('close', () => subscribers.delete(ws));
});
const broadcast = (data) => {
  const frame = JSON.stringify({ event: 'task', data });
  for (const ws of subscribers) ws.send(frame);
};
if (frames === 'every') {
  events.on('waiting', ({ jobId }) => broadcast({ id: jobId, status: 'queued', progress: 0 }));
  events.on('active', ({ jobId }) => broadcast({ id: jobId, status: 'active', progress: 0 }));
}
events.on('progress', ({ jobId, data }) => broadcast({ id: jobId, status: 'active', progress: data }));
events.on('completed', ({ jobId, returnvalue }) => broadcast({ id: jobId, status: 'completed', progress: 100, result: returnvalue }));
await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);

process.on('SIGTERM', async () => {
  await Promise.all([worker.close(), events.close(), queue.close(), app.close()]);
  process.exit(0);
});
process.send?.('ready');
