import { z } from 'zod';
import { TASK_STATUSES } from './task.js';

const isoTime = z.iso.datetime();

/** A `task` frame's data: what GET /tasks/:id answers (TaskView). */
export const taskViewSchema = z.strictObject({
  id: z.string(),
  type: z.string(),
  status: z.enum(TASK_STATUSES as [string, ...string[]]),
  progress: z.number().min(0).max(100),
  result: z.unknown().meta({ description: 'The handler’s result once completed, else null' }),
  error: z.string().nullable().meta({ description: 'The last attempt’s error (retrying, failed, cancelled)' }),
  attempt: z.int().min(0),
  attempts: z.int().min(1),
  createdAt: isoTime,
  runAt: isoTime.nullable(),
  nextAttemptAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
});

const frame = <E extends string, D extends z.ZodType>(event: E, data: D, description: string) =>
  z.strictObject({ event: z.literal(event), data }).meta({ description });

/**
 * Every frame of /ws, both ways, as zod schemas: the AsyncAPI document (asyncapi.ts) is made
 * from them, and the e2e suite checks every frame it sees against that document.
 */
export const SERVER_FRAMES = {
  hello: frame('hello', z.strictObject({ instance: z.string(), hostname: z.string() }), 'Sent once on connect: which instance answered'),
  task: frame('task', taskViewSchema, 'A task’s present, on every change, to the sockets that follow it'),
  subscribed: frame(
    'subscribed',
    z.union([z.strictObject({ taskId: z.string() }), z.strictObject({ all: z.literal(true) })]),
    'A subscribe was accepted (a task’s current frame follows)',
  ),
  error: frame('error', z.strictObject({ message: z.string() }), 'A frame was refused; the connection stays open'),
  shutdown: frame(
    'shutdown',
    z.strictObject({ reason: z.string(), reconnect: z.boolean() }),
    'The instance is draining: close 1012 follows; reconnect (the balancer sends you elsewhere)',
  ),
} as const;

export const CLIENT_FRAMES = {
  subscribe: frame(
    'subscribe',
    z.union([
      z.strictObject({ taskId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }),
      z.strictObject({
        all: z.literal(true),
        token: z.string().optional().meta({ description: 'ADMIN_TOKEN, when set and not sent on the upgrade' }),
      }),
    ]),
    'Follow one task, or every task (needs ADMIN_TOKEN when set)',
  ),
} as const;
