import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop fields (RFC 9110 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function droppedFields(headers: IncomingHttpHeaders): Set<string> | undefined {
  const connection = headers.connection;
  if (!connection) return undefined;
  const named = new Set(HOP_BY_HOP);
  for (const token of String(connection).split(',')) {
    const name = token.trim().toLowerCase();
    if (name) named.add(name);
  }
  return named;
}

export interface ClientFacts {
  readonly ip: string | undefined;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
}

/**
 * Headers to send upstream: the client's minus hop-by-hop ones (and those its
 * Connection names), minus Host (the upstream's own is used) and Expect (Node already
 * answered 100-continue), plus X-Forwarded-For/Proto/Host. Edits the object it is given
 * (Node makes a fresh one per request): no copy on the hot path. Call it once per
 * request; retries reuse the result.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, client: ClientFacts): Record<string, string | string[]> {
  const drop = droppedFields(incoming) ?? HOP_BY_HOP;
  for (const name of drop) {
    if (name in incoming) delete incoming[name];
  }
  delete incoming.host;
  delete incoming.expect;
  const out = incoming as Record<string, string | string[]>;
  const prior = incoming['x-forwarded-for'];
  const ip = client.ip ?? 'unknown';
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${ip}` : ip;
  out['x-forwarded-proto'] = client.proto;
  if (client.host) out['x-forwarded-host'] = client.host;
  return out;
}

/**
 * Headers to send to the client: the upstream's minus hop-by-hop ones, plus x-app-url.
 * Edits the object it is given (undici makes a fresh one per response): no copy on the
 * hot path.
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, backendUrl: string): OutgoingHttpHeaders {
  const drop = droppedFields(upstream) ?? HOP_BY_HOP;
  for (const name of drop) {
    if (name in upstream) delete upstream[name];
  }
  const out = upstream as OutgoingHttpHeaders;
  out['x-app-url'] = backendUrl;
  return out;
}
