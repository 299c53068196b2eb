import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { TASK_STATUSES, type TaskStatus } from './task.js';

export const TASK_LIST_MAX = 100;

/** GET /tasks?status=&limit= (the POST body is a zod schema: create-task.body.ts) */
export class ListTasksQueryDto {
  @ApiPropertyOptional({ enum: TASK_STATUSES, description: 'Only tasks in this state' })
  @IsOptional()
  @IsIn(TASK_STATUSES, { message: `status must be one of ${TASK_STATUSES.join(', ')}` })
  status?: TaskStatus;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: TASK_LIST_MAX,
    default: 20,
    description: 'How many, newest first: by finish time for finished tasks, by creation for the others',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `limit must be an integer from 1 to ${TASK_LIST_MAX}` })
  @Min(1, { message: `limit must be an integer from 1 to ${TASK_LIST_MAX}` })
  @Max(TASK_LIST_MAX, { message: `limit must be an integer from 1 to ${TASK_LIST_MAX}` })
  limit?: number;
}

export class TaskAcceptedDto {
  @ApiProperty({ example: '8b0d6c1e-2a4f-4a56-9f1e-5f4c3b2a1d0e' })
  id!: string;
  @ApiProperty({ example: 'queued' })
  status!: string;
}

export class TaskViewDto {
  @ApiProperty()
  id!: string;
  @ApiProperty({ example: 'demo' })
  type!: string;
  @ApiProperty({ enum: TASK_STATUSES })
  status!: string;
  @ApiProperty({ minimum: 0, maximum: 100 })
  progress!: number;
  @ApiProperty({ nullable: true, description: 'The handler’s result once completed' })
  result!: unknown;
  @ApiProperty({ type: String, nullable: true, description: 'The last attempt’s error (while retrying, and once failed or cancelled)' })
  error!: string | null;
  @ApiProperty({ minimum: 0, description: 'The attempt running or last run, from 1 (0 before the first)' })
  attempt!: number;
  @ApiProperty({ minimum: 1, description: 'Attempts the task may have' })
  attempts!: number;
  @ApiProperty()
  createdAt!: string;
  @ApiProperty({ type: String, nullable: true, description: 'When a delayed task was asked to run' })
  runAt!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'While retrying: when the next attempt is due' })
  nextAttemptAt!: string | null;
  @ApiProperty({ type: String, nullable: true })
  finishedAt!: string | null;
}
