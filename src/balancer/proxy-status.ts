import { REQUEST_ID_HEADER } from '../ops/logger.js';

/** The headers of an answer the balancer writes itself: its request id, and Proxy-Status. */
export function ownAnswerHeaders(requestId: string, reason: string, status: number, lastFailure?: string): Record<string, string> {
  // Assigned, not a computed key in a literal: V8 builds that through its runtime (refusal path).
  const headers: Record<string, string> = {};
  headers[REQUEST_ID_HEADER] = requestId;
  headers['proxy-status'] = proxyStatus(reason, status, lastFailure);
  return headers;
}

/**
 * RFC 9209's Proxy-Status for an answer the balancer wrote itself, so a client (or a log
 * pipeline) can tell it from the backend's: the error type, and ballast's own reason.
 */
export function proxyStatus(reason: string, status: number, lastFailure?: string): string {
  let error: string;
  if (reason === 'client_rate' || reason === 'client_concurrency') error = 'http_request_denied';
  else if (reason === 'queue_full' || reason === 'queue_timeout') error = 'connection_limit_reached';
  else if (reason === 'bad_target') error = 'http_request_error';
  else if (status === 503) error = 'destination_unavailable';
  else if (lastFailure === 'timeout') error = 'http_response_timeout';
  else if (lastFailure === 'connect') error = 'connection_refused';
  else if (lastFailure === 'reset') error = 'http_response_incomplete';
  else error = 'proxy_internal_error';
  return `ballast; error=${error}; details="${reason}"`;
}
