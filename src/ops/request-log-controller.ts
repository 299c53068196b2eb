import { performance } from 'node:perf_hooks';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AccessLog } from './access-log.js';
import { REQUEST_ID_HEADER } from './logger.js';
import { isOperationalPath } from './operational-paths.js';

/**
 * Fastify's request logging, shaped as the balancer's access log: one `log: "access"` line per
 * request when its response is sent, under the request id the balancer passed on, instead of
 * Fastify's two lines ("incoming request" now at debug only). Probes and scrapes are left out
 * unless they carry a request id (then a client sent them through the balancer, which logged them).
 */
export class RequestLogController extends LogController {
  /** Made by Nest after Fastify: bound before the server listens. */
  private accessLog?: AccessLog;

  constructor() {
    super({
      disableRequestLogging: (request: FastifyRequest) =>
        isOperationalPath(request.url) && request.headers[REQUEST_ID_HEADER] === undefined,
    });
  }

  use(accessLog: AccessLog): void {
    this.accessLog = accessLog;
  }

  override incomingRequest(request: FastifyRequest): void {
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    this.record(request, reply, reply.elapsedTime);
  }

  /**
   * An answer Fastify's router gave before any route (a malformed URL: `frameworkErrors`), for
   * which Fastify calls no completion hook: logged when its response finishes.
   */
  answeredOutsideRoutes(request: FastifyRequest, reply: FastifyReply): void {
    const startedAt = performance.now();
    reply.raw.once('finish', () => this.record(request, reply, performance.now() - startedAt));
  }

  private record(request: FastifyRequest, reply: FastifyReply, totalMs: number): void {
    const accessLog = this.accessLog;
    const status = reply.raw.headersSent ? reply.statusCode : 499;
    if (!accessLog?.wants(status, false)) return;
    accessLog.write({
      requestId: request.id,
      startedAtMs: Date.now() - totalMs,
      client: request.ip,
      forwardedFor: headerText(request.headers['x-forwarded-for']),
      method: request.method,
      target: request.url,
      route: request.routeOptions?.url,
      status,
      totalMs,
      bytesIn: byteCount(request.headers['content-length']),
      bytesOut: byteCount(reply.getHeader('content-length')),
    });
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function byteCount(header: unknown): number {
  const count = Number(header);
  return Number.isFinite(count) ? count : 0;
}
