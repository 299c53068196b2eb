import { DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '../config/index.js';
import { statusPagesAt } from './status-pages.controller.js';
import { loadViewAssets } from './view-assets.js';

/** The live status pages: `/status` on a service, `/_balancer/status` on the balancer. */
@Module({})
export class ViewsModule {
  static forRoot(config: AppConfig): DynamicModule {
    const assets = loadViewAssets();
    const controller =
      config.role === 'balancer'
        ? statusPagesAt('_balancer/status', 'balancer.html', assets)
        : statusPagesAt('status', 'service.html', assets);
    return { module: ViewsModule, controllers: [controller] };
  }
}
