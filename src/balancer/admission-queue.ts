/** Why a waiting request was turned away. */
export type QueueRejection = 'queue_full' | 'queue_timeout';

/** A request waiting for a free slot. */
export interface QueueWaiter {
  /** A slot may be free: try to send the request now (call the queue's `putBack` if none was after all). */
  admit(waitedMs: number): void;
  /** It waited too long, or the queue is full: answer 503 now. */
  reject(reason: QueueRejection, waitedMs: number): void;
}

export interface AdmissionSettings {
  /** Longest a request waits (BALANCER_QUEUE_MS). */
  readonly maxWaitMs: number;
  /** Most requests waiting at once (BALANCER_QUEUE_MAX). */
  readonly maxLength: number;
  /** A queue whose oldest request waited longer than this is standing: newest first then. */
  readonly targetMs: number;
  /**
   * While requests wait, how often to look for a slot anyway: slots also free where this
   * worker cannot see it happen (another worker's or balancer's requests ending).
   */
  readonly recheckMs: number;
  /**
   * A queue that has not been empty for this long, nor for a whole `maxWaitMs`, is overloaded,
   * not absorbing a burst...
   */
  readonly overloadedAfterMs: number;
  /** ...and then a request waits at most this long (and never longer than `maxWaitMs`). */
  readonly overloadedWaitMs: number;
}

/**
 * A standing queue keeps at least this many waiters, however few slots freed lately (a
 * fleet just loaded, or slots that free where this worker cannot see).
 */
const MIN_STANDING_ROOM = 16;
/**
 * ...and room for this share of the slots that freed over the last `maxWaitMs`. Standing, it
 * serves the newest first, so a waiter further back than that is all but never served: it
 * would wait out its deadline for nothing.
 */
const STANDING_ROOM_FACTOR = 0.5;

/**
 * Facebook's rule for its servers' queues (CoDel's, turned to a server): a queue that has not
 * been empty for an interval is overloaded, and then no request waits longer than a short bound.
 * Overloaded, the newest is served first, so a request that has waited that long is all but
 * never served; when it was, in a lull of arrivals, it was late. With two balancer workers at 3x
 * the fleet's capacity (bench:overload, this build and the one before in one run) the share of
 * served requests that had waited over 10 ms fell from 16.4% to 4.3%, the p99 of served from
 * 57.0 ms (over the bar of twice the unloaded p99, 25.5 ms) to 42.9 ms, and it served 113% of
 * capacity where the other served 111%. The interval is 200 ms (Facebook's is 100 ms): at
 * exactly the fleet's capacity a queue may stay non-empty for tens of milliseconds, and every
 * request in it is served within the whole bound; the short bound would only refuse them. Nor is
 * a queue overloaded before it has held waiters for a whole `maxWaitMs`: an operator who sets a
 * bound of seconds (slow requests behind a backend's MAX) says waits that long drain a burst, as
 * `overRoom` also takes it.
 */
const OVERLOADED = { overloadedAfterMs: 200, overloadedWaitMs: 20 } as const;

/**
 * CoDel's target (Nichols & Jacobson), which Facebook's servers also use to switch to LIFO. The
 * recheck finds slots that freed out of sight (another worker's requests ending): every 5 ms left
 * them empty for 2.5 ms of a 22 ms service time on average: at the fleet's capacity two workers
 * served 86-91% of it where one served 96%; every 1 ms, 95-96% (open-loop runs of 5 s).
 */
export const CODEL = { targetMs: 5, recheckMs: 1, ...OVERLOADED } as const;

