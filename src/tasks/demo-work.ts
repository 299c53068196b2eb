import { setTimeout as sleep } from 'node:timers/promises';

const STEPS = 10;

/**
 * The demo processor (seed 004's 20-second task): works for `durationMs` in ten steps,
 * reporting progress after each, and returns a result. Stops at once when `signal` aborts.
 */
export async function doDemoWork(
  durationMs: number,
  payload: unknown,
  reportProgress: (percent: number) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<{ workedMs: number; payload: unknown }> {
  const started = Date.now();
  // Zero-length work has no progress worth ten reports: one, at the end.
  const steps = durationMs > 0 ? STEPS : 1;
  for (let step = 1; step <= steps; step += 1) {
    if (durationMs > 0) await sleep(durationMs / steps, undefined, { signal });
    await reportProgress((step * 100) / steps);
  }
  return { workedMs: Date.now() - started, payload: payload ?? null };
}
