import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ERROR_MESSAGES, type DomainErrorKind } from '../errors/index.js';
import { ADMIN_CHALLENGE } from './admin-access.js';
import { ErrorBody, errorBody } from './error-body.js';

const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  invalid: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.BAD_REQUEST, // seed 001 answers "already exists" with 400
  wrong_state: HttpStatus.CONFLICT,
  unprocessable: HttpStatus.UNPROCESSABLE_ENTITY,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

/**
 * Known errors keep their 4xx/503 and say why; anything else becomes a generic 500
 * whose cause is logged with the request id, never sent to the client.
 */
@Catch()
export class GlobalExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();

    const { body, retryAfterSeconds } = this.describe(exception, request);
    if (reply.sent || reply.raw.headersSent) return;
    if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
    if (body.statusCode === HttpStatus.UNAUTHORIZED) void reply.header('www-authenticate', ADMIN_CHALLENGE);
    void reply.status(body.statusCode).send(body);
  }

  private describe(exception: unknown, request: FastifyRequest): { body: ErrorBody; retryAfterSeconds?: number } {
    if (exception instanceof DomainError) {
      return {
        body: Object.assign(errorBody(STATUS_BY_KIND[exception.kind], exception.message), exception.details),
        retryAfterSeconds: exception.retryAfterSeconds,
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const { message, reasons } = readHttpExceptionMessage(exception);
      if (status >= 500) this.logUnexpected(exception, request);
      return { body: errorBody(status, message, reasons) };
    }
    this.logUnexpected(exception, request);
    return { body: errorBody(HttpStatus.INTERNAL_SERVER_ERROR, ERROR_MESSAGES.internal) };
  }

  private logUnexpected(exception: unknown, request: FastifyRequest): void {
    const cause = exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
    this.logger.error(`${request.method} ${request.url} failed [reqId=${request.id}]: ${cause}`);
  }
}

function readHttpExceptionMessage(exception: HttpException): { message: string; reasons?: string[] } {
  const response = exception.getResponse();
  if (typeof response === 'string') return { message: response };
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) {
    const reasons = message.map(String);
    return { message: reasons.join('; '), reasons };
  }
  if (typeof message === 'string') return { message };
  return { message: exception.message };
}
