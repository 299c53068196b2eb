import { describe, expect, it } from '@jest/globals';
import { BadRequestException, HttpException, Logger, PayloadTooLargeException } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { ItemNotFoundError, ShuttingDownError, SmartCallFailedError, StoreUnavailableError } from '../errors/index.js';
import { GlobalExceptionFilter } from './global-exception.filter.js';

/** A reply that records what the filter sent, and the request it came for. */
function exchange(type = 'http', alreadySent = false) {
  const sent: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
  const reply = {
    sent: alreadySent,
    raw: { headersSent: alreadySent },
    header(name: string, value: string) {
      sent.headers[name] = value;
      return reply;
    },
    status(code: number) {
      sent.status = code;
      return reply;
    },
    send(body: unknown) {
      sent.body = body;
      return reply;
    },
  };
  const request = { method: 'GET', url: '/items/1', id: 'req-7' };
  const host = {
    getType: () => type,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ArgumentsHost;
  return { host, sent };
}

function logged(run: () => void): string[] {
  const lines: string[] = [];
  const original = Logger.prototype.error;
  Logger.prototype.error = function (message: unknown) {
    lines.push(String(message));
  };
  try {
    run();
  } finally {
    Logger.prototype.error = original;
  }
  return lines;
}

describe('GlobalExceptionFilter', () => {
  const filter = new GlobalExceptionFilter();

  it.each([
    [new ItemNotFoundError(1), 404, 'Item 1 not found'],
    [new StoreUnavailableError(), 503, 'The data store is unreachable; try again shortly'],
  ])('maps %p to its status with the message in message and detail', (error, status, message) => {
    const { host, sent } = exchange();
    expect(logged(() => filter.catch(error, host))).toEqual([]);
    expect(sent.status).toBe(status);
    expect(sent.body).toEqual({ statusCode: status, error: expect.any(String), message, detail: message });
  });

  it('sets Retry-After for unavailable errors that carry one', () => {
    const { host, sent } = exchange();
    filter.catch(new ShuttingDownError(), host);
    expect(sent).toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
  });

  it("adds a domain error's own fields to the body", () => {
    const { host, sent } = exchange();
    filter.catch(new SmartCallFailedError('deadline', 800, [{ attempt: 0, ms: 800, result: 'aborted' }]), host);
    expect(sent.body).toMatchObject({
      statusCode: 503,
      message: 'No upstream answer within 800 ms',
      reason: 'deadline',
      attempts: [{ attempt: 0, ms: 800, result: 'aborted' }],
    });
  });

  it('keeps validation reasons one by one', () => {
    const { host, sent } = exchange();
    filter.catch(new BadRequestException(['price must be a number', 'name should not be empty']), host);
    expect(sent.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'price must be a number; name should not be empty',
      detail: 'price must be a number; name should not be empty',
      reasons: ['price must be a number', 'name should not be empty'],
    });
  });

  it('keeps the status and message of other HTTP exceptions', () => {
    const { host, sent } = exchange();
    filter.catch(new PayloadTooLargeException('Request body is too large'), host);
    expect(sent).toMatchObject({ status: 413, body: { statusCode: 413, message: 'Request body is too large' } });
  });

  it('answers an unexpected error with a generic 500 and logs its cause with the request id, never sending it', () => {
    const { host, sent } = exchange();
    const secret = new Error('connection string redis://admin:hunter2@db');
    const lines = logged(() => filter.catch(secret, host));
    expect(sent.status).toBe(500);
    expect(sent.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
      detail: 'Internal server error',
    });
    expect(JSON.stringify(sent.body)).not.toContain('hunter2');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^GET \/items\/1 failed \[reqId=req-7\]: Error: connection string/);
  });

  it('logs 5xx HTTP exceptions too', () => {
    const { host } = exchange();
    expect(logged(() => filter.catch(new HttpException('boom', 502), host))).toHaveLength(1);
  });

  it('sends nothing when the response has already started', () => {
    const { host, sent } = exchange('http', true);
    filter.catch(new ItemNotFoundError(2), host);
    expect(sent).toEqual({ headers: {} });
  });

  it('leaves non-HTTP contexts (WebSocket) to their own handling', () => {
    const { host } = exchange('ws');
    const error = new Error('ws');
    expect(() => filter.catch(error, host)).toThrow(error);
  });
});