/** A timer the queue can arm; injected so the logic runs on a test's clock. */
export interface QueueClock {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

/** One client's waiters, oldest first (entries that left are skipped, and dropped once reached). */
interface Line {
  readonly client: string;
  readonly entries: Entry[];
  /** Its waiters still waiting; 0: the line is done (a new one is made if the client comes back). */
  live: number;
}

interface Entry {
  readonly waiter: QueueWaiter;
  readonly line: Line;
  readonly enqueuedAt: number;
  /** Left the queue (admitted, turned away or cancelled); still in the arrays until reached. */
  gone: boolean;
}

/** Lets a waiter leave the queue (its client went away). */
export interface QueueTicket {
  cancel(): void;
}

/**
 * The balancer's bounded admission queue: requests that found no backend with a free slot wait
 * here for the first slot that frees, at most `maxWaitMs` and `maxLength`. While the queue drains
 * they are admitted in arrival order. Once the oldest has waited longer than the target, the
 * queue is standing — arrivals outpace the slots — and the newest is admitted instead (Facebook's
 * adaptive LIFO, beside CoDel's 5 ms target): a request served then waited next to nothing, its
 * client is still there, and the older ones leave at `maxWaitMs` with a 503 rather than all
 * waiting long and most being served late. A queue that has held waiters for a whole
 * `maxWaitMs` (not a burst the slots drain) and stands also holds no more than half the slots
 * that freed over the last `maxWaitMs`: past that, its oldest would only wait out its deadline
 * (newest first, it is served last), so it gets its 503 now. One that has held waiters for
 * `overloadedAfterMs` (and a whole `maxWaitMs`) is overloaded: its waiters wait at most
 * `overloadedWaitMs` (OVERLOADED).
 *
 * Waiters of different clients (per-client limits on) stand in one line per client, and the
 * lines take turns for the slots that free (round robin, as fair queuing does): a client that
 * sends ten times its share waits behind itself, not in front of a polite one, and the one
 * turned away for room is the oldest of the longest line. With one client it is one line, as
 * above. No I/O but the injected timer.
 */
export class AdmissionQueue {
  /** Every waiter, oldest first, for deadlines. */
  private readonly arrivals: Entry[] = [];
  /** The line of each client with waiters. */
  private readonly lines = new Map<string, Line>();
  /** Lines in the order they get the next slots. */
  private readonly turns: Line[] = [];
  private waiting = 0;
  private timer: unknown;
  private timerAt = Infinity;
  /** Slots freed over the last `maxWaitMs`. */
  private readonly freed: RecentCount;
  /** When its current run of waiters began (it has not been empty since). */
  private heldSince = 0;
  /** The waiter being admitted found no slot after all and came back (putBack). */
  private cameBack = false;
  private admittingNow = false;
  /** Called when requests start or stop waiting (the queue turns non-empty or empty). */
  onWaitingChanged?: () => void;
  constructor(
    private readonly settings: AdmissionSettings,
    private readonly clock: QueueClock,
  ) {
    this.freed = new RecentCount(settings.maxWaitMs);
  }

  get length(): number {
    return this.waiting;
  }

  /** Requests wait for a slot, or one is being admitted now (it left the count as it was let in). */
  get demand(): boolean {
    return this.waiting > 0 || this.admittingNow;
  }

  /** Whether its oldest waiter has waited longer than the target: newest first then. */
  standing(now: number = this.clock.now()): boolean {
    const head = this.oldest();
    return head !== undefined && now - head.enqueuedAt > this.settings.targetMs;
  }

  /** Queues a client's waiter at the back of its line; undefined (and the waiter is not kept) when the queue is full. */
  offer(waiter: QueueWaiter, client = ''): QueueTicket | undefined {
    if (this.waiting >= this.settings.maxLength) return undefined;
    const now = this.clock.now();
    while (this.overRoom(now)) this.turnAwayFromLongestLine(now);
    const entry = this.enter(waiter, client, now);
    this.arrivals.push(entry);
    entry.line.entries.push(entry);
    this.arm();
    return { cancel: () => this.leave(entry) };
  }

