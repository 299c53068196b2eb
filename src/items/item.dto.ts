import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNumber, IsOptional, IsString, MaxLength } from 'class-validator';

const finite = { allowNaN: false, allowInfinity: false } as const;

/** Request body of POST and PUT (seed 001's `Item`). Unknown fields are rejected. */
export class ItemBodyDto {
  @ApiProperty({ example: 'Foo', maxLength: 1000 })
  @IsString()
  @MaxLength(1000)
  name!: string;

  @ApiPropertyOptional({ type: String, nullable: true, example: 'A very nice item', maxLength: 10_000 })
  @IsOptional()
  @IsString()
  @MaxLength(10_000)
  description?: string | null;

  @ApiProperty({ example: 35.4 })
  @IsNumber(finite)
  price!: number;

  @ApiPropertyOptional({ type: Number, nullable: true, example: 3.2 })
  @IsOptional()
  @IsNumber(finite)
  tax?: number | null;
}

export class ItemDto {
  @ApiProperty({ example: 'Foo' })
  name!: string;
  @ApiProperty({ type: String, nullable: true, example: null })
  description!: string | null;
  @ApiProperty({ example: 35.4 })
  price!: number;
  @ApiProperty({ type: Number, nullable: true, example: null })
  tax!: number | null;
}

export class PingDto {
  @ApiProperty({ description: 'The port that served this request', example: 8000 })
  port!: number;
  @ApiProperty({ example: 'web-1' })
  hostname!: string;
  @ApiProperty({ description: 'Unique per process start', example: 'web-1-4242-a1b2c3' })
  instance!: string;
}
