import type { LoadSnapshot } from './load-hysteresis.js';

/**
 * The header a service reports its load in on every response, for the balancer (which removes
 * it before the client sees it): `<clients>/<max>;min=<min>`, then `;cooldown` while in
 * cooldown, `;shed` when the service answers 503 to requests that arrive in cooldown, and
 * `;draining` once it is shutting down (it takes no new work: send it none), `;local-tasks` when
 * it keeps its tasks in memory (no Redis: a task lives on the instance that took it). ORCA's
 * idea (a backend's load on every response) in a form cheap to write and to parse.
 */
export const LOAD_REPORT_HEADER = 'x-ballast-load';

export interface LoadReport {
  /** Clients in flight as the response left, this request included. */
  readonly clients: number;
  readonly maxClients: number;
  readonly minClients: number;
  readonly cooldown: boolean;
  /** Requests that arrive in cooldown are refused (READY_SHED): the backend's capacity is a hard limit. */
  readonly shed: boolean;
  /** It is shutting down. */
  readonly draining: boolean;
  /** Its tasks live in its memory only: the balancer sends a task's requests, and its clientId's, to it. */
  readonly localTasks: boolean;
}

export function formatLoadReport(
  load: Pick<LoadSnapshot, 'clients' | 'maxClients' | 'minClients' | 'cooldown'>,
  shed: boolean,
  draining = false,
  localTasks = false,
): string {
  return `${load.clients}/${load.maxClients};min=${load.minClients}${load.cooldown ? ';cooldown' : ''}${shed ? ';shed' : ''}${draining ? ';draining' : ''}${localTasks ? ';local-tasks' : ''}`;
}

/** The report in a header value, or undefined when there is none or it does not read as one. Pure. */
export function parseLoadReport(value: string | string[] | undefined): LoadReport | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const slash = text.indexOf('/');
  const semicolon = text.indexOf(';', slash);
  const minAt = text.indexOf('min=', semicolon);
  if (slash < 1 || semicolon < 0 || minAt < 0) return undefined;
  const minEnd = text.indexOf(';', minAt);
  const clients = Number(text.slice(0, slash));
  const maxClients = Number(text.slice(slash + 1, semicolon));
  const minClients = Number(text.slice(minAt + 4, minEnd < 0 ? undefined : minEnd));
  if (!Number.isInteger(clients) || !Number.isInteger(maxClients) || !Number.isInteger(minClients) || clients < 0 || maxClients < 1) {
    return undefined;
  }
  const flags = minEnd < 0 ? '' : text.slice(minEnd);
  return {
    clients,
    maxClients,
    minClients,
    cooldown: flags.includes(';cooldown'),
    shed: flags.includes(';shed'),
    draining: flags.includes(';draining'),
    localTasks: flags.includes(';local-tasks'),
  };
}
