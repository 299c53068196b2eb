import { Injectable, OnModuleInit } from '@nestjs/common';
import { DRAIN_ORDER, ShutdownCoordinator } from '../lifecycle/index.js';
import { TaskQueue } from './task-queue.js';

/** The queue's shutdown step: first in the drain order, before the sockets that report on it. */
@Injectable()
export class TaskQueueDrain implements OnModuleInit {
  constructor(
    private readonly queue: TaskQueue,
    private readonly coordinator: ShutdownCoordinator,
  ) {}

  onModuleInit(): void {
    this.coordinator.registerDrainStep({
      name: 'tasks',
      order: DRAIN_ORDER.tasks,
      run: () => this.queue.drain(),
      pending: () => this.queue.pending(),
    });
  }
}
