import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** nginx's `lingering_time` and `lingering_timeout`: at most this long in all, and between reads. */
export const LINGER_TOTAL_MS = 30_000;
export const LINGER_IDLE_MS = 5_000;

const lingering = new WeakSet<Socket>();

/**
 * Call when answering before the request body has been read (413, 415, 400, 503...). The
 * response says `Connection: close`; once it is written, the socket half-closes (FIN) and what
 * the client still sends is read and dropped until it closes its side, a read pauses for
 * LINGER_IDLE_MS, or LINGER_TOTAL_MS pass. Closing at once instead would reset the connection
 * while the client is still sending, and a reset can destroy the answer before the client
 * reads it: the client sees EPIPE or ECONNRESET instead of the status.
 */
export function lingerAfterEarlyAnswer(req: IncomingMessage, res: ServerResponse): void {
  // Nothing left to read: a request without a body keeps its connection (before its handler
  // returns, Node has not yet marked even a bodiless request complete).
  if (req.complete || !announcesBody(req)) return;
  if (!res.headersSent) res.setHeader('connection', 'close');
  // Whatever was reading the body (a parser, a pipe to an upstream) is done with it: drop the rest.
  res.once('finish', () => {
    req.unpipe();
    req.resume();
  });
  const socket = req.socket;
  if (lingering.has(socket)) return;
  lingering.add(socket);
  // Node's server ends a `Connection: close` exchange with socket.destroySoon(): destroy once
  // the response is flushed. Replace that, for this socket only, with a half-close and linger.
  socket.destroySoon = function lingerThenDestroy(this: Socket): void {
    lingerAfterEnd(this);
  };
}

/**
 * Half-closes the socket once what was written is flushed (FIN), then reads and drops what the
 * client still sends until it closes its side, a read pauses for LINGER_IDLE_MS, or
 * LINGER_TOTAL_MS pass: the client reads the answer instead of a reset.
 */
export function lingerAfterEnd(socket: Socket): void {
  socket.end();
  const total = setTimeout(() => socket.destroy(), LINGER_TOTAL_MS);
  let idle = setTimeout(() => socket.destroy(), LINGER_IDLE_MS);
  total.unref();
  idle.unref();
  socket.on('data', () => {
    clearTimeout(idle);
    idle = setTimeout(() => socket.destroy(), LINGER_IDLE_MS);
    idle.unref();
  });
  socket.once('end', () => socket.destroy());
  socket.once('close', () => {
    clearTimeout(total);
    clearTimeout(idle);
  });
  socket.resume();
}

/** Whether the request says a body follows (RFC 9112 §6.3: a length above zero, or chunked). */
function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}
