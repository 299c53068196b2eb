import { z } from 'zod';

const CLIENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const CLIENT_ID_RULE = 'must be 1-128 letters, digits, "_", "." or "-"';
const TYPE_RULE = 'must be 1-64 letters, digits, "_", ".", ":" or "-"';
/** How far ahead a task may be scheduled. */
export const MAX_DELAY_MS = 30 * 24 * 3600 * 1000;
const DELAY_RULE = `must be an integer from 0 to ${MAX_DELAY_MS} (30 days)`;
/** BullMQ's highest priority number. */
export const MAX_PRIORITY = 2_097_152;
const PRIORITY_RULE = `must be an integer from 0 to ${MAX_PRIORITY}`;
/** The demo's input given at the top level, as seed 004's clients send it. */
export const LEGACY_DEMO_FIELDS = ['durationMs', 'payload', 'failTimes'] as const;

/**
 * The body of POST /tasks, and its OpenAPI schema (createTaskBodySchema): one definition. The
 * input itself is checked by the type's handler (TaskTypes.parse). Unknown fields are refused;
 * null counts as absent.
 */
export const createTaskBody = z
  .strictObject(
    {
      type: z
        .string({ error: TYPE_RULE })
        .regex(/^[A-Za-z0-9_.:-]{1,64}$/, { error: TYPE_RULE })
        .nullish()
        .meta({ description: 'The task type (a registered handler); default `demo`', example: 'demo' }),
      input: z
        .unknown()
        .optional()
        .meta({
          description: 'The type’s input, checked by its handler’s schema',
          example: { durationMs: 2000, payload: { hello: 'world' } },
        }),
      clientId: z
        .string({ error: CLIENT_ID_RULE })
        .regex(CLIENT_ID, { error: CLIENT_ID_RULE })
        .nullish()
        .meta({ description: 'Sockets connected with ?clientId= get this task’s frames unasked', example: 'browser-1' }),
      delayMs: z
        .int({ error: DELAY_RULE })
        .min(0, { error: DELAY_RULE })
        .max(MAX_DELAY_MS, { error: DELAY_RULE })
        .nullish()
        .meta({ description: 'Run no sooner than this many ms from now (status `scheduled` until then)', example: 60000 }),
      runAt: z.iso
        .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-12-01T12:00:00Z' })
        .nullish()
        .meta({ description: 'Run no sooner than this time (instead of delayMs)', example: '2026-12-01T12:00:00Z' }),
      priority: z
        .int({ error: PRIORITY_RULE })
        .min(0, { error: PRIORITY_RULE })
        .max(MAX_PRIORITY, { error: PRIORITY_RULE })
        .nullish()
        .meta({ description: 'Lower runs first; 0 (the default, no priority) runs before any prioritized task', example: 10 }),
      durationMs: z.unknown().optional().meta({ description: 'Without `type`: the demo’s durationMs (seed 004’s body)' }),
      payload: z.unknown().optional().meta({ description: 'Without `type`: the demo’s payload' }),
      failTimes: z.unknown().optional().meta({ description: 'Without `type`: the demo fails its first N attempts' }),
    },
    { error: 'the body must be a JSON object' },
  )
  .superRefine((body, ctx) => {
    if (body.delayMs != null && body.runAt != null) {
      ctx.addIssue({ code: 'custom', path: ['runAt'], message: 'and delayMs are mutually exclusive' });
    }
    if (body.runAt != null && Date.parse(body.runAt) - Date.now() > MAX_DELAY_MS) {
      ctx.addIssue({ code: 'custom', path: ['runAt'], message: 'must be within 30 days' });
    }
    const legacy = LEGACY_DEMO_FIELDS.filter((field) => body[field] !== undefined);
    if (legacy.length > 0 && (body.type != null || body.input !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [legacy[0]], message: 'belongs in input when type or input is given' });
    }
  });

export type CreateTaskBody = z.output<typeof createTaskBody>;

export const createTaskBodySchema = z.toJSONSchema(createTaskBody, { target: 'openapi-3.0', io: 'input' });
