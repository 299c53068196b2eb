/** An attempt that got no usable response. */
export type ConnectionFailure = 'connect' | 'timeout' | 'reset';

/** Why one upstream attempt failed. */
export type AttemptFailure = ConnectionFailure | 'status_5xx' | 'client_gone';

/** Classifies an undici error raised before response headers arrived. */
export function classifyUpstreamError(error: Error & { code?: string }): ConnectionFailure {
  switch (error.code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timeout';
    case 'ECONNREFUSED':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'connect';
    default:
      return 'reset';
  }
}
