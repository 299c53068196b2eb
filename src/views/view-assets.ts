import { readFileSync, readdirSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ViewAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where the pages' static files live: beside this module in src/ and in dist/ (nest-cli copies them). */
export const VIEW_ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/**
 * The status pages' files, read once at boot: a few kilobytes, no build step, no CDN,
 * so the pages work offline and a missing file fails the boot, not a request.
 */
export function loadViewAssets(dir: string = VIEW_ASSETS_DIR): ReadonlyMap<string, ViewAsset> {
  const assets = new Map<string, ViewAsset>();
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType) assets.set(name, { body: readFileSync(`${dir}${name}`), contentType });
  }
  return assets;
}

/**
 * Same-origin everything: scripts, styles, fetches and the WebSocket (CSP3 'self' covers
 * ws: on the same host). Nothing inline, nothing framed.
 */
export const VIEW_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;
