/** Why a `subscribe` frame was refused; the gateway turns it into an `error` frame. */
export type SubscribeRefusal = 'bad_request' | 'too_many';

export type SubscribeOutcome = { ok: true; taskId?: string; all?: boolean } | { ok: false; refusal: SubscribeRefusal };

interface Follower {
  readonly clientId?: string;
  readonly tasks: Set<string>;
}

const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Who follows which task: sockets subscribed to one task, to all, or connected with the
 * task's clientId. Pure bookkeeping, no I/O; `S` is whatever identifies a socket. Every
 * index entry is removed with the last follower, so the maps hold live sockets only.
 */
export class Subscriptions<S> {
  private readonly followers = new Map<S, Follower>();
  private readonly byTask = new Map<string, Set<S>>();
  private readonly byClientId = new Map<string, Set<S>>();
  private readonly all = new Set<S>();

  constructor(private readonly maxPerSocket: number) {}

  get size(): number {
    return this.followers.size;
  }

  /** Every task some socket follows by id. */
  followedTaskIds(): string[] {
    return [...this.byTask.keys()];
  }

  sockets(): S[] {
    return [...this.followers.keys()];
  }

  connect(socket: S, clientId?: string): void {
    this.followers.set(socket, { clientId, tasks: new Set() });
    if (clientId) addTo(this.byClientId, clientId, socket);
  }

  disconnect(socket: S): void {
    const follower = this.followers.get(socket);
    if (!follower) return;
    this.followers.delete(socket);
    this.all.delete(socket);
    for (const id of follower.tasks) removeFrom(this.byTask, id, socket);
    if (follower.clientId) removeFrom(this.byClientId, follower.clientId, socket);
  }

  /** Applies a `subscribe` frame's data: `{"taskId": string}` or `{"all": true}`. */
  subscribe(socket: S, data: { taskId?: unknown; all?: unknown }): SubscribeOutcome {
    const follower = this.followers.get(socket);
    if (!follower) return { ok: false, refusal: 'bad_request' };
    if (data.all === true) {
      this.all.add(socket);
      return { ok: true, all: true };
    }
    const { taskId } = data;
    if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) return { ok: false, refusal: 'bad_request' };
    if (!follower.tasks.has(taskId) && follower.tasks.size >= this.maxPerSocket) return { ok: false, refusal: 'too_many' };
    follower.tasks.add(taskId);
    addTo(this.byTask, taskId, socket);
    return { ok: true, taskId };
  }

  /** Undoes one task subscription (a task the socket asked for turned out unknown). */
  unsubscribe(socket: S, taskId: string): void {
    const follower = this.followers.get(socket);
    if (!follower?.tasks.delete(taskId)) return;
    removeFrom(this.byTask, taskId, socket);
  }

  /**
   * Every socket that should hear about a change of `taskId`, each once. Read it, do not keep
   * it: when only sockets subscribed to all follow the task, it is that live set itself (not a
   * copy per frame).
   */
  followersOf(taskId: string, clientId?: string): ReadonlySet<S> {
    const byTask = this.byTask.get(taskId);
    const byClientId = clientId ? this.byClientId.get(clientId) : undefined;
    if (!byTask && !byClientId) return this.all;
    const targets = new Set<S>(this.all);
    for (const socket of byTask ?? []) targets.add(socket);
    for (const socket of byClientId ?? []) targets.add(socket);
    return targets;
  }

  /** Index sizes, to show that nothing outlives its sockets. */
  indexSizes(): { sockets: number; tasks: number; clientIds: number; all: number } {
    return { sockets: this.followers.size, tasks: this.byTask.size, clientIds: this.byClientId.size, all: this.all.size };
  }
}

function addTo<K, S>(index: Map<K, Set<S>>, key: K, socket: S): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(socket);
}

function removeFrom<K, S>(index: Map<K, Set<S>>, key: K, socket: S): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(socket);
  if (set.size === 0) index.delete(key);
}
