/** How a request relates to item stickiness (seed 001). */
export type StickyRoute =
  | { readonly kind: 'create'; readonly itemId: string }
  | { readonly kind: 'access'; readonly itemId: string; readonly deletes: boolean }
  | { readonly kind: 'none' };

const NONE: StickyRoute = { kind: 'none' };
const ITEM_PATH = /^\/items\/(\d{1,16})\/?$/;
const ACCESS_METHODS = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);

/** Canonical id text, so "007" and "7" are one item, as the service parses them. */
function canonical(digits: string): string {
  return String(Number(digits));
}

/**
 * POST /items/?item_id=ID creates; GET/PUT/DELETE /items/ID access. Pure string work
 * on the request target: no body is read.
 */
export function stickyRoute(method: string, target: string): StickyRoute {
  // Most proxied paths are not items: one prefix test, no regex or URL parsing for them.
  if (!target.startsWith('/items')) return NONE;
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (method === 'POST') {
    if ((path !== '/items' && path !== '/items/') || query === -1) return NONE;
    const id = new URLSearchParams(target.slice(query + 1)).get('item_id');
    return id !== null && /^\d{1,16}$/.test(id) ? { kind: 'create', itemId: canonical(id) } : NONE;
  }
  if (!ACCESS_METHODS.has(method)) return NONE;
  const match = ITEM_PATH.exec(path);
  return match ? { kind: 'access', itemId: canonical(match[1]), deletes: method === 'DELETE' } : NONE;
}
