import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InjectConfig, type AppConfig } from '../config/index.js';
import {
  IdempotencyKeyReusedError,
  ShuttingDownError,
  StoreUnavailableError,
  TaskNotFoundError,
  TaskNotReplicatedError,
} from '../errors/index.js';
import { within } from '../redis/within.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { LEGACY_DEMO_FIELDS, type CreateTaskBody } from './create-task.body.js';
import { DEMO_TASK_TYPE } from './handlers/demo.handler.js';
import { TaskTypes } from './handlers/task-types.js';
import { fingerprintOf, IdempotencyKeys } from './idempotency/idempotency-keys.js';
import type { TaskSpec, TaskStatus, TaskView } from './task.js';
import { TaskQueue, type CancelOutcome } from './task-queue.js';

/** Kept from a create's time budget for its answer to reach the client (through a balancer). */
const ANSWER_MARGIN_MS = 25;

/** What POST /tasks answers: the task, and whether an Idempotency-Key replayed an earlier create. */
export interface Created {
  readonly view: Pick<TaskView, 'id' | 'status'>;
  readonly replayed: boolean;
}

/** Creates, reads, cancels and retries tasks. (The gateway follows the queue; TaskQueueDrain drains it.) */
@Injectable()
export class TasksService {
  constructor(
    private readonly queue: TaskQueue,
    private readonly types: TaskTypes,
    private readonly idempotency: IdempotencyKeys,
    private readonly coordinator: ShutdownCoordinator,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * Validated whole (type, input) before anything is queued or any key claimed. With Redis, a
   * create answers within REDIS_COMMAND_TIMEOUT_MS plus the replica wait (half of it): its
   * commands one after another could take longer while Redis fails over, and a client waiting
   * on them cannot tell a slow Redis from a dead one. Past that, 503: with an Idempotency-Key a
   * retry gets the task if it was queued after all.
   */
  create(body: CreateTaskBody, idempotencyKey?: string): Promise<Created> {
    const startedAt = Date.now();
    const budgetMs = this.createBudgetMs();
    const creating = this.createNow(body, idempotencyKey, startedAt, startedAt + budgetMs);
    return Number.isFinite(budgetMs) ? within(creating, budgetMs, () => new StoreUnavailableError()) : creating;
  }

  /** How long a create may take with Redis: the command timeout, plus the replica wait when one is asked for. */
  private createBudgetMs(): number {
    const redis = this.config.redis;
    if (!redis) return Infinity;
    return redis.commandTimeoutMs * (redis.minReplicasAck > 0 ? 1.5 : 1) - ANSWER_MARGIN_MS;
  }

  private async createNow(
    body: CreateTaskBody,
    idempotencyKey: string | undefined,
    startedAt: number,
    deadlineAt: number,
  ): Promise<Created> {
    // Checked before queueing: a task accepted here is in the queue before any drain can finish.
    if (!this.coordinator.accepting) throw new ShuttingDownError();
    const type = this.types.get(body.type ?? DEMO_TASK_TYPE);
    const input = body.type != null || body.input !== undefined ? body.input : legacyDemoInput(body);
    this.types.parse(type, input);
    const runAt = body.runAt != null ? Date.parse(body.runAt) : body.delayMs ? Date.now() + body.delayMs : undefined;
    const spec: TaskSpec = {
      id: randomUUID(),
      type: type.name,
      input,
      clientId: body.clientId ?? undefined,
      runAt,
      priority: body.priority ?? 0,
      retry: type.retry,
    };
    if (!idempotencyKey) return { view: await this.queue.add(spec, { deadlineAt }), replayed: false };
    const record = { taskId: spec.id, fingerprint: fingerprintOf(body), claimedAt: startedAt };
    const held = await this.idempotency.claim(idempotencyKey, record, this.config.tasks.idempotencyTtlMs);
    if (held) {
      if (held.fingerprint !== record.fingerprint) throw new IdempotencyKeyReusedError();
      const view = await this.queue.get(held.taskId);
      if (view) {
        // Answered 503 before (too few replicas had it): a replay is as safe as a first 202, or 503 again.
        await this.queue.confirmReplicated(held.taskId, { fence: true, deadlineAt });
        return { view, replayed: true };
      }
      // The create that claimed the key is past its budget and its task is not there: Redis lost
      // it (a failover kept the key's write and not the job's). Queued now, under the id the key names.
      if (startedAt - (held.claimedAt ?? 0) > this.createBudgetMs()) {
        return { view: await this.queue.add({ ...spec, id: held.taskId }, { deadlineAt }), replayed: true };
      }
      // The holder is still adding it (a concurrent request): it is queued by the time that answers.
      return { view: { id: held.taskId, status: 'queued' }, replayed: true };
    }
    try {
      return { view: await this.queue.add(spec, { deadlineAt }), replayed: false };
    } catch (error) {
      // Not queued: the key must not answer later retries with a task that does not exist. (Queued
      // but not yet on enough replicas, it is: the key answers a retry with it.)
      if (!(error instanceof TaskNotReplicatedError)) await this.idempotency.release(idempotencyKey, record).catch(() => undefined);
      throw error;
    }
  }

  list(status: TaskStatus | undefined, limit: number): Promise<TaskView[]> {
    return this.queue.list({ status, limit });
  }

  async get(id: string): Promise<TaskView> {
    const view = await this.queue.get(id);
    if (!view) throw new TaskNotFoundError(id);
    return view;
  }

  cancel(id: string): Promise<CancelOutcome> {
    return this.queue.cancel(id);
  }

  retry(id: string): Promise<TaskView> {
    return this.queue.retry(id);
  }
}

function legacyDemoInput(body: CreateTaskBody): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const field of LEGACY_DEMO_FIELDS) if (body[field] !== undefined) input[field] = body[field];
  return input;
}
