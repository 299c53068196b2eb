import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from './support/app.js';
import { http } from './support/http.js';

describe('items and /ping over HTTP (memory store)', () => {
  let running: RunningApp;
  const url = (path: string) => `${running.baseUrl}${path}`;

  beforeAll(async () => {
    running = await startApp({ BODY_LIMIT_BYTES: '4096' });
  });
  afterAll(async () => {
    await running.close();
  });

  it('answers /ping with the port it serves', async () => {
    const { status, body } = await http(url('/ping'));
    expect(status).toBe(200);
    expect(body.port).toBe(running.port);
    expect(typeof body.hostname).toBe('string');
    expect(body.instance).toContain(body.hostname);
  });

  it('runs the seed-001 item flow: POST 42, GET, PUT, DELETE', async () => {
    const created = await http(url('/items/?item_id=42'), { method: 'POST', json: { name: 'Foo', price: 35.4 } });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ name: 'Foo', description: null, price: 35.4, tax: null });

    const read = await http(url('/items/42'));
    expect(read.status).toBe(200);
    expect(read.body.name).toBe('Foo');

    const replaced = await http(url('/items/42'), {
      method: 'PUT',
      json: { name: 'NewName', price: 12.5, description: 'd', tax: 1 },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({ name: 'NewName', description: 'd', price: 12.5, tax: 1 });
    expect((await http(url('/items/42'))).body.name).toBe('NewName');

    expect((await http(url('/items/42'), { method: 'DELETE' })).status).toBe(204);
    expect((await http(url('/items/42'))).status).toBe(404);
  });

  it('accepts the create path with and without the trailing slash', async () => {
    expect((await http(url('/items?item_id=7'), { method: 'POST', json: { name: 'a', price: 1 } })).status).toBe(200);
  });

  it('refuses a second create of one id with 400 "already exists"', async () => {
    await http(url('/items/?item_id=43'), { method: 'POST', json: { name: 'Foo', price: 1 } });
    const again = await http(url('/items/?item_id=43'), { method: 'POST', json: { name: 'Bar', price: 2 } });
    expect(again.status).toBe(400);
    expect(again.body.detail).toMatch(/already exists/);
  });

  it('lets exactly one of two concurrent creates of one id win', async () => {
    const [a, b] = await Promise.all([
      http(url('/items/?item_id=44'), { method: 'POST', json: { name: 'A', price: 1 } }),
      http(url('/items/?item_id=44'), { method: 'POST', json: { name: 'B', price: 1 } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
  });

  it.each([
    ['GET', '/items/99', undefined],
    ['PUT', '/items/99', { name: 'x', price: 1 }],
    ['DELETE', '/items/99', undefined],
  ])('%s %s of a missing item is 404 with a reason', async (method, path, json) => {
    const response = await http(url(path), { method, json });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ statusCode: 404, message: 'Item 99 not found' });
  });

  it.each([
    ['a negative id', '/items/?item_id=-1', { name: 'x', price: 1 }, /item_id must be a non-negative integer/],
    ['a fractional id', '/items/?item_id=1.5', { name: 'x', price: 1 }, /item_id/],
    ['a missing id', '/items/', { name: 'x', price: 1 }, /item_id/],
    ['a missing name', '/items/?item_id=50', { price: 1 }, /name must be a string/],
    ['a missing price', '/items/?item_id=50', { name: 'x' }, /price must be a number/],
    ['a price of the wrong type', '/items/?item_id=50', { name: 'x', price: '12' }, /price must be a number/],
    ['an unknown field', '/items/?item_id=50', { name: 'x', price: 1, colour: 'red' }, /property colour should not exist/],
    ['a body that is not an object', '/items/?item_id=50', [1, 2], /should not exist|must be/],
  ])('rejects %s with 400 and a JSON reason', async (_case, path, json, reason) => {
    const response = await http(url(path), { method: 'POST', json });
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    expect(response.body.message).toMatch(reason);
    expect((await http(url('/items/50'))).status).toBe(404);
  });

  it('rejects a non-numeric path id with 400', async () => {
    const response = await http(url('/items/abc'));
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/item_id must be a non-negative integer/);
  });

  it('rejects malformed JSON with 400', async () => {
    const response = await http(url('/items/?item_id=51'), {
      method: 'POST',
      body: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/JSON/);
  });

  it('rejects a body over BODY_LIMIT_BYTES with 413', async () => {
    const response = await http(url('/items/?item_id=52'), {
      method: 'POST',
      json: { name: 'x'.repeat(5000), price: 1 },
    });
    expect(response.status).toBe(413);
    expect(response.body.statusCode).toBe(413);
  });

  it('rejects a non-JSON body with 415', async () => {
    const response = await http(url('/items/?item_id=53'), {
      method: 'POST',
      body: 'name=x&price=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(415);
  });

  it('keeps serving after all of the above', async () => {
    expect((await http(url('/ping'))).status).toBe(200);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await http(url('/nowhere'));
    expect(response.status).toBe(404);
    expect(response.body.statusCode).toBe(404);
  });

  it('echoes a request id, keeping the caller’s', async () => {
    expect((await http(url('/ping'), { headers: { 'x-request-id': 'abc-123' } })).headers['x-request-id']).toBe('abc-123');
    expect((await http(url('/ping'))).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
