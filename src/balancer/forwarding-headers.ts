import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Hop-by-hop fields (RFC 9110 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

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
 * answered 100-continue), plus X-Forwarded-For/Proto/Host.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, client: ClientFacts): Record<string, string | string[]> {
  const drop = droppedFields(incoming) ?? HOP_BY_HOP;
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    if (drop.has(name) || name === 'host' || name === 'expect') continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }
  const prior = incoming['x-forwarded-for'];
  const ip = client.ip ?? 'unknown';
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${ip}` : ip;
  out['x-forwarded-proto'] = client.proto;
  if (client.host) out['x-forwarded-host'] = client.host;
  return out;
}

/** Headers to send to the client: the upstream's minus hop-by-hop ones, plus x-app-url. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, backendUrl: string): OutgoingHttpHeaders {
  const drop = droppedFields(upstream) ?? HOP_BY_HOP;
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    if (drop.has(name)) continue;
    const value = upstream[name];
    if (value !== undefined) out[name] = value;
  }
  out['x-app-url'] = backendUrl;
  return out;
}
