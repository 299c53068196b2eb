import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { DRAIN_ORDER, ShutdownCoordinator } from '../lifecycle/index.js';
import type { TaskView } from './task.js';
import { TaskQueue } from './task-queue.js';
import { TasksGateway } from './tasks.gateway.js';
import type { CreateTaskDto } from './task.dto.js';
import { InvalidInputError, ShuttingDownError, TaskNotFoundError } from '../errors/index.js';

/** Creates and reads tasks; wires queue events to sockets and both into shutdown. */
@Injectable()
export class TasksService implements OnModuleInit {
  constructor(
    private readonly queue: TaskQueue,
    private readonly gateway: TasksGateway,
    private readonly coordinator: ShutdownCoordinator,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.queue.onUpdate((update) => this.gateway.publish(update));
    this.coordinator.registerDrainStep({
      name: 'tasks',
      order: DRAIN_ORDER.tasks,
      run: () => this.queue.drain(),
      pending: () => this.queue.pending(),
    });
    this.coordinator.registerDrainStep({
      name: 'websockets',
      order: DRAIN_ORDER.sockets,
      run: () => this.gateway.closeAll(),
      pending: () => (this.gateway.connections > 0 ? `${this.gateway.connections} sockets open` : undefined),
    });
  }

  async create(input: CreateTaskDto): Promise<TaskView> {
    // Checked before queueing: a task accepted here is in the queue before any drain can finish.
    if (!this.coordinator.accepting) throw new ShuttingDownError();
    const durationMs = input.durationMs ?? this.config.tasks.defaultDurationMs;
    if (durationMs > this.config.tasks.maxDurationMs) {
      throw new InvalidInputError(`durationMs must be <= ${this.config.tasks.maxDurationMs}`);
    }
    return this.queue.add({ durationMs, payload: input.payload, clientId: input.clientId });
  }

  async get(id: string): Promise<TaskView> {
    const view = await this.queue.get(id);
    if (!view) throw new TaskNotFoundError(id);
    return view;
  }
}
