import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { FleetEvent } from '../cluster/fleet-messages.js';
import { DEMAND_SYNC_MS, WorkerDemand } from './worker-demand.js';
import { WorkerShares } from './worker-shares.js';

describe('WorkerDemand', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  function demandOf(shares = new WorkerShares(1)) {
    let waiting = false;
    const sent: FleetEvent[] = [];
    const demand = new WorkerDemand(
      1,
      () => waiting,
      shares,
      (event) => sent.push(event),
    );
    return { demand, sent, setWaiting: (now: boolean) => (waiting = now), shares };
  }

  it('says once per turn of the event loop that requests started or stopped waiting, and nothing when it is as said', () => {
    const { demand, sent, setWaiting } = demandOf();
    setWaiting(true);
    demand.waitingChanged();
    setWaiting(false);
    demand.waitingChanged();
    setWaiting(true);
    demand.waitingChanged();
    jest.runOnlyPendingTimers();
    expect(sent).toEqual([{ kind: 'demand', worker: 1, waiting: true, weight: 1 }]);
    setWaiting(false);
    demand.waitingChanged();
    setWaiting(true);
    demand.waitingChanged();
    jest.runOnlyPendingTimers();
    expect(sent).toHaveLength(1); // waiting again before the turn ended: as said
  });

  it('says it again with its arrivals as the weight while requests wait, and is silent while no worker waits', () => {
    const { demand, sent, setWaiting, shares } = demandOf();
    demand.start();
    for (let i = 0; i < 40; i += 1) demand.arrived();
    jest.advanceTimersByTime(DEMAND_SYNC_MS);
    expect(sent).toEqual([]);
    setWaiting(true);
    for (let i = 0; i < 25; i += 1) demand.arrived();
    jest.advanceTimersByTime(DEMAND_SYNC_MS);
    expect(sent).toEqual([{ kind: 'demand', worker: 1, waiting: true, weight: 25 }]);
    // The weight it told is the one its own share is computed with.
    shares.heard(2, true, 75, Date.now());
    expect(shares.capAt(0, 8, Date.now())).toBe(2);
    setWaiting(false);
    jest.advanceTimersByTime(DEMAND_SYNC_MS);
    // Another still waits: it keeps telling its weight, now not waiting itself.
    expect(sent.at(-1)).toEqual({ kind: 'demand', worker: 1, waiting: false, weight: 1 });
  });
});
