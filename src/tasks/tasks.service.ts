import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import type { TaskStatus, TaskView } from './task.js';
import { TaskQueue } from './task-queue.js';
import type { CreateTaskBody } from './create-task.body.js';
import { ERROR_MESSAGES, InvalidInputError, ShuttingDownError, TaskNotFoundError } from '../errors/index.js';

/** Creates and reads tasks. (The gateway follows the queue; TaskQueueDrain drains it.) */
@Injectable()
export class TasksService {
  constructor(
    private readonly queue: TaskQueue,
    private readonly coordinator: ShutdownCoordinator,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async create(input: CreateTaskBody): Promise<TaskView> {
    // Checked before queueing: a task accepted here is in the queue before any drain can finish.
    if (!this.coordinator.accepting) throw new ShuttingDownError();
    const durationMs = input.durationMs ?? this.config.tasks.defaultDurationMs;
    if (durationMs > this.config.tasks.maxDurationMs) {
      throw new InvalidInputError(ERROR_MESSAGES.tasks.tooLong(this.config.tasks.maxDurationMs));
    }
    return this.queue.add({ durationMs, payload: input.payload, clientId: input.clientId ?? undefined });
  }

  list(status: TaskStatus | undefined, limit: number): Promise<TaskView[]> {
    return this.queue.list({ status, limit });
  }

  async get(id: string): Promise<TaskView> {
    const view = await this.queue.get(id);
    if (!view) throw new TaskNotFoundError(id);
    return view;
  }
}
