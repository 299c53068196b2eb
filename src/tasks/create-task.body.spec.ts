import { describe, expect, it } from '@jest/globals';
import { InvalidInputError } from '../errors/index.js';
import { ZodBodyPipe } from '../ops/zod-body.pipe.js';
import { createTaskBody, createTaskBodySchema } from './create-task.body.js';

/** The POST /tasks body through the pipe the route uses. */
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
    [{ payload: null }, { payload: null }],
  ])('accepts %j', (body, parsed) => {
    expect(pipe.transform(body)).toEqual(parsed);
  });

  it.each([
    [{ durationMs: -1 }, 'durationMs must be an integer from 0 to 3600000'],
    [{ durationMs: 1.5 }, 'durationMs must be an integer from 0 to 3600000'],
    [{ durationMs: 3_600_001 }, 'durationMs must be an integer from 0 to 3600000'],
    [{ durationMs: '100' }, 'durationMs must be an integer from 0 to 3600000'],
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
    const body = { durationMs: -5, clientId: 'a b', colour: 'red', size: 3 };
    expect(reasonsOf(body)).toEqual([
      'durationMs must be an integer from 0 to 3600000',
      'clientId must be 1-128 letters, digits, "_", "." or "-"',
      'property colour should not exist',
      'property size should not exist',
    ]);
    expect(() => pipe.transform(body)).toThrow(/^durationMs must be .*; clientId must be .*; property colour should not exist/);
  });

  it('documents the same rules in OpenAPI: optional fields, no others', () => {
    expect(createTaskBodySchema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: {
        durationMs: { type: 'integer', minimum: 0, maximum: 3_600_000, nullable: true },
        clientId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' },
        payload: {},
      },
    });
    expect(createTaskBodySchema).not.toHaveProperty('required');
  });
});
