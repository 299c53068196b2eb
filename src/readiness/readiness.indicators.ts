import { Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { INSTANCE_INFO } from '../ops/instance-info.js';
import { RedisHealth } from '../redis/redis-health.js';
import { ClientTracker } from './client-tracker.js';

/**
 * The indicators behind /ready. Each reports up or down; none throws for an expected
 * unhealthy state (cooldown, shutdown, Redis away).
 */
@Injectable()
export class ReadinessIndicators {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly tracker: ClientTracker,
    private readonly coordinator: ShutdownCoordinator,
    @Optional() private readonly redis?: RedisHealth,
  ) {}

  load(): HealthIndicatorResult<'load'> {
    const { clients, cooldown, ready, minClients, maxClients } = this.tracker.snapshot();
    const details = { hostname: INSTANCE_INFO.hostname, clients, cooldown, minClients, maxClients };
    const indicator = this.health.check('load');
    return ready ? indicator.up(details) : indicator.down(details);
  }

  shutdown(): HealthIndicatorResult<'shutdown'> {
    const indicator = this.health.check('shutdown');
    const details = { accepting: this.coordinator.accepting, phase: this.coordinator.phase };
    return this.coordinator.accepting ? indicator.up(details) : indicator.down(details);
  }

  /**
   * Only when REDIS_URL is set: the shared client's connection state (no round trip), why it
   * is away, and whether Redis would keep accepted tasks across a restart.
   */
  redisConnection(): HealthIndicatorResult<'redis'> | undefined {
    if (!this.redis) return undefined;
    const indicator = this.health.check('redis');
    const details = this.redis.details();
    return this.redis.reachable ? indicator.up(details) : indicator.down(details);
  }

  /** Liveness: the event loop ran this, so the process can serve. */
  process(): HealthIndicatorResult<'process'> {
    return this.health.check('process').up({ pid: process.pid, uptimeSeconds: Math.round(process.uptime()) });
  }

  readinessChecks(): (() => HealthIndicatorResult)[] {
    const checks: (() => HealthIndicatorResult)[] = [() => this.load(), () => this.shutdown()];
    if (this.redis) checks.push(() => this.redisConnection()!);
    return checks;
  }
}
