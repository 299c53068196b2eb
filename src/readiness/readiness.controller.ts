import { Controller, Get, Query, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ApiBadRequestResponse, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import type { FastifyReply } from 'fastify';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { abortedWhenClientLeaves } from '../ops/close-signal.js';
import { healthResponse } from '../ops/health-response.js';
import { IntInRangePipe } from '../ops/int-in-range.pipe.js';
import { LongTaskService } from './long-task.service.js';
import { ReadinessIndicators } from './readiness.indicators.js';
import { LongTaskResultDto } from './readiness.dto.js';

@ApiTags('readiness')
@Controller()
export class ReadinessController {
  private readonly msPipe: IntInRangePipe;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: ReadinessIndicators,
    private readonly longTasks: LongTaskService,
    @InjectConfig() config: AppConfig,
  ) {
    this.msPipe = new IntInRangePipe('ms', 0, config.readiness.longTaskMaxMs, config.readiness.longTaskDefaultMs);
  }

  /** 200 while this instance should get new traffic; 503 in cooldown, shutdown, or without Redis. */
  @Get('ready')
  @HealthCheck()
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return healthResponse(this.health, this.indicators.readinessChecks(), reply);
  }

  /** 200 while the process can serve at all, including during shutdown. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([() => this.indicators.process()]);
  }

  @Get('long_task')
  @ApiQuery({ name: 'ms', required: false, description: 'How long to hold the client slot (default LONG_TASK_MS)' })
  @ApiOkResponse({ type: LongTaskResultDto })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'ms is not an integer from 0 to LONG_TASK_MAX_MS' })
  longTask(@Query('ms') ms: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<LongTaskResultDto> {
    return this.longTasks.hold(this.msPipe.transform(ms), abortedWhenClientLeaves(reply.raw));
  }
}
