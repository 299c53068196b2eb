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
  const response = await request(url, { method: (options.method ?? 'GET') as 'GET', headers, body });
  const text = await response.body.text();
  const type = String(response.headers['content-type'] ?? '');
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    body: (type.includes('json') && text ? JSON.parse(text) : text) as T,
  };
}
