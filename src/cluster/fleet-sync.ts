import { Injectable } from '@nestjs/common';
import cluster from 'node:cluster';
import { isClusterMessage, type ClusterMessage, type FleetEvent } from './fleet-messages.js';
import type { WorkerCounters } from './worker-counters.js';

type Listener<K extends FleetEvent['kind']> = (event: Extract<FleetEvent, { kind: K }>) => void;
/** The primary's answers to a worker's questions. */
type Answer = Extract<ClusterMessage, { ballast: 'metrics' | 'counters' }>;

const ANSWER_TIMEOUT_MS = 5_000;

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
  private allListening = !cluster.isWorker;
  private readonly listeners = new Map<FleetEvent['kind'], ((event: FleetEvent) => void)[]>();
  /** Questions to the primary awaiting its answer, by id. */
  private readonly waiting = new Map<number, (answer: Answer) => void>();
  private nextQuestionId = 0;
  private countersSource?: () => WorkerCounters;

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

  /**
   * Every worker of the balancer listens (always, outside a cluster). Until then node:cluster
   * hands every connection to the workers already listening, and a client's keep-alive
   * connections stay where they were accepted: a client that connected during start-up sent
   * 99% of its requests to one worker of two.
   */
  get everyWorkerListening(): boolean {
    return this.allListening;
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
  async clusterMetrics(): Promise<string> {
    const answer = await this.ask('metrics', 'the merged metrics');
    if (answer.error !== undefined) throw new Error(answer.error);
    return answer.text ?? '';
  }

  /** What this worker answers when another asks for the fleet's counters. */
  reportCountersWith(source: () => WorkerCounters): void {
    this.countersSource = source;
  }

  /** Every live worker's backend counters (this one's included), gathered by the primary. */
  async fleetCounters(): Promise<readonly WorkerCounters[]> {
    const answer = await this.ask('counters', "the workers' counters");
    return answer.reports ?? [];
  }

  /**
   * Asks the primary a question of kind `ballast` and resolves with its answer, which comes back
   * under the same kind and id (rejects after ANSWER_TIMEOUT_MS).
   */
  private ask<K extends Answer['ballast']>(ballast: K, what: string): Promise<Extract<Answer, { ballast: K }>> {
    const id = (this.nextQuestionId += 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the primary did not answer with ${what}`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer as Extract<Answer, { ballast: K }>);
      });
      process.send?.({ ballast, id } as ClusterMessage);
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
      case 'all-listening':
        this.allListening = true;
        return;
      case 'metrics':
      case 'counters': {
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        waiter?.(message);
        return;
      }
      case 'report': {
        // A worker still booting has served nothing yet: it says so rather than keep the asker waiting.
        const counters = this.countersSource?.() ?? { worker: this.workerId ?? 0, backends: [] };
        process.send?.({ ballast: 'report', id: message.id, counters } satisfies ClusterMessage);
        return;
      }
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }
}
