import type { RedisClient } from '../redis/redis-connection.js';
import type { TaskView } from './task.js';
import { byLatestActivity, finishedBefore, RECENTLY_FINISHED_MS } from './task-view.js';

/**
 * Which tasks each client created (`clientId`), in a Redis set per client that lives as long
 * as finished tasks are kept: what a socket reconnecting with `?clientId=` must be told about.
 * Tasks finished longer than RECENTLY_FINISHED_MS ago, and forgotten ones, are pruned from the
 * set whenever it is read.
 */
export class ClientTaskIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
  ) {}

  /** Records the task under its client; rejects when Redis does (the caller decides how much that matters). */
  async add(clientId: string, taskId: string): Promise<void> {
    const key = this.keyOf(clientId);
    await this.redis.multi().sadd(key, taskId).expire(key, this.ttlSeconds).exec();
  }

  /** The client's unfinished tasks and those finished within RECENTLY_FINISHED_MS, latest activity first, as `read` finds them now. */
  async recent(
    clientId: string,
    limit: number,
    read: (taskId: string) => Promise<TaskView | undefined>,
    nowMs: number,
  ): Promise<TaskView[]> {
    const key = this.keyOf(clientId);
    const ids = await this.redis.smembers(key);
    const views = (await Promise.all(ids.map(read))).filter((view): view is TaskView => view !== undefined);
    const known = new Set(views.map((view) => view.id));
    const cutoff = nowMs - RECENTLY_FINISHED_MS;
    const current: TaskView[] = [];
    const stale = ids.filter((id) => !known.has(id));
    for (const view of views) {
      if (finishedBefore(view, cutoff)) stale.push(view.id);
      else current.push(view);
    }
    if (stale.length > 0) await this.redis.srem(key, ...stale).catch(() => undefined);
    return current.sort(byLatestActivity).slice(0, limit);
  }

  private keyOf(clientId: string): string {
    return `${this.keyPrefix}:tasks:client:${clientId}`;
  }
}
