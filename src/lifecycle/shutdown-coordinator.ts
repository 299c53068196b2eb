import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppConfig } from '../config/index.js';
import { InjectConfig } from '../config/index.js';

/** One module's part of a graceful shutdown, run after new work stops being accepted. */
export interface DrainStep {
  readonly name: string;
  /** Lower runs first. Tasks and sockets drain before in-flight HTTP (see DRAIN_ORDER). */
  readonly order: number;
  run(): Promise<void>;
  /** What is still open, for the log line when the grace period runs out. */
  pending?(): string | undefined;
}

export const DRAIN_ORDER = {
  tasks: 10,
  sockets: 20,
  http: 100,
  /** The balancer's WebSocket tunnels: up while HTTP drains, then closed 1001. */
  tunnels: 110,
} as const;

export type ShutdownPhase = 'running' | 'delaying' | 'draining' | 'closing' | 'stopped';

export interface ShutdownOutcome {
  readonly code: 0 | 1;
  readonly reason: 'drained' | 'grace_expired' | 'failed';
  /** What was still open when the grace period ran out. */
  readonly open: readonly string[];
}

/**
 * The single source of truth for "are we accepting new work", and the order of a
 * graceful shutdown: (1) stop accepting, so readiness fails at once; (2) wait
 * SHUTDOWN_DELAY_MS so endpoints drop this instance; (3) run the drain steps in
 * order; (4) close the server. All bounded by SHUTDOWN_GRACE_MS.
 */
@Injectable()
export class ShutdownCoordinator {
  private readonly logger = new Logger('Shutdown');
  private currentPhase: ShutdownPhase = 'running';
  private readonly stopListeners: (() => void)[] = [];
  private readonly steps: DrainStep[] = [];
  private running?: Promise<ShutdownOutcome>;
  private currentStep?: string;
  private readonly delayMs: number;
  private readonly graceMs: number;

  constructor(@InjectConfig() config: AppConfig) {
    this.delayMs = config.shutdown.delayMs;
    this.graceMs = config.shutdown.graceMs;
  }

  get accepting(): boolean {
    return this.currentPhase === 'running';
  }

  get phase(): ShutdownPhase {
    return this.currentPhase;
  }

  /** Called synchronously the moment shutdown starts. */
  onStopAccepting(listener: () => void): void {
    this.stopListeners.push(listener);
  }

  registerDrainStep(step: DrainStep): void {
    this.steps.push(step);
    this.steps.sort((a, b) => a.order - b.order);
  }

  /**
   * Starts the shutdown once; later calls (a second signal) get the same outcome
   * instead of a second shutdown. `closeServer` closes the HTTP server and the app.
   */
  shutdown(trigger: string, closeServer: () => Promise<void>): Promise<ShutdownOutcome> {
    if (this.running) {
      this.logger.warn(`${trigger} received while already shutting down (${this.currentPhase}); ignored`);
      return this.running;
    }
    this.logger.log(`${trigger} received: no longer accepting new work`);
    this.currentPhase = 'delaying';
    for (const listener of this.stopListeners) listener();
    this.running = this.runBounded(closeServer);
    return this.running;
  }

  private async runBounded(closeServer: () => Promise<void>): Promise<ShutdownOutcome> {
    const grace = new AbortController();
    const expired = sleep(this.graceMs, 'expired' as const, { signal: grace.signal }).catch(() => 'cancelled' as const);
    try {
      const result = await Promise.race([this.sequence(closeServer).then(() => 'drained' as const), expired]);
      if (result === 'drained') {
        this.logger.log('shutdown complete');
        return { code: 0, reason: 'drained', open: [] };
      }
      const open = this.describeOpen();
      this.logger.error(
        `grace period of ${this.graceMs} ms expired in phase ${this.currentPhase}; still open: ${open.join('; ') || 'nothing reported'}`,
      );
      return { code: 1, reason: 'grace_expired', open };
    } catch (error) {
      this.logger.error(`shutdown failed in phase ${this.currentPhase}: ${(error as Error).stack ?? String(error)}`);
      return { code: 1, reason: 'failed', open: this.describeOpen() };
    } finally {
      grace.abort();
    }
  }

  private async sequence(closeServer: () => Promise<void>): Promise<void> {
    if (this.delayMs > 0) {
      this.logger.log(`waiting ${this.delayMs} ms for endpoints to drop this instance`);
      await sleep(this.delayMs);
    }
    this.currentPhase = 'draining';
    for (const step of this.steps) {
      this.logger.log(`draining ${step.name}`);
      this.currentStep = step.name;
      await step.run();
    }
    this.currentStep = undefined;
    this.currentPhase = 'closing';
    this.logger.log('closing the HTTP server and connections');
    await closeServer();
    this.currentPhase = 'stopped';
  }

  private describeOpen(): string[] {
    const open: string[] = [];
    if (this.currentPhase === 'closing') open.push('closing: the HTTP server, module shutdown hooks and their connections');
    if (this.currentStep) open.push(`waiting on drain step "${this.currentStep}"`);
    for (const step of this.steps) {
      const pending = step.pending?.();
      if (pending) open.push(`${step.name}: ${pending}`);
    }
    return open;
  }
}
