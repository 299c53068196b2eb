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

/** CoDel's target (Nichols & Jacobson), which Facebook's servers also use to switch to LIFO; a recheck as often. */
export const CODEL = { targetMs: 5, recheckMs: 5 } as const;

/** A timer the queue can arm; injected so the logic runs on a test's clock. */
export interface QueueClock {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

interface Entry {
  readonly waiter: QueueWaiter;
  readonly enqueuedAt: number;
  cancelled: boolean;
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
 * waiting long and most being served late. A standing queue also holds no more than half the
 * slots that freed over the last `maxWaitMs`: past that, its oldest would only wait out its
 * deadline (newest first, it is served last), so it gets its 503 now. No I/O but the injected
 * timer.
 */
export class AdmissionQueue {
  /** Oldest first. CoDel keeps it short, so shifting the array is cheap. */
  private readonly entries: Entry[] = [];
  private timer: unknown;
  private timerAt = Infinity;
  /** Slots freed, counted in windows of `maxWaitMs` (the current and the one before). */
  private windowStart = 0;
  private freedThisWindow = 0;
  private freedLastWindow = 0;
  constructor(
    private readonly settings: AdmissionSettings,
    private readonly clock: QueueClock,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  /** Whether its oldest waiter has waited longer than the target: newest first then. */
  standing(now: number = this.clock.now()): boolean {
    const head = this.entries.find((entry) => !entry.cancelled);
    return head !== undefined && now - head.enqueuedAt > this.settings.targetMs;
  }

  /** Queues a waiter at the back; undefined (and the waiter is not kept) when the queue is full. */
  offer(waiter: QueueWaiter): QueueTicket | undefined {
    if (this.entries.length >= this.settings.maxLength) return undefined;
    const now = this.clock.now();
    if (this.entries.length >= this.standingRoom(now) && this.standing(now)) this.turnAwayOldest(now);
    const entry: Entry = { waiter, enqueuedAt: now, cancelled: false };
    this.entries.push(entry);
    this.arm();
    return { cancel: () => (entry.cancelled = true) };
  }

  /** A waiter that was admitted but found no slot after all goes back to its place in arrival order, keeping its wait. */
  putBack(waiter: QueueWaiter, enqueuedAt: number): QueueTicket {
    const entry: Entry = { waiter, enqueuedAt, cancelled: false };
    let index = this.entries.length;
    while (index > 0 && this.entries[index - 1].enqueuedAt > enqueuedAt) index -= 1;
    this.entries.splice(index, 0, entry);
    this.arm();
    return { cancel: () => (entry.cancelled = true) };
  }

  /** A slot freed (a request to a backend ended): admit the head, after turning away the heads past their deadline. */
  slotFreed(): void {
    this.countFreed(this.clock.now());
    this.admitNext();
  }

  private admitNext(): void {
    if (this.entries.length === 0) return;
    const now = this.clock.now();
    this.expire(now);
    const newestFirst = this.standing(now);
    while (this.entries.length > 0) {
      const entry = newestFirst ? this.entries.pop()! : this.entries.shift()!;
      if (entry.cancelled) continue;
      entry.waiter.admit(now - entry.enqueuedAt);
      break;
    }
    this.arm();
  }

  /** Heads past their deadline leave with a 503 (arrival order: the head's deadline is the earliest). */
  private expire(now: number): void {
    while (this.entries.length > 0) {
      const head = this.entries[0];
      if (!head.cancelled && now - head.enqueuedAt < this.settings.maxWaitMs) return;
      this.entries.shift();
      if (!head.cancelled) head.waiter.reject('queue_timeout', now - head.enqueuedAt);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    // Heads past their deadline leave; and a slot may have freed unseen: the next in line tries
    // (and goes back to its place if there is none).
    this.admitNext();
  };

  private countFreed(now: number): void {
    const window = this.settings.maxWaitMs;
    if (now - this.windowStart >= window) {
      this.freedLastWindow = now - this.windowStart >= 2 * window ? 0 : this.freedThisWindow;
      this.freedThisWindow = 0;
      this.windowStart = now;
    }
    this.freedThisWindow += 1;
  }

  /** How many waiters a standing queue keeps (STANDING_ROOM_FACTOR of the slots freed over the last `maxWaitMs`). */
  private standingRoom(now: number): number {
    const window = this.settings.maxWaitMs;
    const elapsed = now - this.windowStart;
    // The window before, weighted by how much of it is still within the last `maxWaitMs`.
    const last = elapsed >= 2 * window ? 0 : elapsed >= window ? this.freedThisWindow : this.freedLastWindow * (1 - elapsed / window);
    const current = elapsed >= window ? 0 : this.freedThisWindow;
    return Math.max(MIN_STANDING_ROOM, Math.ceil(STANDING_ROOM_FACTOR * (current + last)));
  }

  /** The oldest waiter, which a standing queue serves last, gets its 503 now rather than at its deadline. */
  private turnAwayOldest(now: number): void {
    while (this.entries.length > 0) {
      const oldest = this.entries.shift()!;
      if (oldest.cancelled) continue;
      oldest.waiter.reject('queue_full', now - oldest.enqueuedAt);
      return;
    }
  }

  /** One timer, for the head's deadline or the next recheck, whichever comes first. */
  private arm(): void {
    const head = this.entries.find((entry) => !entry.cancelled);
    if (!head) {
      this.disarm();
      return;
    }
    const now = this.clock.now();
    const at = Math.min(head.enqueuedAt + this.settings.maxWaitMs, now + this.settings.recheckMs);
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
