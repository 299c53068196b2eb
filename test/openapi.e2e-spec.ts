import SwaggerParser from '@apidevtools/swagger-parser';
import { Parser as AsyncApiParser } from '@asyncapi/parser';
import { API_VERSION } from '../src/ops/api-version.js';
import { asyncApiDocument } from '../src/tasks/asyncapi.js';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { http, OBSERVED_ENV, type ObservedStatus } from './support/http.js';
import { useProcesses } from './support/process.js';

type Document = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

/** The operation of `document` that serves method + path, if any. */
function operationFor(document: Document, method: string, path: string) {
  const normalised = path.length > 1 ? path.replace(/\/$/, '') : path;
  for (const [template, item] of Object.entries(document.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(normalised)) return item[method.toLowerCase()] ? { template, operation: item[method.toLowerCase()] } : undefined;
  }
  return undefined;
}

/**
 * The OpenAPI documents are valid, and state every status a route answers. Runs last
 * (test/support/sequencer.mjs): it reads the statuses the other e2e specs observed.
 */
describe('OpenAPI documents', () => {
  // Real processes: in jest's module system some optional integrations (terminus's swagger
  // decorators) load differently, and the document users get is the one `node dist/main.js` serves.
  const processes = useProcesses();
  const documents: { service?: Document; balancer?: Document; asyncApi?: object } = {};

  beforeAll(async () => {
    const [service, balancer] = await processes.startAll([
      {},
      { ROLE: 'balancer', BACKENDS: 'http://127.0.0.1:1', HEALTH_CHECK_INTERVAL_MS: '0' },
    ]);
    documents.service = (await http(`${service.baseUrl}/docs-json`)).body;
    documents.balancer = (await http(`${balancer.baseUrl}/_balancer/docs-json`)).body;
    documents.asyncApi = (await http(`${service.baseUrl}/asyncapi.json`)).body;
  });

  it('serves a valid AsyncAPI 3 document for /ws, the one every test socket checked its frames against', async () => {
    const diagnostics = await new AsyncApiParser().validate(JSON.stringify(documents.asyncApi));
    // Severity 0 is an error (1 a warning, e.g. a missing license).
    expect(diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(documents.asyncApi).toEqual(asyncApiDocument(API_VERSION));
    const messages = Object.keys((documents.asyncApi as { channels: { tasks: { messages: object } } }).channels.tasks.messages);
    expect(messages.sort()).toEqual(['error', 'hello', 'shutdown', 'subscribe', 'subscribed', 'task']);
  });

  it.each(['service', 'balancer'] as const)('the %s document is valid OpenAPI', async (role) => {
    await expect(SwaggerParser.validate(structuredClone(documents[role]) as never)).resolves.toBeDefined();
  });

  it.each([
    ['GET', '/long_task', 400],
    ['POST', '/tasks', 400],
    ['POST', '/tasks', 413],
    ['POST', '/items', 415],
    ['GET', '/items/{id}', 503],
    ['GET', '/api/work', 500],
    ['GET', '/ping', 500],
  ])('declares %s %s %i', (method, template, status) => {
    const responses = documents.service!.paths[template][method.toLowerCase()].responses;
    expect(Object.keys(responses)).toContain(String(status));
  });

  it('declares every status the e2e suite saw a route answer', () => {
    const file = process.env[OBSERVED_ENV];
    const observed: ObservedStatus[] =
      file && existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as ObservedStatus)
        : [];
    const undeclared = new Set<string>();
    let checked = 0;
    for (const { method, path, status } of observed) {
      const document = path.startsWith('/_balancer/') ? documents.balancer! : documents.service!;
      const found = operationFor(document, method, path);
      if (!found) continue; // a path no route serves (404 by design), or docs pages
      checked += 1;
      if (!(String(status) in found.operation.responses)) undeclared.add(`${method} ${found.template} ${status}`);
    }
    process.stdout.write(`OpenAPI check: ${checked} observed responses on documented routes\n`);
    // None seen means the other specs did not run first (run alone, it has nothing to check), not that all is declared.
    expect(checked).toBeGreaterThan(0);
    expect([...undeclared].sort()).toEqual([]);
  });
});
