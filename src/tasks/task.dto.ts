import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/** Upper bound checked again against TASK_MAX_DURATION_MS by the service. */
export class CreateTaskDto {
  @ApiPropertyOptional({ description: 'How long the demo task works (default TASK_DEFAULT_DURATION_MS)', example: 2000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  durationMs?: number;

  @ApiPropertyOptional({ description: 'Any JSON, echoed in the result', example: { hello: 'world' } })
  @Allow()
  payload?: unknown;

  @ApiPropertyOptional({ description: 'Sockets connected with ?clientId= get this task’s frames unasked', example: 'browser-1' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,128}$/, { message: 'clientId must be 1-128 letters, digits, "_", "." or "-"' })
  clientId?: string;
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
  @ApiProperty({ enum: ['queued', 'active', 'completed', 'failed'] })
  status!: string;
  @ApiProperty({ minimum: 0, maximum: 100 })
  progress!: number;
  @ApiProperty({ nullable: true, description: 'The processor’s result once completed' })
  result!: unknown;
  @ApiProperty({ type: String, nullable: true })
  error!: string | null;
  @ApiProperty()
  createdAt!: string;
  @ApiProperty({ type: String, nullable: true })
  finishedAt!: string | null;
}
