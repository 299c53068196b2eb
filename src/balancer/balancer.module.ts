import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { BackendHealthService } from './backend-health.service.js';
import { BalancerController } from './balancer.controller.js';
import { BalancerProxy } from './balancer-proxy.js';
import { BalancerStatus } from './balancer-status.js';
import { BalancerMetrics } from './balancer-metrics.js';
import { StickyTable } from './sticky-table.js';
import { Upstreams } from './upstreams.js';
import { WebSocketTunnels } from './websocket-tunnel.js';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [BalancerController],
  providers: [Upstreams, StickyTable, BalancerMetrics, BalancerProxy, BalancerStatus, BackendHealthService, WebSocketTunnels],
  exports: [BalancerProxy, WebSocketTunnels],
})
export class BalancerModule {}
