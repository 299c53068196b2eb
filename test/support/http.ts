import { appendFileSync } from 'node:fs';
import { request } from 'undici';

export interface JsonResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

/** One HTTP exchange over a real socket; the body is read whole and parsed when JSON. */
export async function http<T = any>(
  url: string,
  options: { method?: string; json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const method = options.method ?? 'GET';
  const response = await request(url, { method: method as 'GET', headers, body });
  const text = await response.body.text();
  recordObservedStatus(method, url, response.statusCode, response.headers);
  const type = String(response.headers['content-type'] ?? '');
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    body: (type.includes('json') && text ? JSON.parse(text) : text) as T,
  };
}

/** Where the e2e run collects the statuses ballast answered (set by global-setup.mjs). */
export const OBSERVED_ENV = 'BALLAST_E2E_OBSERVED';

export interface ObservedStatus {
  method: string;
  path: string;
  status: number;
}

/**
 * Records a status a ballast service or the balancer's own routes answered (they set
 * x-request-id; a response proxied by the balancer carries x-app-url and is the backend's; one
 * the balancer's proxy wrote itself carries Proxy-Status and is documented in docs/balancer.md),
 * for the OpenAPI check that runs last.
 */
function recordObservedStatus(method: string, url: string, status: number, headers: Record<string, unknown>): void {
  const path = process.env[OBSERVED_ENV];
  if (!path || headers['x-request-id'] === undefined || headers['x-app-url'] !== undefined || headers['proxy-status'] !== undefined) return;
  const observed: ObservedStatus = { method, path: new URL(url).pathname, status };
  appendFileSync(path, `${JSON.stringify(observed)}\n`);
}
