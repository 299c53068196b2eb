import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorBody } from './error-body.js';

export class ErrorBodyDto implements ErrorBody {
  @ApiProperty({ example: 404 })
  statusCode!: number;
  @ApiProperty({ example: 'Not Found' })
  error!: string;
  @ApiProperty({ example: 'Item 42 not found' })
  message!: string;
  @ApiProperty({ example: 'Item 42 not found', description: 'Same as message (FastAPI compatibility)' })
  detail!: string;
  @ApiPropertyOptional({ type: [String], description: 'Each validation problem' })
  reasons?: string[];
}
