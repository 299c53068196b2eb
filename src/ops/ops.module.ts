import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GlobalExceptionFilter } from './global-exception.filter.js';
import { HttpMetricsHook } from './http-metrics.hook.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

/** Cross-cutting operations: metrics, the exception filter. Docs are set up in main. */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsHook, { provide: APP_FILTER, useClass: GlobalExceptionFilter }],
  exports: [MetricsService],
})
export class OpsModule {}