  /**
   * A waiter that was admitted but found no slot after all goes back to its place in arrival
   * order, keeping its wait, and its line gets the next turn again (it was not served).
   */
  putBack(waiter: QueueWaiter, enqueuedAt: number, client = ''): QueueTicket {
    this.cameBack = true;
    const entry = this.enter(waiter, client, enqueuedAt);
    insertByArrival(this.arrivals, entry);
    insertByArrival(entry.line.entries, entry);
    const turn = this.turns.lastIndexOf(entry.line);
    if (turn > 0) this.turns.unshift(...this.turns.splice(turn, 1));
    this.arm();
    return { cancel: () => this.leave(entry) };
  }

  /**
   * A slot freed (a request to a backend ended): admit the next waiter, after turning away those
   * past their deadline. One ending can open several slots (a backend whose cooldown it ended
   * takes requests up to its MAX again): while `roomLeft` says some backend has one, the next
   * waiters are admitted too, rather than at the next recheck.
   */
  slotFreed(roomLeft: () => boolean = () => false): void {
    this.freed.add(this.clock.now());
    let admitted = this.admitNext();
    while (admitted && this.waiting > 0 && roomLeft()) admitted = this.admitNext();
  }

  private enter(waiter: QueueWaiter, client: string, enqueuedAt: number): Entry {
    let line = this.lines.get(client);
    if (!line) {
      line = { client, entries: [], live: 0 };
      this.lines.set(client, line);
      this.turns.push(line);
    }
    line.live += 1;
    // One being admitted that found no slot and comes back never left: the queue was not empty.
    if (this.waiting === 0 && !this.admittingNow) this.heldSince = enqueuedAt;
    this.waiting += 1;
    if (this.waiting === 1) this.onWaitingChanged?.();
    return { waiter, line, enqueuedAt, gone: false };
  }

  private leave(entry: Entry): void {
    if (entry.gone) return;
    entry.gone = true;
    this.waiting -= 1;
    const line = entry.line;
    line.live -= 1;
    if (line.live === 0) this.lines.delete(line.client);
    if (this.waiting === 0) {
      // Nothing waits: what the arrays still hold has all left.
      this.arrivals.length = 0;
      this.turns.length = 0;
      this.onWaitingChanged?.();
    }
  }

  /** Admits one waiter; true when it took a slot (it did not come back through putBack). */
  private admitNext(): boolean {
    if (this.waiting === 0) return false;
    const now = this.clock.now();
    this.expire(now);
    let tookSlot = false;
    while (this.turns.length > 0) {
      const line = this.turns.shift()!;
      if (line.live === 0) continue;
      // Newest first in a line that stands itself: a polite client's short line keeps its order.
      const entry = takeFrom(line, this.lineStands(line, now));
      this.leave(entry);
      if (line.live > 0) this.turns.push(line);
      this.cameBack = false;
      this.admittingNow = true;
      try {
        entry.waiter.admit(now - entry.enqueuedAt);
      } finally {
        this.admittingNow = false;
      }
      tookSlot = !this.cameBack;
      break;
    }
    this.arm();
    return tookSlot;
  }

  /** Waiters past their deadline leave with a 503 (arrival order: the oldest's deadline is the earliest). */
  private expire(now: number): void {
    while (this.arrivals.length > 0) {
      const head = this.arrivals[0];
      if (!head.gone && now < this.deadlineOf(head)) return;
      this.arrivals.shift();
      const expired = !head.gone;
      if (expired) this.leave(head);
      // Everything older in its line has left too: drop it there as well.
      dropLeftFromHead(head.line);
      if (expired) head.waiter.reject('queue_timeout', now - head.enqueuedAt);
    }
  }

  /**
   * When a waiter leaves with a 503: at its bound, or, once the queue turns overloaded (OVERLOADED),
   * at the shorter bound, counted from its arrival too, but not before the queue turned so.
   */
  private deadlineOf(entry: Entry): number {
    const { maxWaitMs, overloadedAfterMs, overloadedWaitMs } = this.settings;
    const overloadedFrom = this.heldSince + Math.max(overloadedAfterMs, maxWaitMs);
    return Math.min(entry.enqueuedAt + maxWaitMs, Math.max(overloadedFrom, entry.enqueuedAt + overloadedWaitMs));
  }

