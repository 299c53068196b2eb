import { LRUCache } from 'lru-cache';
import type { TaskUpdate } from './task.js';
import { activeView, isFinished } from './task-view.js';

/**
 * What QueueEvents reports of a job, and `reread`: no event of the queue, but its events
 * reconnected and this one's may be lost, so the store is asked.
 */
export type TaskEvent = 'waiting' | 'delayed' | 'active' | 'progress' | 'completed' | 'failed' | 'removed' | 'reread';

/** The reads an event may need: the whole stored task, or a finished one (its hash alone says how it finished). */
export interface TaskReads {
  stored(id: string): Promise<TaskUpdate | undefined>;
  finished(id: string): Promise<TaskUpdate | undefined>;
}

/** fromKnown's answer when only the store can say what an event changed. */
const NEEDS_READ = Symbol('needs read');

/**
 * Turns a queue's job events into task updates, in the order the events came, with as few
 * reads as that allows: `waiting` and `active` of a task this instance knows change only the
 * status; progress changes only the progress; a job this instance's worker finished is sent as
 * the worker left it; any other finished job is read back once; anything else is read whole.
 * Reads run concurrently (one job's read does not hold up another's), but updates leave in
 * event order: a job never shows active before the one ahead of it on a single worker shows
 * completed. No Redis here: the reads are given.
 */
export class TaskEventSequencer {
  /** The last stored view seen per task (with its clientId), so progress events need no read. */
  private readonly known = new LRUCache<string, TaskUpdate>({ max: 50_000 });
  /**
   * Jobs this instance's worker finished, as the worker left them (finish time included).
   * Bounded: an entry whose event was handled first (the read won the race) ages out.
   */
  private readonly finishedByThisWorker = new LRUCache<string, TaskUpdate>({ max: 10_000 });
  /**
   * When each task's last finish that was sent happened: a worker's report of a finish already
   * read and sent (the event won the race) stays behind in finishedByThisWorker, and a retried
   * task's next finish must not be answered with it.
   */
  private readonly lastFinishSent = new LRUCache<string, number>({ max: 50_000 });
  /** Per-job chains, so one job's events are handled in the order they came. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Tasks whose event could not be read (the store was away): nobody was told what happened to them yet. */
  private readonly unread = new Set<string>();
  /** Events whose update waits on a read (or on one ahead of it): later events queue behind them. */
  private reading = 0;
  private emitted: Promise<void> = Promise.resolve();

  constructor(
    private readonly reads: TaskReads,
    private readonly emit: (update: TaskUpdate) => void,
    private readonly warn: (message: string) => void,
  ) {}

  /** A task this instance created: its `waiting` and `active` events need no read. */
  created(update: TaskUpdate): void {
    if (!this.known.has(update.view.id)) this.known.set(update.view.id, update);
  }

  /** A job this instance's worker finished: its `completed`/`failed` event is sent as it is here. */
  finishedHere(update: TaskUpdate): void {
    this.finishedByThisWorker.set(update.view.id, update);
  }

  /** The tasks this instance last saw unfinished: after its events reconnect, their end may have been missed. */
  unfinishedKnown(): string[] {
    const ids: string[] = [];
    for (const [id, update] of this.known.entries()) if (!isFinished(update.view)) ids.push(id);
    return ids;
  }

  /**
   * The tasks whose last event could not be read, taken (cleared): the caller hands each back
   * as `reread` once the store answers again, so a final state whose read failed is still sent.
   */
  takeUnread(): string[] {
    const ids = [...this.unread];
    this.unread.clear();
    return ids;
  }

  /** One event of one job. */
  handle(id: string, event: TaskEvent, progress?: unknown): void {
    // The usual case, nothing to read and nothing ahead waiting on a read: sent now, without
    // allocating the chain below (five events per task).
    if (this.reading === 0) {
      const known = this.fromKnown(id, event, progress);
      if (known !== NEEDS_READ) {
        if (known) this.send(known);
        return;
      }
    }
    this.reading += 1;
    const previous = this.chains.get(id) ?? Promise.resolve();
    const computed = previous.then(async (): Promise<TaskUpdate | undefined> => {
      const known = this.fromKnown(id, event, progress);
      if (known !== NEEDS_READ) return known;
      const update = event === 'completed' || event === 'failed' ? await this.reads.finished(id) : await this.reads.stored(id);
      if (!update) return undefined;
      // A late event read back a finish already sent: nothing new.
      const last = this.known.peek(id);
      if (last && isFinished(last.view) && isFinished(update.view) && last.view.finishedAt === update.view.finishedAt) return undefined;
      this.known.set(id, update);
      return update;
    });
    const next = computed
      .then(() => undefined)
      .catch((error: Error) => {
        if (!this.unread.has(id)) this.warn(`task ${id} event: ${error.message} (read again once the store answers)`);
        this.unread.add(id);
      })
      .finally(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      });
    this.chains.set(id, next);
    this.emitted = this.emitted
      .then(() => computed)
      .then(
        (update) => {
          if (update) this.send(update);
        },
        () => undefined,
      )
      .finally(() => {
        this.reading -= 1;
      });
  }

  /**
   * The update an event makes from what this instance already knows (recorded as the latest),
   * `undefined` when it changes nothing worth a frame, or NEEDS_READ when only the store can say.
   */
  private fromKnown(id: string, event: TaskEvent, progress: unknown): TaskUpdate | undefined | typeof NEEDS_READ {
    if (event === 'reread') return NEEDS_READ;
    const last = this.known.peek(id);
    // A finished task moves again only when it is retried (`waiting`), and only the store can
    // say that is what happened: any other event read late (a `waiting` handled after the job
    // already finished showed as finished) must not send the finished frame twice.
    if (last && isFinished(last.view)) return event === 'waiting' ? NEEDS_READ : undefined;
    let update: TaskUpdate | undefined;
    // A known `retrying` may have been read ahead of the events (a fast attempt failed before its
    // `active` event was handled): only the store can say which attempt an event is about.
    if (last?.view.status === 'retrying' && (event === 'active' || event === 'progress')) return NEEDS_READ;
    if (last && event === 'progress') {
      update = { ...last, view: activeView(last.view, progress) };
    } else if (last && event === 'active') {
      update = { ...last, view: activeView(last.view) };
    } else if (last && event === 'waiting' && last.view.status === 'queued') {
      update = last;
    } else if (last && event === 'delayed' && last.view.status === 'scheduled') {
      update = last;
    } else if (event === 'completed' || event === 'failed') {
      update = this.takeFinishedHere(id);
    }
    if (!update) return NEEDS_READ;
    this.known.set(id, update);
    return update;
  }

  private send(update: TaskUpdate): void {
    if (isFinished(update.view) && update.view.finishedAt) this.lastFinishSent.set(update.view.id, Date.parse(update.view.finishedAt));
    this.emit(update);
  }

  /** The worker's report of this task's finish, unless it is one already sent (then only the store can say). */
  private takeFinishedHere(id: string): TaskUpdate | undefined {
    const local = this.finishedByThisWorker.get(id);
    if (!local) return undefined;
    this.finishedByThisWorker.delete(id);
    const sentAt = this.lastFinishSent.get(id);
    if (sentAt !== undefined && local.view.finishedAt && Date.parse(local.view.finishedAt) <= sentAt) return undefined;
    return local;
  }
}
