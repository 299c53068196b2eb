import type { WorkerCounters } from './worker-counters.js';

/** State one balancer worker learned that every other worker must honour. */
export type FleetEvent =
  | {
      readonly kind: 'backend-state';
      readonly url: string;
      readonly ejectedUntil: number;
      readonly ejectedForTimeout: boolean;
      readonly busyUntil: number;
      readonly ejections: number;
      readonly halfOpen: boolean;
      readonly lastVerdict: string;
      readonly ready: boolean;
    }
  | { readonly kind: 'backend-list'; readonly urls: readonly string[] }
  | { readonly kind: 'sticky'; readonly key: string; readonly owner: string | null }
  /** Requests a worker admitted per client since its last report (clients near their rate only). */
  | { readonly kind: 'client-usage'; readonly admitted: readonly (readonly [string, number])[] }
  /**
   * Whether requests wait for a slot at a worker now, with its arrivals' weight (the workers
   * split shedding backends' slots by it while any waits: WorkerShares); from the primary, not
   * waiting, when the worker is gone.
   */
  | { readonly kind: 'demand'; readonly worker: number; readonly waiting: boolean; readonly weight: number };

/** IPC between the balancer's primary and its workers (node:cluster). */
export type ClusterMessage =
  /** worker -> primary -> every other worker (and the primary's replica, for new workers). */
  | { readonly ballast: 'fleet'; readonly event: FleetEvent }
  /** primary -> one worker: you run the active checks and DNS refresh. */
  | { readonly ballast: 'leader' }
  /** primary -> every worker: every worker it started is listening (connections reach all of them). */
  | { readonly ballast: 'all-listening' }
  /** worker -> primary: the fleet's merged metrics, please; primary -> worker: here. */
  | { readonly ballast: 'metrics'; readonly id: number; readonly text?: string; readonly error?: string }
  /** worker -> primary: every worker's backend counters, please; primary -> worker: those that answered. */
  | { readonly ballast: 'counters'; readonly id: number; readonly reports?: readonly WorkerCounters[] }
  /** primary -> each worker: your counters for gathering `id`; worker -> primary: here. */
  | { readonly ballast: 'report'; readonly id: number; readonly counters?: WorkerCounters };

export function isClusterMessage(message: unknown): message is ClusterMessage {
  return typeof message === 'object' && message !== null && typeof (message as { ballast?: unknown }).ballast === 'string';
}
