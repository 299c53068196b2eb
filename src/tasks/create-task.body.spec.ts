import { describe, expect, it } from '@jest/globals';
import { InvalidInputError } from '../errors/index.js';
import { ZodBodyPipe } from '../ops/zod-body.pipe.js';
import { createTaskBody, createTaskBodySchema } from './create-task.body.js';

/** The POST /tasks body through the pipe the route uses (the input itself is the type's to check). */
describe('createTaskBody through ZodBodyPipe', () => {
  const pipe = new ZodBodyPipe(createTaskBody);
  const reasonsOf = (body: unknown): readonly string[] => {
    try {
      pipe.transform(body);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      return (error as InvalidInputError).details?.reasons ?? [];
    }
    throw new Error(`accepted ${JSON.stringify(body)}`);
  };

  it.each([
    [undefined, {}],
    [{}, {}],
    [{ durationMs: 0 }, { durationMs: 0 }],
    [
      { durationMs: 3_600_000, clientId: 'a.B_-9' },
      { durationMs: 3_600_000, clientId: 'a.B_-9' },
    ],
    [
      { durationMs: null, clientId: null },
      { durationMs: null, clientId: null },
    ],
    [{ payload: { nested: [1, 'x', null] } }, { payload: { nested: [1, 'x', null] } }],
    [
      { type: 'report', input: { month: '2026-11' } },
      { type: 'report', input: { month: '2026-11' } },
    ],
    [
      { type: 'demo', delayMs: 5_000, priority: 3 },
      { type: 'demo', delayMs: 5_000, priority: 3 },
    ],
    [{ runAt: '2026-12-01T12:00:00Z' }, { runAt: '2026-12-01T12:00:00Z' }],
    [{ runAt: '2026-12-01T12:00:00.250+01:00' }, { runAt: '2026-12-01T12:00:00.250+01:00' }],
  ])('accepts %j', (body, parsed) => {
    expect(pipe.transform(body)).toEqual(parsed);
  });

  it.each([
    [{ type: 'has space' }, 'type must be 1-64 letters, digits, "_", ".", ":" or "-"'],
    [{ type: 'x'.repeat(65) }, 'type must be 1-64 letters, digits, "_", ".", ":" or "-"'],
    [{ delayMs: -1 }, 'delayMs must be an integer from 0 to 2592000000 (30 days)'],
    [{ delayMs: 1.5 }, 'delayMs must be an integer from 0 to 2592000000 (30 days)'],
    [{ priority: -1 }, 'priority must be an integer from 0 to 2097152'],
    [{ priority: 2_097_153 }, 'priority must be an integer from 0 to 2097152'],
    [{ runAt: 'tomorrow' }, 'runAt must be an ISO 8601 date-time, e.g. 2026-12-01T12:00:00Z'],
    [{ runAt: '2999-01-01T00:00:00Z' }, 'runAt must be within 30 days'],
    [{ runAt: '2026-12-01T12:00:00Z', delayMs: 10 }, 'runAt and delayMs are mutually exclusive'],
    [{ type: 'demo', durationMs: 10 }, 'durationMs belongs in input when type or input is given'],
    [{ input: {}, payload: 1 }, 'payload belongs in input when type or input is given'],
    [{ clientId: 'no spaces' }, 'clientId must be 1-128 letters, digits, "_", "." or "-"'],
    [{ clientId: 'x'.repeat(129) }, 'clientId must be 1-128 letters, digits, "_", "." or "-"'],
    [{ clientId: 7 }, 'clientId must be 1-128 letters, digits, "_", "." or "-"'],
    [{ colour: 'red' }, 'property colour should not exist'],
    [[1, 2], 'the body must be a JSON object'],
    ['text', 'the body must be a JSON object'],
    [42, 'the body must be a JSON object'],
  ])('rejects %j saying why', (body, reason) => {
    expect(reasonsOf(body)).toEqual([reason]);
  });

  it('lists every problem, joined in the message', () => {
    const body = { priority: -5, clientId: 'a b', colour: 'red', size: 3 };
    expect(reasonsOf(body)).toEqual([
      'clientId must be 1-128 letters, digits, "_", "." or "-"',
      'priority must be an integer from 0 to 2097152',
      'property colour should not exist',
      'property size should not exist',
    ]);
    expect(() => pipe.transform(body)).toThrow(/^clientId must be .*; priority must be .*; property colour should not exist/);
  });

  it('documents the same rules in OpenAPI: optional fields, no others', () => {
    expect(createTaskBodySchema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: {
        type: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
        priority: { type: 'integer', minimum: 0, maximum: 2_097_152, nullable: true },
        delayMs: { type: 'integer', minimum: 0 },
        runAt: { type: 'string', format: 'date-time' },
        clientId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' },
        input: {},
        durationMs: {},
      },
    });
    expect(createTaskBodySchema).not.toHaveProperty('required');
  });
});
