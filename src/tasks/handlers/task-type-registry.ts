import type { RetryPolicy } from '../../config/index.js';
import { InvalidTaskInputError, UnknownTaskTypeError } from '../../errors/index.js';
import { describeZodIssue } from '../../ops/zod-issues.js';
import type { RunsTask, TaskHandlerOptions } from './task-handler.js';

/** A registered type: its handler and its retry policy (the type's own, or the defaults). */
export interface TaskType {
  readonly name: string;
  readonly handler: RunsTask;
  readonly retry: RetryPolicy;
}

const TYPE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The task types by name (pure: the Nest discovery that fills it is TaskTypes). */
export class TaskTypeRegistry {
  private readonly types = new Map<string, TaskType>();

  constructor(private readonly defaults: RetryPolicy) {}

  register(options: string | TaskHandlerOptions, handler: RunsTask): void {
    const { type, ...retry } = typeof options === 'string' ? { type: options } : options;
    if (!TYPE_NAME.test(type)) throw new Error(`task type ${JSON.stringify(type)}: 1-64 letters, digits, "_", ".", ":" or "-"`);
    if (this.types.has(type)) throw new Error(`task type "${type}" has two handlers`);
    if (typeof handler.run !== 'function' || typeof handler.input?.safeParse !== 'function') {
      throw new Error(`task type "${type}": its handler needs an \`input\` zod schema and a \`run(input, context)\` method`);
    }
    const policy: RetryPolicy = {
      attempts: retry.attempts ?? this.defaults.attempts,
      backoffMs: retry.backoffMs ?? this.defaults.backoffMs,
      backoffMaxMs: retry.backoffMaxMs ?? this.defaults.backoffMaxMs,
    };
    this.types.set(type, { name: type, handler, retry: policy });
  }

  names(): string[] {
    return [...this.types.keys()].sort();
  }

  /** The type, or a 400 naming the known ones. */
  get(name: string): TaskType {
    const type = this.types.get(name);
    if (!type) throw new UnknownTaskTypeError(name, this.names());
    return type;
  }

  /** The handler's reading of `input`, or a 400 with the schema's reasons. */
  parse(type: TaskType, input: unknown): unknown {
    const parsed = type.handler.input.safeParse(input ?? {});
    if (parsed.success) return parsed.data;
    throw new InvalidTaskInputError(type.name, parsed.error.issues.flatMap(describeZodIssue));
  }
}
