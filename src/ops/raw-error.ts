import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './error-body.js';
import { lingerAfterEarlyAnswer } from './lingering-close.js';

/** What an error answer written outside Nest carries besides its status and message. */
export interface RawErrorOptions {
  readonly retryAfterSeconds?: number;
  /** Each problem on its own, as the global filter's `reasons`. */
  readonly reasons?: string[];
  /** Fields the body carries besides the standard ones (the attempts of a failed proxy request). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Headers besides content-type, content-length and retry-after (`allow` on a 405). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The error answers of paths Nest never sees (the proxy, WebSocket upgrades, CONNECT), shaped
 * exactly as the global exception filter shapes its own: `statusCode, error, message, detail`,
 * `reasons` when there are any. One writer, so a client reads one body whoever answered.
 */
function rawError(status: number, message: string, options: RawErrorOptions): { headers: Record<string, string>; payload: string } {
  // Built by assignment, not by spreading into literals: V8 defines each spread property through
  // its runtime, and on the balancer's refusal path (most answers under overload) this function
  // and ProxyExchange.answer took 16 µs of a 429's 76 (perf of bench:data-path's refusal phase).
  const body = errorBody(status, message, options.reasons);
  const payload = JSON.stringify(options.details === undefined ? body : Object.assign(body, options.details));
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(payload)),
  };
  if (options.headers !== undefined) for (const name of Object.keys(options.headers)) headers[name] = options.headers[name];
  if (options.retryAfterSeconds !== undefined) headers['retry-after'] = String(options.retryAfterSeconds);
  return { headers, payload };
}

/**
 * Answers an HTTP request with a JSON error; the unread rest of its body is drained, not reset.
 * Returns the body's length in bytes (for the access log).
 */
export function writeErrorResponse(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  message: string,
  options: RawErrorOptions = {},
): number {
  const { headers, payload } = rawError(status, message, options);
  lingerAfterEarlyAnswer(req, res);
  res.writeHead(status, headers).end(payload);
  return Number(headers['content-length']);
}

/** Answers on a socket that has no HTTP response object (an upgrade, CONNECT), then closes it. */
export function writeErrorToSocket(socket: Duplex, status: number, message: string, options: RawErrorOptions = {}): void {
  if (socket.destroyed) return;
  const { headers, payload } = rawError(status, message, options);
  socket.end(`${responseHead(status, { ...headers, connection: 'close' })}${payload}`);
}

/** An HTTP/1.1 status line and headers, for sockets written by hand (a value may be a list). */
export function responseHead(status: number, headers: Readonly<Record<string, unknown>>, extraLines: readonly string[] = []): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...extraLines];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(item)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}
