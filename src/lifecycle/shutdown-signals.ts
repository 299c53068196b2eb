import type { INestApplication } from '@nestjs/common';
import { ShutdownCoordinator, type ShutdownOutcome } from './shutdown-coordinator.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Routes SIGTERM and SIGINT to the coordinator (instead of Nest's enableShutdownHooks,
 * which would close the server before readiness had a chance to fail) and exits
 * with the outcome's code.
 */
export function handleShutdownSignals(
  app: INestApplication,
  exit: (outcome: ShutdownOutcome) => void = (outcome) => process.exit(outcome.code),
): void {
  const coordinator = app.get(ShutdownCoordinator);
  for (const signal of SIGNALS) {
    process.on(signal, () => {
      void coordinator.shutdown(signal, () => app.close()).then(exit);
    });
  }
}
