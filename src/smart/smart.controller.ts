import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiBadRequestResponse, ApiOkResponse, ApiQuery, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { SmartCallFailedError } from '../errors/index.js';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import { IntInRangePipe } from '../ops/int-in-range.pipe.js';
import { SmartFailureDto, SmartResultDto } from './smart.dto.js';
import { SmartService } from './smart.service.js';

@ApiTags('smart')
@Controller('api')
export class SmartController {
  private readonly timeoutPipe: IntInRangePipe;

  constructor(
    private readonly smart: SmartService,
    @InjectConfig() config: AppConfig,
  ) {
    this.timeoutPipe = new IntInRangePipe('timeout', 1, config.smart.timeoutMaxMs);
  }

  @Get('smart')
  @ApiQuery({ name: 'timeout', required: true, description: 'Overall deadline in ms' })
  @ApiOkResponse({ type: SmartResultDto })
  @ApiServiceUnavailableResponse({ type: SmartFailureDto })
  @ApiBadRequestResponse({ type: ErrorBodyDto })
  async smartCall(@Query('timeout') rawTimeout: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<SmartResultDto> {
    const timeoutMs = this.timeoutPipe.transform(rawTimeout);
    // The deadline runs from the request's arrival: reading and routing it spent part of it.
    const result = await this.smart.call(timeoutMs, reply.elapsedTime);
    // How long the service held the call, so a client can tell its own delays from ours.
    void reply.header('server-timing', `smart;dur=${reply.elapsedTime.toFixed(1)}`);
    if (result.outcome !== 'success') throw new SmartCallFailedError(result.outcome, timeoutMs, result.attempts);
    return { time: result.ms, api: result.body };
  }
}
