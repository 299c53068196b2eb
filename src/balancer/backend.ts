import type { LoadReport } from '../readiness/load-report.js';
import { PeakEwma } from './peak-ewma.js';
import type { WorkerShares } from './worker-shares.js';
import type { AttemptFailure } from './proxy-errors.js';

export type AttemptOutcome = AttemptFailure | 'success';

/** What the status views call a backend's state, worst first. */
export type BackendState = 'ejected' | 'busy' | 'probing' | 'unready' | 'up';

/** A count of zero for every attempt outcome. */
export function noOutcomes(): Record<AttemptOutcome, number> {
  return { success: 0, status_5xx: 0, connect: 0, timeout: 0, reset: 0, client_gone: 0 };
}

/** Requests of this worker's a backend's report may miss (on their way there or back) that it still counts as room. */
const TRANSIT_SLACK = 1;

/** The shortest time others' reported clients fade over. */
const MIN_FADE_MS = 10;
/**
 * ...and while the workers split the slots: a worker may know the backend's service time only
 * from other routes (a /ping), and the others' clients fading that fast sent it into their full
 * backend again and again.
 */
const MIN_SHARE_FADE_MS = 50;

/** How long a load report's count of other clients (other workers, other balancers) is trusted. */
export const LOAD_REPORT_TTL_MS = 1_000;

/** What a backend last reported of its load, with the part that was not this worker's traffic. */
export interface ReportedLoad {
  /** Its clients in flight as it said. */
  readonly clients: number;
  /** Its clients that were not this worker's requests when it reported (below zero: ours it had not counted). */
  readonly othersClients: number;
  readonly maxClients: number;
  readonly minClients: number;
  readonly cooldown: boolean;
  /**
   * The answer it came with took it below MIN, so its cooldown is over (whoever else's clients it
   * holds: `cooldown` says over only when they were all this worker's, for the others would
   * refill it too; within shares they refill only theirs).
   */
  readonly cooldownEnding: boolean;
  readonly shed: boolean;
  readonly draining: boolean;
  readonly atMs: number;
}

/** Everything the balancer knows about one backend. Plain state, no I/O. */
export class Backend {
  /** Passive ejection: skipped until this time (ms since epoch). */
  ejectedUntil = 0;
  /** The ejection was for a timeout: a passing /ready cannot end it early (it cannot see slowness). */
  ejectedForTimeout = false;
  /** Said "busy" (503 + Retry-After): skipped until this time, never ejected for it. */
  busyUntil = 0;
  /** Last active /ready check said 200 (true until a check says otherwise). */
  ready = true;
  /** Back from an ejection: gets one request (the probe) until one succeeds. */
  halfOpen = false;
  /** When the current run of ejections began (the first ejection since it last served well); 0 when none. */
  outSince = 0;
  probeInFlight = false;
  /** 5xx responses in a row (reset by any success). */
  consecutive5xx = 0;
  /** Ejection multiplier (Envoy's): grows with each ejection, shrinks while healthy. */
  ejections = 0;
  /** When it last came back healthy (its probe succeeded), for the multiplier's decay. */
  healthySince = 0;
  /** When it last joined or came back (slow start ramps its share from then); 0: it has its full share. */
  warmingSince = 0;
  /** Why it was last ejected or marked busy, for the status views. */
  lastVerdict = '';
  /** Its last load report (x-ballast-load), if it sends them. */
  reported?: ReportedLoad;
  /** It said (in its load reports) that it keeps tasks in memory: a task lives only there. */
  keepsTasksLocally = false;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Attempts by outcome, plain numbers: published to Prometheus at scrape time, not per request. */
  readonly outcomes = noOutcomes();
  readonly latency = new PeakEwma();

  constructor(readonly url: string) {}

  isEjected(nowMs: number): boolean {
    return nowMs < this.ejectedUntil;
  }

  /**
   * How long it has been out of rotation: ejected, or back from an ejection but still failing
   * its /ready, since the first ejection of the run. 0 in rotation, and while it waits for its
   * probe with a passing /ready (an idle fleet sends no probe, and that is no outage).
   */
  outForMs(nowMs: number): number {
    if (!this.halfOpen || this.outSince === 0) return 0;
    return this.isEjected(nowMs) || !this.ready ? nowMs - this.outSince : 0;
  }

  isBusy(nowMs: number): boolean {
    return nowMs < this.busyUntil;
  }

