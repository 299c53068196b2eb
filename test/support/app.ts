import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { pino } from 'pino';
import { createApp } from '../../src/app.factory.js';
import { loadConfig, type AppConfig } from '../../src/config/index.js';

export interface RunningApp {
  readonly app: NestFastifyApplication;
  readonly config: AppConfig;
  readonly baseUrl: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The real application on a free 127.0.0.1 port, built from env like production. */
export async function startApp(env: Record<string, string | undefined> = {}): Promise<RunningApp> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', ...env });
  const app = await createApp(config, { logger: pino({ level: env.LOG_LEVEL ?? 'silent' }) });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('app has no TCP address');
  return {
    app,
    config,
    port: address.port,
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: () => app.close(),
  };
}
