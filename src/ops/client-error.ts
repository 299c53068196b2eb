import type { Socket } from 'node:net';
import { ERROR_MESSAGES } from '../errors/messages.js';
import { lingerAfterEnd } from './lingering-close.js';
import { writeErrorToSocket } from './raw-error.js';

/**
 * Fastify's `clientErrorHandler` for both roles, so it replaces Fastify's own rather than
 * running beside it: Fastify's (and Node's) answers and destroys the socket at once, and a
 * client still sending then gets a reset, which can destroy the answer before it is read. This
 * one answers a head slower than headersTimeout (408), too large (431) or not HTTP (400) as
 * JSON, half-closes, and drops what still comes.
 */
export function clientErrorHandler(headTimeoutMessage: string): (error: NodeJS.ErrnoException, socket: Socket) => void {
  const answered = new WeakSet<Socket>();
  return (error, socket) => {
    if (answered.has(socket)) return; // the parser's own end-of-stream error, after the answer
    answered.add(socket);
    // Some of a response already went out on it: another answer would corrupt the stream.
    const responding = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (error.code === 'ECONNRESET' || !socket.writable || responding) {
      socket.destroy();
      return;
    }
    const [status, message] = clientErrorAnswer(error.code, headTimeoutMessage);
    writeErrorToSocket(socket, status, message);
    lingerAfterEnd(socket);
  };
}

/** The status and reason for a request Node's parser or its headers timeout gave up on. */
function clientErrorAnswer(code: string | undefined, headTimeoutMessage: string): [number, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, headTimeoutMessage];
  if (code === 'HPE_HEADER_OVERFLOW') return [431, ERROR_MESSAGES.framing.headTooLarge];
  return [400, ERROR_MESSAGES.framing.notHttp];
}
