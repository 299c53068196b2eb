import 'reflect-metadata';
import cluster from 'node:cluster';
import { createApp } from './app.factory.js';
import { runBalancerPrimary } from './cluster/balancer-primary.js';
import { createRootLogger } from './ops/logger.js';
import { ConfigError, loadConfig, type AppConfig } from './config/index.js';
import { handleShutdownSignals } from './lifecycle/index.js';
import { startTracing } from './ops/tracing.js';
import { holdTickObjectShape } from './ops/tick-object-shape.js';

function configOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function bootstrap(): Promise<void> {
  holdTickObjectShape();
  const config = configOrExit();
  if (config.role === 'balancer' && config.balancer.workers > 1 && cluster.isPrimary) {
    runBalancerPrimary(config, createRootLogger(config.logLevel).child({ context: 'Cluster' }));
    return;
  }
  const stopTracing = await startTracing(config.tracing);
  const app = await createApp(config);
  handleShutdownSignals(app, (outcome) => {
    void stopTracing().finally(() => process.exit(outcome.code));
  });
  await app.listen(config.http.port, config.http.host);
}

await bootstrap();