  private oldest(): Entry | undefined {
    return this.arrivals.find((entry) => !entry.gone);
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    // Heads past their deadline leave; and a slot may have freed unseen: the next in line tries
    // (and goes back to its place if there is none).
    this.admitNext();
  };

  private lineStands(line: Line, now: number): boolean {
    const oldest = line.entries.find((entry) => !entry.gone);
    return oldest !== undefined && now - oldest.enqueuedAt > this.settings.targetMs;
  }

  /**
   * Whether the queue holds more than it can serve: it stands, it has not been empty for a
   * whole `maxWaitMs` (a burst the slots drain sooner keeps its waiters, who are served once it
   * has passed), and it holds STANDING_ROOM_FACTOR of the slots that freed over the last
   * `maxWaitMs` (at least MIN_STANDING_ROOM).
   */
  private overRoom(now: number): boolean {
    if (this.waiting < MIN_STANDING_ROOM || !this.standing(now)) return false;
    if (now - this.heldSince < this.settings.maxWaitMs) return false;
    return this.waiting >= Math.ceil(STANDING_ROOM_FACTOR * this.freed.over(now));
  }

  /**
   * The oldest waiter of the longest line, which a standing queue serves last, gets its 503 now
   * rather than at its deadline: room goes from the client that takes the most of it.
   */
  private turnAwayFromLongestLine(now: number): void {
    let longest: Line | undefined;
    for (const line of this.lines.values()) if (!longest || line.live > longest.live) longest = line;
    if (!longest) return;
    const oldest = takeFrom(longest, false);
    this.leave(oldest);
    oldest.waiter.reject('queue_full', now - oldest.enqueuedAt);
  }

  /** One timer, for the head's deadline or the next recheck, whichever comes first. */
  private arm(): void {
    const head = this.oldest();
    if (!head) {
      this.disarm();
      return;
    }
    const now = this.clock.now();
    const at = Math.min(this.deadlineOf(head), now + this.settings.recheckMs);
    if (this.timer !== undefined && at >= this.timerAt) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimer(this.onTimer, Math.max(0, at - now));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}

/** Its next waiter still waiting (the line has one), newest or oldest, taken out of the line. */
function takeFrom(line: Line, newest: boolean): Entry {
  for (;;) {
    const entry = newest ? line.entries.pop()! : line.entries.shift()!;
    if (!entry.gone) return entry;
  }
}

function dropLeftFromHead(line: Line): void {
  while (line.entries.length > 0 && line.entries[0].gone) line.entries.shift();
}

/** Puts an entry back at its place by arrival time (near the back: it waited least). */
function insertByArrival(entries: Entry[], entry: Entry): void {
  let index = entries.length;
  while (index > 0 && entries[index - 1].enqueuedAt > entry.enqueuedAt) index -= 1;
  entries.splice(index, 0, entry);
}

/** Events over the last `windowMs`, from two fixed windows (the one before weighted by how much of it is still within). */
class RecentCount {
  private windowStart = 0;
  private thisWindow = 0;
  private lastWindow = 0;

  constructor(private readonly windowMs: number) {}

  add(now: number): void {
    this.roll(now);
    this.thisWindow += 1;
  }

  over(now: number): number {
    this.roll(now);
    const elapsed = now - this.windowStart;
    return this.thisWindow + this.lastWindow * Math.max(0, 1 - elapsed / this.windowMs);
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < this.windowMs) return;
    this.lastWindow = elapsed >= 2 * this.windowMs ? 0 : this.thisWindow;
    this.thisWindow = 0;
    this.windowStart = now;
  }
}
