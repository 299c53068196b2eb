import { describe, expect, it } from '@jest/globals';
import { clientKey, stickyRoute, taskCreateFor, taskIdOfLocation } from './sticky-route.js';

describe('stickyRoute', () => {
  it.each([
    ['POST', '/items/?item_id=42', { kind: 'create', key: '42', label: 'Item 42' }],
    ['POST', '/items?item_id=007&x=1', { kind: 'create', key: '7', label: 'Item 7' }],
    ['GET', '/items/42', { kind: 'access', key: '42', label: 'Item 42', deletes: false }],
    ['PUT', '/items/42/', { kind: 'access', key: '42', label: 'Item 42', deletes: false }],
    ['DELETE', '/items/42?x=1', { kind: 'access', key: '42', label: 'Item 42', deletes: true }],
    ['POST', '/tasks', { kind: 'task-create' }],
    ['POST', '/tasks/?x=1', { kind: 'task-create' }],
    ['GET', '/tasks/ab-12', { kind: 'access', key: 'task:ab-12', label: 'Task ab-12', deletes: false }],
    ['DELETE', '/tasks/ab-12', { kind: 'access', key: 'task:ab-12', label: 'Task ab-12', deletes: false }],
    ['POST', '/tasks/ab-12/retry', { kind: 'access', key: 'task:ab-12', label: 'Task ab-12', deletes: false }],
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
    ['GET', '/tasks'],
    ['GET', '/tasks?status=queued'],
    ['POST', '/tasks/ab-12'],
    ['GET', '/tasks/ab-12/retry'],
    ['GET', '/tasks/a/b'],
    ['GET', '/tasksx/1'],
  ])('%s %s is not', (method, target) => {
    expect(stickyRoute(method, target)).toEqual({ kind: 'none' });
  });
});

describe('task stickiness helpers', () => {
  it('keys a clientId the service would accept, and nothing else', () => {
    expect(clientKey('browser-1')).toBe('client:browser-1');
    expect([clientKey(''), clientKey('a b'), clientKey(7), clientKey(undefined), clientKey('x'.repeat(129))]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(taskCreateFor('c1')).toEqual({ kind: 'task-create', key: 'client:c1', label: 'The tasks of client c1' });
    expect(taskCreateFor(null)).toEqual({ kind: 'task-create' });
  });

  it('reads the task id of a Location', () => {
    expect(taskIdOfLocation('/tasks/3f2a')).toBe('3f2a');
    expect(taskIdOfLocation(['/tasks/3f2a', '/tasks/x'])).toBe('3f2a');
    expect([taskIdOfLocation(undefined), taskIdOfLocation('/tasks/3f2a/retry'), taskIdOfLocation('/items/3')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});
