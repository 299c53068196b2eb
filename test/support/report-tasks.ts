import { Module } from '@nestjs/common';
import { z } from 'zod';
import { PermanentTaskError, TaskHandler, type RunsTask, type TaskContext } from '../../src/tasks/handlers/task-handler.js';

const reportInput = z.strictObject({
  month: z.string().regex(/^\d{4}-\d{2}$/, { error: 'must be YYYY-MM' }),
  rows: z.int().min(1).max(1_000).default(3),
  /** A month the report cannot be made for: fails at once, without retries. */
  refuse: z.boolean().optional(),
});
type ReportInput = z.output<typeof reportInput>;

/** A second task type, registered the way the docs tell a team to add one. */
@TaskHandler({ type: 'report', attempts: 2, backoffMs: 50 })
export class ReportTask implements RunsTask<ReportInput> {
  readonly input = reportInput as z.ZodType<ReportInput>;

  async run(input: ReportInput, context: TaskContext): Promise<unknown> {
    if (input.refuse) throw new PermanentTaskError(`no data for ${input.month}`);
    for (let row = 1; row <= input.rows; row += 1) await context.progress((row * 100) / input.rows);
    context.log.info(`report for ${input.month}`);
    return { month: input.month, rows: input.rows, attempt: context.attempt };
  }
}

@Module({ providers: [ReportTask] })
export class ReportTasksModule {}
