import { describe, expect, it } from '@jest/globals';
import { mayRetry, type RetryFacts } from './retry-policy.js';

const base: RetryFacts = { method: 'GET', failure: 'reset', pinned: false, clientGone: false, committed: false, bodyStarted: false };

describe('mayRetry', () => {
  it.each<[string, Partial<RetryFacts>, boolean]>([
    ['a GET that was reset', {}, true],
    ['a GET answered 5xx', { failure: 'status_5xx' }, true],
    ['a GET that timed out', { failure: 'timeout' }, true],
    ['a PUT answered 5xx (idempotent)', { method: 'PUT', failure: 'status_5xx' }, true],
    ['a DELETE that was reset', { method: 'DELETE' }, true],
    ['a POST refused a connection (nothing sent)', { method: 'POST', failure: 'connect' }, true],
    ['a POST answered 5xx', { method: 'POST', failure: 'status_5xx' }, false],
    ['a POST that timed out', { method: 'POST', failure: 'timeout' }, false],
    ['a PATCH that was reset', { method: 'PATCH' }, false],
    ['a GET whose body started flowing', { bodyStarted: true }, false],
    ['a GET already committed to the client', { committed: true }, false],
    ['a GET whose client went away', { clientGone: true }, false],
    ['a request pinned to its item owner', { pinned: true, failure: 'connect' }, false],
  ])('%s: %p', (_name, facts, expected) => {
    expect(mayRetry({ ...base, ...facts })).toBe(expected);
  });
});
