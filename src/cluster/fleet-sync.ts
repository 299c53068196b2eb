import { Injectable } from '@nestjs/common';
import cluster from 'node:cluster';
import { isClusterMessage, type ClusterMessage, type FleetEvent } from './fleet-messages.js';

type Listener<K extends FleetEvent['kind']> = (event: Extract<FleetEvent, { kind: K }>) => void;

const METRICS_TIMEOUT_MS = 5_000;

/**
 * A balancer worker's line to the others (BALANCER_WORKERS > 1): it publishes what it learns
 * (ejections, readiness, the backend list, sticky owners) through the primary and applies
 * what the others learned. In a process that is not a cluster worker it is inert: nothing is
 * sent, and the process is its own leader (it runs the active checks).
 */
@Injectable()
export class FleetSync {
  readonly clustered = cluster.isWorker;
  /** `x-balancer-worker` on proxied responses, and `worker` in /_balancer/backends. */
  readonly workerId = cluster.worker?.id;
  private leader = !cluster.isWorker;
  private readonly listeners = new Map<FleetEvent['kind'], ((event: FleetEvent) => void)[]>();
  private readonly metricsWaiters = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  private nextMetricsId = 0;

  constructor() {
    if (!this.clustered) return;
    process.on('message', (message: unknown) => {
      if (!isClusterMessage(message)) return;
      this.receive(message);
    });
  }

  /** Runs the active checks and DNS refresh: the one process that does, per balancer. */
  get isLeader(): boolean {
    return this.leader;
  }

  publish(event: FleetEvent): void {
    if (this.clustered) process.send?.({ ballast: 'fleet', event } satisfies ClusterMessage);
  }

  on<K extends FleetEvent['kind']>(kind: K, listener: Listener<K>): void {
    const list = this.listeners.get(kind) ?? [];
    list.push(listener as (event: FleetEvent) => void);
    this.listeners.set(kind, list);
  }

  /** Every worker's metrics, merged by the primary (prom-client's AggregatorRegistry). */
  clusterMetrics(): Promise<string> {
    const id = (this.nextMetricsId += 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.metricsWaiters.delete(id);
        reject(new Error('the primary did not answer with the merged metrics'));
      }, METRICS_TIMEOUT_MS);
      this.metricsWaiters.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      process.send?.({ ballast: 'metrics', id } satisfies ClusterMessage);
    });
  }

  private receive(message: ClusterMessage): void {
    switch (message.ballast) {
      case 'fleet':
        for (const listener of this.listeners.get(message.event.kind) ?? []) listener(message.event);
        return;
      case 'leader':
        this.leader = true;
        return;
      case 'metrics': {
        const waiter = this.metricsWaiters.get(message.id);
        this.metricsWaiters.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(message.error));
        else waiter?.resolve(message.text ?? '');
        return;
      }
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }
}
