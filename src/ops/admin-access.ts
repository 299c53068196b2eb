import { createHash, timingSafeEqual } from 'node:crypto';

/** The 401 challenge: Basic first, so a browser shows its login prompt; scripts send Bearer. */
export const ADMIN_CHALLENGE = 'Basic realm="ballast", charset="UTF-8", Bearer realm="ballast"';

/**
 * Who may see the fleet-wide views: with ADMIN_TOKEN set, a request must carry it as a
 * Bearer token or as the password of HTTP Basic (any user name, so a browser's login
 * prompt works). Comparison is on SHA-256 digests with `timingSafeEqual`: constant time,
 * whatever the length of the guess. Pure: no Nest, no I/O.
 */
export class AdminAccess {
  private readonly digest?: Buffer;

  constructor(token?: string) {
    this.digest = token ? sha256(token) : undefined;
  }

  /** False when no ADMIN_TOKEN is set: everything is open. */
  get required(): boolean {
    return this.digest !== undefined;
  }

  /** An `Authorization` header value that grants access (any value when no token is set). */
  allowsHeader(authorization: string | undefined): boolean {
    return this.allowsToken(presentedToken(authorization));
  }

  /** A bare token (a WebSocket frame's `token`) that grants access. */
  allowsToken(token: unknown): boolean {
    if (!this.digest) return true;
    if (typeof token !== 'string' || token.length === 0) return false;
    return timingSafeEqual(sha256(token), this.digest);
  }
}

/** The secret an `Authorization` header presents: a Bearer token or a Basic password. */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^(\S+)\s+(\S+)\s*$/.exec(authorization);
  if (!match) return undefined;
  const [, scheme, credentials] = match;
  switch (scheme.toLowerCase()) {
    case 'bearer':
      return credentials;
    case 'basic': {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : undefined;
    }
    default:
      return undefined;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
