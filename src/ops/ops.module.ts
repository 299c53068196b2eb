import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GlobalExceptionFilter } from './global-exception.filter.js';
import { HttpMetricsHook } from './http-metrics.hook.js';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { AccessLog } from './access-log.js';
import { AdminAccess } from './admin-access.js';
import { AdminGuard } from './admin.guard.js';
import { FleetSync } from '../cluster/fleet-sync.js';
import { FaultInjector } from './fault-injector.js';
import { metricsControllerAt } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';

/** Cross-cutting operations: metrics, the access log, the exception filter, fault injection. Docs: app.factory. */
@Global()
@Module({})
export class OpsModule {
  static forRoot(config: AppConfig): DynamicModule {
    const balancer = config.role === 'balancer';
    return {
      module: OpsModule,
      controllers: [metricsControllerAt(balancer ? '_balancer/metrics' : 'metrics')],
      providers: [
        MetricsService,
        HttpMetricsHook,
        AccessLog,
        { provide: AdminAccess, useFactory: (appConfig: AppConfig) => new AdminAccess(appConfig.admin.token), inject: [APP_CONFIG] },
        AdminGuard,
        FleetSync,
        { provide: APP_FILTER, useClass: GlobalExceptionFilter },
        ...(balancer ? [] : [FaultInjector]),
      ],
      exports: [MetricsService, AccessLog, AdminAccess, AdminGuard, FleetSync],
    };
  }
}
