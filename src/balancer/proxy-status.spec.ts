import { describe, expect, it } from '@jest/globals';
import { proxyStatus } from './proxy-status.js';

describe('proxyStatus (RFC 9209)', () => {
  it.each([
    ['client_rate', 429, undefined, 'http_request_denied'],
    ['client_concurrency', 429, undefined, 'http_request_denied'],
    ['queue_timeout', 503, undefined, 'connection_limit_reached'],
    ['queue_full', 503, undefined, 'connection_limit_reached'],
    ['bad_target', 400, undefined, 'http_request_error'],
    ['no_backend', 503, undefined, 'destination_unavailable'],
    ['owner_ejected', 503, undefined, 'destination_unavailable'],
    ['attempts_failed', 503, 'connect', 'destination_unavailable'],
    ['attempts_failed', 504, 'timeout', 'http_response_timeout'],
    ['attempts_failed', 502, 'connect', 'connection_refused'],
    ['attempts_failed', 502, 'reset', 'http_response_incomplete'],
  ])('%s answered %i (last failure %s) is %s', (reason, status, lastFailure, error) => {
    expect(proxyStatus(reason, status, lastFailure)).toBe(`ballast; error=${error}; details="${reason}"`);
  });
});
