import { Backend } from './backend.js';
import type { WorkerShares } from './worker-shares.js';

export type Strategy = 'round-robin' | 'least-latency';

/** Backends that cannot take a new request now, by why. */
export interface Unavailability {
  readonly total: number;
  readonly ejected: number;
  readonly busy: number;
  /** Half-open, their one probe request still in flight. */
  readonly probing: number;
  /** Available but without a free slot by their load report. */
  readonly full: number;
  /** When the first of them can take requests again (ms since epoch); none for probing ones. */
  readonly firstReturnMs?: number;
  /** When the last busy one stops being busy. */
  readonly busyUntil?: number;
}

/**
 * The set of backends and how the next one is chosen. Both strategies take only backends with a
 * free slot (see Backend.hasFreeSlot: a backend that sheds says how many it takes). Round robin
 * skips backends that are ejected, busy or half-open with their probe in flight, and those whose
 * last /ready check failed; least-latency is power of two
 * choices on peak-EWMA cost. If every available backend is unready (all in cooldown),
 * they are used anyway — a panic floor, as Envoy's — rather than refusing everything.
 * Pure: time and randomness are passed in.
 */
export class BackendPool {
  private list: Backend[] = [];
  private cursor = 0;

  /**
   * Whether requests wait for a slot (the balancer's admission queue): only then does a shedding
   * backend get its last slot (Backend.hasFreeSlot). Without a queue to ask, always.
   */
  requestsWaiting: () => boolean = () => true;

  /** With BALANCER_WORKERS > 1: this worker's share of a shedding backend's slots while other workers have requests waiting. */
  shares?: WorkerShares;

  constructor(
    urls: readonly string[],
    private readonly strategy: Strategy = 'round-robin',
    private readonly random: () => number = Math.random,
    /** BALANCER_SLOW_START_MS: a backend that joins or comes back ramps its share over this long. */
    private readonly slowStartMs = 0,
  ) {
    this.replace(urls);
  }

  get backends(): readonly Backend[] {
    return this.list;
  }

  byUrl(url: string): Backend | undefined {
    return this.list.find((backend) => backend.url === url);
  }

  /** Sets the backend list (DNS refresh), keeping the state of backends that stay. */
  replace(urls: readonly string[], nowMs = Date.now()): { added: string[]; removed: string[] } {
    const keep = new Map(this.list.map((backend) => [backend.url, backend]));
    // Joining a fleet that already serves, a new backend warms up; the first list starts whole.
    const joining = this.list.length > 0;
    const next = urls.map((url) => {
      const known = keep.get(url);
      if (known) return known;
      const backend = new Backend(url);
      if (joining) backend.warmingSince = nowMs;
      return backend;
    });
    const added = urls.filter((url) => !keep.has(url));
    const removed = this.list.filter((backend) => !urls.includes(backend.url)).map((backend) => backend.url);
    this.list = next;
    if (this.cursor >= next.length) this.cursor = 0;
    return { added, removed };
  }

  /** The next backend to try, not in `tried`; undefined when none is available. */
  pick(nowMs: number, tried?: ReadonlySet<Backend>): Backend | undefined {
    if (this.strategy === 'round-robin') {
      // Ready ones first; unready ones only in panic (ready ones that are merely full are waited
      // for, not bypassed), so the panic check runs only when no ready one had room. No
      // allocation: hot path.
      return this.scanRound(nowMs, tried, true) ?? (this.inPanic(nowMs) ? this.scanRound(nowMs, tried, false) : undefined);
    }
    const panic = this.inPanic(nowMs);
    const lastSlot = this.requestsWaiting();
    const candidates = this.list.filter((backend, index) => this.takesNow(backend, index, nowMs, panic, lastSlot) && !tried?.has(backend));
    if (candidates.length === 0) return undefined;
    return this.pickTwoChoices(candidates, nowMs);
  }

  get strategyName(): Strategy {
    return this.strategy;
  }

  /**
   * Some backend that could take this request is only full (no free slot by its load report):
   * worth waiting a moment for, unlike one that is ejected.
   */
  someOnlyFull(nowMs: number, tried?: ReadonlySet<Backend>): boolean {
    const panic = this.inPanic(nowMs);
    const lastSlot = this.requestsWaiting();
    for (let index = 0; index < this.list.length; index += 1) {
      const backend = this.list[index];
      if (
        backend.available(nowMs) &&
        (panic || backend.ready) &&
        !tried?.has(backend) &&
        !this.hasFreeSlot(backend, index, nowMs, lastSlot)
      )
        return true;
    }
    return false;
  }

