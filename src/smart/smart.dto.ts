import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class SmartResultDto {
  @ApiProperty({ description: 'Milliseconds the call took', example: 312 })
  time!: number;
  @ApiProperty({ description: "The winning upstream attempt's JSON", example: { time: 287 } })
  api!: unknown;
}

export class AttemptDto {
  @ApiProperty({ example: 0 })
  attempt!: number;
  @ApiPropertyOptional({ example: 500 })
  status?: number;
  @ApiPropertyOptional({ example: 'invalid JSON' })
  error?: string;
  @ApiProperty({ example: 120 })
  ms!: number;
  @ApiProperty({ enum: ['won', 'failed', 'aborted'] })
  result!: string;
}

export class SmartFailureDto {
  @ApiProperty({ example: 503 })
  statusCode!: number;
  @ApiProperty({ example: 'Service Unavailable' })
  error!: string;
  @ApiProperty({ example: 'No upstream answer within 1000 ms' })
  message!: string;
  @ApiProperty({ example: 'No upstream answer within 1000 ms' })
  detail!: string;
  @ApiProperty({ enum: ['deadline', 'upstream_errors', 'budget'] })
  reason!: string;
  @ApiProperty({ type: [AttemptDto] })
  attempts!: AttemptDto[];
}
