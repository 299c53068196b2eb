import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiQuery, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { errorBody } from '../ops/error-body.js';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import { IntInRangePipe } from '../ops/int-in-range.pipe.js';
import type { HedgeOutcome } from './hedge-run.js';
import { SmartFailureDto, SmartResultDto } from './smart.dto.js';
import { SmartService } from './smart.service.js';

const FAILURE_MESSAGES: Record<Exclude<HedgeOutcome, 'success'>, (timeoutMs: number) => string> = {
  deadline: (timeoutMs) => `No upstream answer within ${timeoutMs} ms`,
  upstream_errors: () => 'Every upstream attempt failed',
  budget: () => 'The upstream attempt failed and the hedge budget allowed no backups',
};

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
  async smartCall(@Query('timeout') rawTimeout: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const timeoutMs = this.timeoutPipe.transform(rawTimeout);
    const result = await this.smart.call(timeoutMs);
    if (result.outcome === 'success') return { time: result.ms, api: result.body };
    void reply.status(503);
    return { ...errorBody(503, FAILURE_MESSAGES[result.outcome](timeoutMs)), reason: result.outcome, attempts: result.attempts };
  }
}