  /**
   * Whether a clientId's new tasks and sockets should still go to it: it passes its checks, is
   * not ejected and not draining. (Busy is a moment's state: moving the client for it would part
   * its new tasks from its open sockets.)
   */
  takesStickyClients(nowMs: number): boolean {
    return this.ready && !this.isEjected(nowMs) && !this.saysDraining(nowMs);
  }

  /** Its last load report, still fresh, says it is shutting down. */
  private saysDraining(nowMs: number): boolean {
    const reported = this.reported;
    return reported !== undefined && reported.draining && nowMs - reported.atMs <= LOAD_REPORT_TTL_MS;
  }

  /** May take a new (non-sticky) request now. */
  available(nowMs: number): boolean {
    return !this.isEjected(nowMs) && !this.isBusy(nowMs) && !(this.halfOpen && this.probeInFlight);
  }

  /**
   * Records a load report. `oursCounted`: how many of this worker's requests to it the report
   * counts — its in-flight ones, the one answered included, unless the backend refused that one
   * while shedding (then it never was a client there). `leaving`: the report came with the
   * answer to one of its clients, which leaves it as this response ends.
   */
  observeLoad(report: LoadReport, nowMs: number, oursCounted: number, leaving = false): void {
    this.keepsTasksLocally = report.localTasks;
    // A report is written as its response leaves, counting that response's request. The backend
    // checks its cooldown as a client leaves, and in cooldown takes none (it sheds them), so when
    // this one's leaving takes it below MIN, its cooldown is over by the time this is read:
    // waiting for the next report to say so kept slots empty for a whole response.
    // Only when every client it counts is this worker's: another worker's (or balancer's) would
    // refill it too, and the two would overshoot its MAX into a shed.
    const cooldownEnding = leaving && report.cooldown && report.clients - 1 < report.minClients;
    const cooldownEnds = cooldownEnding && report.clients <= oursCounted;
    this.reported = {
      clients: report.clients,
      // Below zero when some of ours had not reached it yet, or had already left it: that many
      // more fit than this worker counts (at most TRANSIT_SLACK, to stay clear of its MAX).
      othersClients: Math.max(-TRANSIT_SLACK, report.clients - Math.max(0, oursCounted)),
      maxClients: report.maxClients,
      minClients: report.minClients,
      cooldown: report.cooldown && !cooldownEnds,
      cooldownEnding,
      shed: report.shed,
      draining: report.draining,
      atMs: nowMs,
    };
  }

  /**
   * Its clients now as far as this worker can tell: its own in-flight requests, and the others'
   * as last reported, fading out over one service time (each of theirs is done by then on
   * average, and this worker hears nothing of it until the backend next answers it). With
   * `holdOthers` (no requests wait here) theirs are held for one service time first — whoever
   * sent them refills each slot as it frees — and fade over the next: faded from the report on,
   * two workers at the fleet's capacity each counted on slots the other refilled (0.18-0.20
   * retries per request; held, 0.10-0.13). While requests wait here the fade starts at once: a slot
   * left empty then costs a request served, where a shed costs a cheap retry (held then too, two
   * workers served 4-6% less at 3x and 5x). Ours the report missed (below zero) fade at once.
   */
  estimatedClients(nowMs: number, holdOthers = false): number {
    const reported = this.reported;
    if (!reported || reported.othersClients === 0) return this.inFlight;
    const age = nowMs - reported.atMs;
    if (age > LOAD_REPORT_TTL_MS) return this.inFlight;
    // In cooldown it sheds until its own clients drop below MIN: no guessing that they have,
    // until it says so (a response, or a check) or the report ages out.
    if (reported.cooldown) return this.inFlight + reported.othersClients;
    const heldFor = holdOthers && reported.othersClients > 0 ? 1 : 0;
    const others = reported.othersClients * Math.min(1, Math.max(0, 1 + heldFor - age / this.fadeMs()));
    return this.inFlight + (others > 0 ? Math.ceil(others) : Math.trunc(others));
  }

  /** How long others' requests there take to end, as far as this worker can tell (its service time). */
  private fadeMs(): number {
    return Math.max(MIN_FADE_MS, this.latency.ms);
  }

  private shareFadeMs(): number {
    return Math.max(MIN_SHARE_FADE_MS, this.fadeMs());
  }

