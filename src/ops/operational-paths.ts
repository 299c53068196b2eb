/** Probes, scrapes and docs: not clients, not logged per request, never given injected faults. */
export const OPERATIONAL_PATH_PREFIXES = ['/ready', '/live', '/metrics', '/docs', '/_balancer/'];

export function isOperationalPath(path: string): boolean {
  return OPERATIONAL_PATH_PREFIXES.some((prefix) => path.startsWith(prefix));
}
