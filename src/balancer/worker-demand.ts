import type { FleetEvent } from '../cluster/fleet-messages.js';
import type { WorkerShares } from './worker-shares.js';

/**
 * How often a worker whose requests wait (or while another's do) says so again, with its
 * arrivals over that time as its weight: well within DEMAND_TTL_MS, so its word holds.
 */
export const DEMAND_SYNC_MS = 100;

/**
 * A balancer worker's side of WorkerShares: it tells the other workers whether requests wait
 * here — as soon as that changes (once per turn of the event loop, however often the queue
 * fills and empties within it) and every DEMAND_SYNC_MS while this worker or another waits —
 * with its arrivals since as its weight. A few dozen messages a second under overload, none
 * while no worker waits.
 */
export class WorkerDemand {
  private arrivals = 0;
  private weight = 1;
  private saidWaiting = false;
  private sendQueued = false;

  constructor(
    private readonly worker: number,
    private readonly waiting: () => boolean,
    private readonly shares: WorkerShares,
    private readonly publish: (event: FleetEvent) => void,
  ) {}

  /** A request arrived (its weight counts every arrival, admitted or not). */
  arrived(): void {
    this.arrivals += 1;
  }

  /** Requests started or stopped waiting here. */
  readonly waitingChanged = (): void => {
    if (this.sendQueued) return;
    this.sendQueued = true;
    setImmediate(() => {
      this.sendQueued = false;
      if (this.waiting() !== this.saidWaiting) this.send();
    });
  };

  /** Every DEMAND_SYNC_MS: a new weight, said again while anyone waits. */
  start(): void {
    setInterval(() => {
      this.weight = Math.max(1, this.arrivals);
      this.arrivals = 0;
      if (this.saidWaiting || this.waiting() || this.shares.contended(Date.now())) this.send();
    }, DEMAND_SYNC_MS).unref();
  }

  private send(): void {
    this.saidWaiting = this.waiting();
    this.shares.toldOthers(this.weight);
    this.publish({ kind: 'demand', worker: this.worker, waiting: this.saidWaiting, weight: this.weight });
  }
}