  /**
   * Whether one more request would be served rather than shed. A backend that says it is
   * draining has no room; otherwise only a backend that reports it sheds has a limit: up to its
   * MAX (it serves the request that puts it into cooldown, and sheds only those that arrive in
   * cooldown), or, while its last report said cooldown, below its MIN (where its cooldown ends).
   * Any other backend always has room. Without `lastSlot`, one short of MAX: that last slot
   * costs a cooldown (nothing more until it is below MIN), worth it only while requests wait.
   */
  hasFreeSlot(nowMs: number, lastSlot = true, shares?: WorkerShares, index = 0): boolean {
    const reported = this.reported;
    if (!reported) return true;
    // Shutting down, it takes no new work (its checks will say so too, a little later).
    if (this.saysDraining(nowMs)) return false;
    const fresh = nowMs - reported.atMs <= LOAD_REPORT_TTL_MS;
    if (!reported.shed) return true;
    const split = shares && this.shareOfSlots(nowMs, shares, index);
    if (split) return this.hasFreeSlotInShare(nowMs, reported, split.slots, split.share);
    const clients = this.estimatedClients(nowMs, !lastSlot);
    if (fresh && reported.cooldown) return clients < reported.minClients;
    return clients < slotsOf(reported, lastSlot);
  }

  /**
   * The slots this worker splits with the others while another worker's requests wait
   * (WorkerShares), and its share of them; undefined when it is not held to a share (no other
   * worker waits, the backend does not shed, or its report is stale).
   */
  shareOfSlots(nowMs: number, shares: WorkerShares, index: number): { slots: number; share: number } | undefined {
    const reported = this.reported;
    if (!reported?.shed || nowMs - reported.atMs > LOAD_REPORT_TTL_MS || !shares.contended(nowMs)) return undefined;
    // Below MIN in cooldown (where it ends), else up to MAX: this worker's share of them. (Some
    // worker's requests wait, so the last slot is worth its cooldown; and every worker must
    // split the same number, or their shares add up to more than it takes.) A cooldown is over
    // once the clients it had are done, a service time later: a worker with none of its own
    // there hears no more of it, and held to its share of MIN it left the rest of its share
    // empty until the report aged out (a second).
    const inCooldown = reported.cooldown && !reported.cooldownEnding && nowMs - reported.atMs <= this.shareFadeMs();
    const slots = inCooldown ? reported.minClients : reported.maxClients;
    return { slots, share: shares.capAt(index, slots, nowMs) };
  }

  /**
   * While other workers of this balancer have requests waiting too (WorkerShares), this worker
   * keeps to its share of the backend's slots, and takes the others to hold theirs: each refills
   * its own as they end, so their last reported count does not fade below their share (fading it
   * out, as `estimatedClients` does, would overshoot into a shed). Above it, it fades: they do
   * not refill past their share.
   */
  private hasFreeSlotInShare(nowMs: number, reported: ReportedLoad, slots: number, share: number): boolean {
    if (this.inFlight >= share) return false;
    const others = Math.max(0, reported.othersClients);
    const fading = Math.max(0, 1 - (nowMs - reported.atMs) / this.shareFadeMs());
    const othersHold = Math.max(Math.min(others, slots - share), Math.ceil(others * fading));
    return this.inFlight + othersHold < slots;
  }

  /** When it can take requests again, if it cannot now. */
  returnsAt(nowMs: number): number | undefined {
    if (this.available(nowMs)) return undefined;
    return Math.max(this.ejectedUntil, this.busyUntil, nowMs);
  }

  state(nowMs: number): BackendState {
    if (this.isEjected(nowMs)) return 'ejected';
    if (this.isBusy(nowMs)) return 'busy';
    if (this.halfOpen) return 'probing';
    return this.ready ? 'up' : 'unready';
  }

  /**
   * Its share of new requests while it warms up (Envoy's slow_start with aggression 1, HAProxy's
   * slowstart): from 10% when it joined or came back up to 100% after `slowStartMs`.
   */
  weight(nowMs: number, slowStartMs: number): number {
    if (slowStartMs <= 0 || this.warmingSince === 0) return 1;
    const elapsed = nowMs - this.warmingSince;
    if (elapsed >= slowStartMs) return 1;
    return Math.max(0.1, elapsed / slowStartMs);
  }

  /** Load-aware cost for least-latency selection (Finagle: latency x outstanding). */
  cost(): number {
    return (this.latency.ms + 1) * (this.inFlight + 1);
  }
}

/** Up to its MAX with `lastSlot` (it serves the one that puts it into cooldown), else one short of it. */
function slotsOf(reported: ReportedLoad, lastSlot: boolean): number {
  return lastSlot ? reported.maxClients : Math.max(1, reported.maxClients - 1);
}
