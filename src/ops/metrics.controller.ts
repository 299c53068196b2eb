import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from './admin.guard.js';
import { MetricsService } from './metrics.service.js';

/** Prometheus scrape endpoint: `/metrics`, or `/_balancer/metrics` on the balancer. */
export function metricsControllerAt(path: string) {
  @ApiTags('ops')
  @AdminOnly()
  @Controller(path)
  class MetricsController {
    constructor(private readonly metrics: MetricsService) {}

    @Get()
    @ApiOperation({ summary: 'Prometheus metrics in text exposition format' })
    @ApiProduces('text/plain')
    @ApiOkResponse({ description: 'Prometheus text', schema: { type: 'string' } })
    @Header('cache-control', 'no-store')
    async scrape(@Res() reply: FastifyReply): Promise<void> {
      const text = await this.metrics.render();
      await reply.type(this.metrics.contentType).send(text);
    }
  }
  return MetricsController;
}
