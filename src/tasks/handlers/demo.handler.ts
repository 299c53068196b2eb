import { z } from 'zod';
import { InjectConfig, type AppConfig } from '../../config/index.js';
import { doDemoWork } from '../demo-work.js';
import { TaskHandler, type RunsTask, type TaskContext } from './task-handler.js';

export const DEMO_TASK_TYPE = 'demo';

function demoInput(defaultDurationMs: number, maxDurationMs: number) {
  const durationRule = `must be an integer from 0 to ${maxDurationMs}`;
  return z.strictObject(
    {
      durationMs: z
        .int({ error: durationRule })
        .min(0, { error: durationRule })
        .max(maxDurationMs, { error: durationRule })
        .nullish()
        .transform((ms) => ms ?? defaultDurationMs),
      payload: z.unknown().optional(),
      failTimes: z
        .int({ error: 'must be an integer from 0 to 100' })
        .min(0, { error: 'must be an integer from 0 to 100' })
        .max(100, { error: 'must be an integer from 0 to 100' })
        .optional(),
    },
    { error: 'the input must be a JSON object' },
  );
}

export type DemoInput = z.output<ReturnType<typeof demoInput>>;

/**
 * Seed 004's task: works `durationMs` in ten steps, echoes `payload`. `failTimes` fails its
 * first N attempts, so retries can be watched from outside.
 */
@TaskHandler(DEMO_TASK_TYPE)
export class DemoTaskHandler implements RunsTask<DemoInput> {
  readonly input: z.ZodType<DemoInput>;

  constructor(@InjectConfig() config: AppConfig) {
    this.input = demoInput(config.tasks.defaultDurationMs, config.tasks.maxDurationMs) as unknown as z.ZodType<DemoInput>;
  }

  async run(input: DemoInput, context: TaskContext): Promise<unknown> {
    if (context.attempt <= (input.failTimes ?? 0)) {
      throw new Error(`demo failure on attempt ${context.attempt} of the first ${input.failTimes} (failTimes)`);
    }
    // Zero-length work waits on nothing: no signal to make (it is made on first use).
    const signal = input.durationMs > 0 ? context.signal : undefined;
    return doDemoWork(input.durationMs, input.payload, (percent) => context.progress(percent), signal);
  }
}
