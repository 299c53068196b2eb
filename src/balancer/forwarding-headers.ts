import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { LOAD_REPORT_HEADER } from '../readiness/load-report.js';

/** Hop-by-hop fields (RFC 9110 7.6.1), never forwarded in either direction. */
const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Also never sent upstream: Host (the upstream's own is used) and Expect (Node already answered 100-continue). */
const NOT_UPSTREAM = new Set([...HOP_BY_HOP, 'host', 'expect']);

/**
 * Fields a Connection header names beyond the standard hop-by-hop set, or undefined in the
 * usual case (`keep-alive`, `close`, or no header): no Set is built per message for those.
 */
function namedByConnection(connection: string | string[] | undefined): Set<string> | undefined {
  if (connection === undefined) return undefined;
  const text = String(connection);
  const lower = text.length <= 10 ? text.toLowerCase() : '';
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  let named: Set<string> | undefined;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name && name !== 'close' && !HOP_BY_HOP.has(name)) (named ??= new Set()).add(name);
  }
  return named;
}

export interface ClientFacts {
  readonly ip: string | undefined;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
}

/**
 * Headers to send upstream: the client's minus hop-by-hop ones (and those its Connection
 * names), minus Host and Expect, plus X-Forwarded-For/Proto/Host. A fresh object: deleting
 * from Node's would turn it into a slow dictionary-mode object for undici to walk. Call it
 * once per request; retries reuse the result.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, client: ClientFacts): Record<string, string | string[]> {
  const named = namedByConnection(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    if (NOT_UPSTREAM.has(name) || named?.has(name)) continue;
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

/** Between a service and the balancer only: its load report is for the balancer, not the client. */
const NOT_TO_CLIENT = new Set([...HOP_BY_HOP, LOAD_REPORT_HEADER]);

/** Headers to send to the client: the upstream's minus hop-by-hop ones and the load report, plus x-app-url, in a fresh object. */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, backendUrl: string): OutgoingHttpHeaders {
  const named = namedByConnection(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    if (NOT_TO_CLIENT.has(name) || named?.has(name)) continue;
    out[name] = upstream[name];
  }
  out['x-app-url'] = backendUrl;
  return out;
}
