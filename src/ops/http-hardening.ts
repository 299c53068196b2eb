import type { FastifyInstance } from 'fastify';
import { ERROR_MESSAGES, InvalidInputError } from '../errors/index.js';
import { errorBody } from './error-body.js';
import { jsonNestingExceeds } from './json-depth.js';
import { lingerAfterEarlyAnswer } from './lingering-close.js';
import { REQUEST_ID_HEADER } from './logger.js';
import { requestFramingProblem } from './request-framing.js';

/**
 * What every request meets before any route (both roles): a request id on every response;
 * 400 for framing Node lets through (two Host headers) and for JSON nested deeper than
 * `maxJsonDepth`; and a lingering close after any answer sent before the body was read.
 */
export function hardenHttp(fastify: FastifyInstance, options: { maxJsonDepth: number }): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
    const problem = requestFramingProblem(request.raw);
    if (problem) {
      void reply.code(400).send(errorBody(400, problem));
      return;
    }
    done();
  });
  // An answer sent before the body was read (413, 415, a parse error) lingers so the client reads it.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    lingerAfterEarlyAnswer(request.raw, reply.raw);
    done(null, payload);
  });

  // Fastify's own JSON parser (prototype-poisoning checks included), behind a depth check.
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestingExceeds(body as string, options.maxJsonDepth)) {
      done(new InvalidInputError(ERROR_MESSAGES.input.tooDeep(options.maxJsonDepth)), undefined);
      return;
    }
    void parseJson(request, body as string, done);
  });
}
