import { DynamicModule, Global, Inject, Module } from '@nestjs/common';
import { AppConfig } from './app-config.js';
import { APP_CONFIG } from './config.constants.js';

/** Makes the boot-time `AppConfig` injectable everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}

export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);