  /** Some backend could take a new request now (it is available and has a free slot). */
  someHasRoom(nowMs: number): boolean {
    const panic = this.inPanic(nowMs);
    const lastSlot = this.requestsWaiting();
    return this.list.some((backend, index) => this.takesNow(backend, index, nowMs, panic, lastSlot));
  }

  private takesNow(backend: Backend, index: number, nowMs: number, panic: boolean, lastSlot: boolean): boolean {
    return backend.available(nowMs) && (panic || backend.ready) && this.hasFreeSlot(backend, index, nowMs, lastSlot);
  }

  /** Whether `backend` (at `index` in the list) has a slot for this worker, within its share while other workers wait. */
  private hasFreeSlot(backend: Backend, index: number, nowMs: number, lastSlot: boolean): boolean {
    return backend.hasFreeSlot(nowMs, lastSlot, this.shares, index);
  }

  /** Every available backend is unready, so unready ones take traffic (the panic floor). */
  inPanic(nowMs: number): boolean {
    let available = false;
    for (const backend of this.list) {
      if (!backend.available(nowMs)) continue;
      if (backend.ready) return false;
      available = true;
    }
    return available;
  }

  /**
   * Why no backend can take a new request, by kind: the answer's Retry-After is the first
   * return, and its body counts each kind, so "all ejected" is never said of busy or probing ones.
   */
  unavailability(nowMs: number): Unavailability {
    const counts = { total: this.list.length, ejected: 0, busy: 0, probing: 0, full: 0 };
    let firstReturnMs: number | undefined;
    let busyUntil: number | undefined;
    for (const backend of this.list) {
      if (backend.available(nowMs)) {
        if (!backend.hasFreeSlot(nowMs)) counts.full += 1;
        continue;
      }
      if (backend.isEjected(nowMs)) counts.ejected += 1;
      else if (backend.isBusy(nowMs)) {
        counts.busy += 1;
        busyUntil = Math.max(busyUntil ?? 0, backend.busyUntil);
      } else counts.probing += 1;
      const at = backend.returnsAt(nowMs);
      if (at !== undefined && at > nowMs && (firstReturnMs === undefined || at < firstReturnMs)) firstReturnMs = at;
    }
    return { ...counts, firstReturnMs, busyUntil };
  }

  /** One round-robin scan; with slow start, warming backends are passed over by weight first, then taken if nothing else can. */
  private scanRound(nowMs: number, tried: ReadonlySet<Backend> | undefined, readyOnly: boolean): Backend | undefined {
    if (this.slowStartMs <= 0) return this.scanRoundRobin(nowMs, tried, readyOnly, false);
    return this.scanRoundRobin(nowMs, tried, readyOnly, true) ?? this.scanRoundRobin(nowMs, tried, readyOnly, false);
  }

  private scanRoundRobin(
    nowMs: number,
    tried: ReadonlySet<Backend> | undefined,
    readyOnly: boolean,
    weighted: boolean,
  ): Backend | undefined {
    const size = this.list.length;
    const lastSlot = this.requestsWaiting();
    for (let step = 0; step < size; step += 1) {
      const index = (this.cursor + step) % size;
      const backend = this.list[index];
      // An unready backend is taken only when the scan is not for ready ones (as in panic).
      if (tried?.has(backend) || !this.takesNow(backend, index, nowMs, !readyOnly, lastSlot)) continue;
      if (weighted && this.random() >= backend.weight(nowMs, this.slowStartMs)) continue;
      this.cursor = (index + 1) % size;
      return backend;
    }
    return undefined;
  }

  private pickTwoChoices(candidates: readonly Backend[], nowMs: number): Backend {
    if (candidates.length === 1) return candidates[0];
    const first = Math.floor(this.random() * candidates.length);
    let second = Math.floor(this.random() * (candidates.length - 1));
    if (second >= first) second += 1;
    const a = candidates[first];
    const b = candidates[second];
    // A warming backend looks as much dearer as its share is smaller.
    return a.cost() / a.weight(nowMs, this.slowStartMs) <= b.cost() / b.weight(nowMs, this.slowStartMs) ? a : b;
  }
}
