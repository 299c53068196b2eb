import { Controller, Get, Res } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { FleetSync } from '../cluster/fleet-sync.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { AdminOnly } from '../ops/admin.guard.js';
import { healthResponse } from '../ops/health-response.js';
import type { BackendState } from './backend.js';
import { StickyTable } from './sticky-table.js';
import { Upstreams } from './upstreams.js';
import { WebSocketTunnels } from './websocket-tunnel.js';

export class AttemptOutcomesDto {
  @ApiProperty() success!: number;
  @ApiProperty({ description: '5xx answers' }) status_5xx!: number;
  @ApiProperty({ description: 'Connection refused or unreachable' }) connect!: number;
  @ApiProperty({ description: 'No response headers within MAX_RESPONSE_DELAY_MS' }) timeout!: number;
  @ApiProperty({ description: 'Connection reset or broken mid-exchange' }) reset!: number;
  @ApiProperty({ description: 'The client left before the answer' }) client_gone!: number;
}

export class BackendStatusDto {
  @ApiProperty({ example: 'http://127.0.0.1:8000' })
  url!: string;
  @ApiProperty({ enum: ['ejected', 'busy', 'probing', 'unready', 'up'], description: 'Worst condition first' })
  state!: BackendState;
  @ApiProperty({ description: 'Takes new requests (not ejected, busy or probing) and its last /ready check passed' })
  healthy!: boolean;
  @ApiProperty({ description: 'Last active /ready check passed' })
  ready!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'ISO time the ejection ends, or null' })
  ejectedUntil!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'ISO time a "busy" 503 + Retry-After ends, or null' })
  busyUntil!: string | null;
  @ApiProperty({ description: 'Back from an ejection: one probe request before its full share' })
  halfOpen!: boolean;
  @ApiProperty({ description: '5xx responses in a row (EJECT_CONSECUTIVE_5XX ejects)' })
  consecutive5xx!: number;
  @ApiProperty({ description: 'Ejections in a row: the next lasts this + 1 times RETRY_DOWNTIME_MS' })
  ejections!: number;
  @ApiProperty({ description: 'Why it was last ejected or marked busy; empty if never' })
  lastVerdict!: string;
  @ApiProperty()
  inFlight!: number;
  @ApiProperty({ description: 'Open WebSocket tunnels to it' })
  tunnels!: number;
  @ApiProperty({ description: 'Peak-EWMA time to response headers, ms' })
  ewmaLatencyMs!: number;
  @ApiProperty()
  requests!: number;
  @ApiProperty()
  failures!: number;
  @ApiProperty({ type: AttemptOutcomesDto, description: 'Attempts by outcome' })
  outcomes!: AttemptOutcomesDto;
  @ApiProperty({ description: 'Items it owns in the sticky table' })
  stickyItems!: number;
}

export class BalancerStatusDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'The cluster worker that answered (BALANCER_WORKERS > 1), else null; in-flight and counters are its own',
  })
  worker!: number | null;
  @ApiProperty({ enum: ['round-robin', 'least-latency'] })
  strategy!: string;
  @ApiProperty({ description: 'Every available backend is unready, so unready ones take traffic (panic floor)' })
  panic!: boolean;
  @ApiProperty({ type: [BackendStatusDto] })
  backends!: BackendStatusDto[];
  @ApiProperty({ description: 'Items with a recorded owner backend' })
  stickyItems!: number;
}

/** The balancer's own routes; every other path is proxied. */
@ApiTags('balancer')
@Controller('_balancer')
export class BalancerController {
  constructor(
    private readonly upstreams: Upstreams,
    private readonly sticky: StickyTable,
    private readonly tunnels: WebSocketTunnels,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly coordinator: ShutdownCoordinator,
    private readonly fleet: FleetSync,
  ) {}

  @Get('backends')
  @AdminOnly()
  @ApiOkResponse({ type: BalancerStatusDto })
  backends(): BalancerStatusDto {
    const now = Date.now();
    const pool = this.upstreams.pool;
    return {
      worker: this.fleet.workerId ?? null,
      strategy: pool.strategyName,
      panic: pool.inPanic(now),
      backends: pool.backends.map((backend) => {
        const ejected = backend.isEjected(now);
        return {
          url: backend.url,
          state: backend.state(now),
          healthy: backend.available(now) && backend.ready,
          ready: backend.ready,
          ejectedUntil: ejected ? new Date(backend.ejectedUntil).toISOString() : null,
          busyUntil: backend.isBusy(now) ? new Date(backend.busyUntil).toISOString() : null,
          halfOpen: backend.halfOpen,
          consecutive5xx: backend.consecutive5xx,
          ejections: backend.ejections,
          lastVerdict: backend.lastVerdict,
          inFlight: backend.inFlight,
          tunnels: this.tunnels.tunnelsTo(backend),
          ewmaLatencyMs: Math.round(backend.latency.ms * 100) / 100,
          requests: backend.requests,
          failures: backend.failures,
          outcomes: { ...backend.outcomes },
          stickyItems: this.sticky.ownedBy(backend.url),
        };
      }),
      stickyItems: this.sticky.size,
    };
  }

  /** 503 only while shutting down: with every backend down the balancer still answers fast 503s. */
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
