import { ApiProperty } from '@nestjs/swagger';

export class LongTaskResultDto {
  @ApiProperty({ description: 'Sequence number of this client on this instance', example: 7 })
  client!: number;
}
