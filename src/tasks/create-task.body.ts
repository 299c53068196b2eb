import { z } from 'zod';

/** Upper bound of the schema; the service checks the configured TASK_MAX_DURATION_MS too. */
export const DURATION_LIMIT_MS = 3_600_000;
const CLIENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const CLIENT_ID_RULE = 'must be 1-128 letters, digits, "_", "." or "-"';
const DURATION_RULE = `must be an integer from 0 to ${DURATION_LIMIT_MS}`;

/**
 * The body of POST /tasks, and its OpenAPI schema (createTaskBodySchema): one definition.
 * Unknown fields are refused; null counts as absent, as it did for the DTO this replaced.
 */
export const createTaskBody = z.strictObject(
  {
    durationMs: z
      .int({ error: DURATION_RULE })
      .min(0, { error: DURATION_RULE })
      .max(DURATION_LIMIT_MS, { error: DURATION_RULE })
      .nullish()
      .meta({ description: 'How long the demo task works (default TASK_DEFAULT_DURATION_MS)', example: 2000 }),
    payload: z
      .unknown()
      .optional()
      .meta({ description: 'Any JSON, echoed in the result', example: { hello: 'world' } }),
    clientId: z
      .string({ error: CLIENT_ID_RULE })
      .regex(CLIENT_ID, { error: CLIENT_ID_RULE })
      .nullish()
      .meta({ description: 'Sockets connected with ?clientId= get this task’s frames unasked', example: 'browser-1' }),
  },
  { error: 'the body must be a JSON object' },
);

export type CreateTaskBody = z.output<typeof createTaskBody>;

export const createTaskBodySchema = z.toJSONSchema(createTaskBody, { target: 'openapi-3.0', io: 'input' });
