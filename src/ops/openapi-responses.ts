import type { OpenAPIObject } from '@nestjs/swagger';
import { isOperationalPath } from './operational-paths.js';

type Operation = { requestBody?: unknown; responses: Record<string, unknown> };

const ERROR_BODY = { content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBodyDto' } } } };

/** Answers every route can give, whatever its controller says; added where not declared. */
const ANY_ROUTE: Record<string, string> = {
  '500': 'Unexpected error: a generic body; the cause is logged with the request id, never sent',
};
const WITH_BODY: Record<string, string> = {
  '400': 'Malformed JSON, nested deeper than allowed, or a body that fails validation',
  '413': 'Body larger than BODY_LIMIT_BYTES',
  '415': 'Body that is not application/json',
};
const CLIENT_ROUTE: Record<string, string> = {
  '503': 'In cooldown with READY_SHED=true (Retry-After), or a dependency unreachable',
};

/**
 * Declares the statuses that come from the platform rather than from one controller (the
 * global filter's 500, the body parser's 400/413/415, load shedding's 503), so the document
 * states every status a route can answer. Pure: returns the same document, completed.
 */
export function declarePlatformResponses(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of Object.values(item) as Operation[]) {
      if (typeof operation !== 'object' || operation === null || !('responses' in operation)) continue;
      const add = (statuses: Record<string, string>) => {
        for (const [status, description] of Object.entries(statuses)) {
          operation.responses[status] ??= { description, ...ERROR_BODY };
        }
      };
      add(ANY_ROUTE);
      if (operation.requestBody) add(WITH_BODY);
      if (!isOperationalPath(path)) add(CLIENT_ROUTE);
    }
  }
  return document;
}
