import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_MESSAGES } from '../errors/messages.js';
import { writeErrorToSocket } from './raw-error.js';

/**
 * A framing problem Node's parser lets through but RFC 9112 forbids, or undefined. Node keeps
 * the first of two Host headers and drops the other; a front end and a back end that pick
 * different ones disagree about the target (request smuggling's cousin), so it is a 400 (§3.2).
 */
export function requestFramingProblem(req: IncomingMessage): string | undefined {
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') hosts += 1;
  }
  return hosts > 1 ? ERROR_MESSAGES.framing.twoHosts : undefined;
}

/**
 * Node hands CONNECT to a 'connect' listener and, without one, drops the socket: the client
 * gets no answer at all. ballast is no forward proxy: it says so with a 405.
 */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  writeErrorToSocket(socket, 405, ERROR_MESSAGES.framing.connect, { headers: { allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS' } });
}
