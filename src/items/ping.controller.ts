import { Controller, Get, Req } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { INSTANCE_INFO } from '../ops/instance-info.js';
import { PingDto } from './item.dto.js';

@ApiTags('items')
@Controller('ping')
export class PingController {
  @Get()
  @ApiOkResponse({ type: PingDto })
  ping(@Req() request: FastifyRequest): PingDto {
    // The socket's own port is the one really served, even when PORT=0 picked a free one.
    return { port: request.socket.localPort ?? 0, ...INSTANCE_INFO };
  }
}
