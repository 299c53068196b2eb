import { describe, expect, it } from '@jest/globals';
import { stickyRoute } from './sticky-route.js';

describe('stickyRoute', () => {
  it.each([
    ['POST', '/items/?item_id=42', { kind: 'create', itemId: '42' }],
    ['POST', '/items?item_id=007&x=1', { kind: 'create', itemId: '7' }],
    ['GET', '/items/42', { kind: 'access', itemId: '42', deletes: false }],
    ['PUT', '/items/42/', { kind: 'access', itemId: '42', deletes: false }],
    ['DELETE', '/items/42?x=1', { kind: 'access', itemId: '42', deletes: true }],
  ])('%s %s is sticky', (method, target, expected) => {
    expect(stickyRoute(method, target)).toEqual(expected);
  });

  it.each([
    ['POST', '/items/'],
    ['POST', '/items/?item_id=-1'],
    ['POST', '/items/?item_id=abc'],
    ['POST', '/items/42'],
    ['GET', '/items/'],
    ['GET', '/items/abc'],
    ['GET', '/items/42/extra'],
    ['GET', '/ping'],
    ['OPTIONS', '/items/42'],
  ])('%s %s is not', (method, target) => {
    expect(stickyRoute(method, target)).toEqual({ kind: 'none' });
  });
});
