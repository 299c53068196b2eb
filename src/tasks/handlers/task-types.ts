import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { InjectConfig, type AppConfig } from '../../config/index.js';
import { TaskHandler, type RunsTask } from './task-handler.js';
import { TaskTypeRegistry, type TaskType } from './task-type-registry.js';

/**
 * Every provider marked @TaskHandler in the application, found through Nest's discovery on
 * first use (after every module is instantiated), so a team adds a type by adding a provider,
 * without touching the queue or the worker.
 */
@Injectable()
export class TaskTypes {
  private registry?: TaskTypeRegistry;

  constructor(
    private readonly discovery: DiscoveryService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  get(name: string): TaskType {
    return this.discovered().get(name);
  }

  parse(type: TaskType, input: unknown): unknown {
    return this.discovered().parse(type, input);
  }

  names(): string[] {
    return this.discovered().names();
  }

  private discovered(): TaskTypeRegistry {
    if (this.registry) return this.registry;
    const registry = new TaskTypeRegistry(this.config.tasks.retry);
    for (const wrapper of this.discovery.getProviders({ metadataKey: TaskHandler.KEY })) {
      const options = this.discovery.getMetadataByDecorator(TaskHandler, wrapper);
      if (options && wrapper.instance) registry.register(options, wrapper.instance as RunsTask);
    }
    this.registry = registry;
    return registry;
  }
}
