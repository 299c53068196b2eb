import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from './support/app.js';
import { http } from './support/http.js';

describe('docs and metrics', () => {
  let running: RunningApp;
  const url = (path: string) => `${running.baseUrl}${path}`;

  beforeAll(async () => {
    running = await startApp();
  });
  afterAll(async () => {
    await running.close();
  });

  it('serves Swagger UI at /docs', async () => {
    const response = await http(url('/docs'));
    expect(response.status).toBe(200);
    expect(response.text).toMatch(/swagger/i);
  });

  it('describes every route with request and response schemas at /docs-json', async () => {
    const { status, body } = await http(url('/docs-json'));
    expect(status).toBe(200);
    const paths = body.paths as Record<string, Record<string, any>>;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/ping', '/items/{id}', '/items', '/metrics']));
    expect(paths['/items'].post.requestBody.content['application/json'].schema.$ref).toMatch(/ItemBodyDto/);
    expect(paths['/items'].post.responses['200'].content['application/json'].schema.$ref).toMatch(/ItemDto/);
    expect(body.components.schemas.ItemBodyDto.required).toEqual(expect.arrayContaining(['name', 'price']));
  });

  it('exports process metrics and a request histogram by route template, method and status', async () => {
    await http(url('/items/12345'));
    await http(url('/ping'));
    const { status, text, headers } = await http(url('/metrics'));
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/text\/plain/);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/http_request_duration_seconds_count\{route="\/items\/:id",method="GET",status_code="404"\} 1/);
    expect(text).toMatch(/http_request_duration_seconds_count\{route="\/ping",method="GET",status_code="200"\} 1/);
  });
});
