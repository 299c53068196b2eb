import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { pino } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from '../../src/app.factory.js';
import { loadConfig, type AppConfig } from '../../src/config/index.js';

export interface RunningApp {
  readonly app: NestFastifyApplication;
  readonly config: AppConfig;
  readonly baseUrl: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Apps started inside a test (not a beforeAll) and not closed yet: see closeAppsOfTest. */
const openInTest = new Set<RunningApp>();
let insideTest = false;

/** The real application on a free 127.0.0.1 port, built from env like production. */
export async function startApp(env: Record<string, string | undefined> = {}, options: { modules?: Type[] } = {}): Promise<RunningApp> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'silent', ACCESS_LOG: 'off', ...env });
  const app = await createApp(config, { logger: pino({ level: env.LOG_LEVEL ?? 'silent' }), modules: options.modules });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('app has no TCP address');
  const running: RunningApp = {
    app,
    config,
    port: address.port,
    baseUrl: `http://127.0.0.1:${address.port}`,
    close: async () => {
      if (closing) return closing;
      openInTest.delete(running);
      closing = app.close();
      return closing;
    },
  };
  let closing: Promise<void> | undefined;
  if (insideTest) openInTest.add(running);
  return running;
}

/** Called by test/support/after-each-file.ts around every e2e test. */
export function enterTest(): void {
  insideTest = true;
}

/**
 * Closes the apps a test started and left open (a failed assertion skipped its own close),
 * each bounded, while what they depend on (a suite's Redis) is still up, so sockets and Redis
 * connections cannot keep jest alive. Apps started in beforeAll are their afterAll's to close.
 */
export async function leaveTest(): Promise<number> {
  insideTest = false;
  const leftovers = [...openInTest];
  await Promise.all(
    leftovers.map((running) => Promise.race([running.close().catch(() => undefined), sleep(5_000, undefined, { ref: false })])),
  );
  return leftovers.length;
}
