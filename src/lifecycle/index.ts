export { IdleWaiters } from './idle-waiters.js';
export { LifecycleModule } from './lifecycle.module.js';
export { handleShutdownSignals } from './shutdown-signals.js';
export { DRAIN_ORDER, ShutdownCoordinator, type DrainStep, type ShutdownOutcome, type ShutdownPhase } from './shutdown-coordinator.js';
