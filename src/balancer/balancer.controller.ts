import { Controller, Get, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { FleetSync } from '../cluster/fleet-sync.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { AdminOnly } from '../ops/admin.guard.js';
import { healthResponse } from '../ops/health-response.js';
import { BalancerStatus } from './balancer-status.js';
import { BalancerStatusDto } from './balancer-status.dto.js';
import { Upstreams } from './upstreams.js';

/** The balancer's own routes; every other path is proxied. */
@ApiTags('balancer')
@Controller('_balancer')
export class BalancerController {
  constructor(
    private readonly upstreams: Upstreams,
    private readonly status: BalancerStatus,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly coordinator: ShutdownCoordinator,
    private readonly fleet: FleetSync,
  ) {}

  @Get('backends')
  @AdminOnly()
  @ApiOkResponse({ type: BalancerStatusDto })
  backends(): Promise<BalancerStatusDto> {
    return this.status.view();
  }

  /**
   * 503 while shutting down, and while some of its workers (BALANCER_WORKERS > 1) do not listen
   * yet; with every backend down the balancer still answers fast 503s.
   */
  @Get('ready')
  @HealthCheck()
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return healthResponse(
      this.health,
      [
        () => {
          const indicator = this.indicators.check('shutdown');
          const details = { accepting: this.coordinator.accepting, phase: this.coordinator.phase };
          return this.coordinator.accepting ? indicator.up(details) : indicator.down(details);
        },
        () => {
          const indicator = this.indicators.check('workers');
          const details = { allListening: this.fleet.everyWorkerListening };
          return this.fleet.everyWorkerListening ? indicator.up(details) : indicator.down(details);
        },
        () => {
          const now = Date.now();
          const backends = this.upstreams.pool.backends;
          return this.indicators.check('backends').up({
            total: backends.length,
            available: backends.filter((backend) => !backend.isEjected(now)).length,
          });
        },
      ],
      reply,
    );
  }

  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([() => this.indicators.check('process').up({ pid: process.pid })]);
  }
}
