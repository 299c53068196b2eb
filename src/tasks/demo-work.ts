import { setTimeout as sleep } from 'node:timers/promises';

const STEPS = 10;

/**
 * The demo processor (seed 004's 20-second task): works for `durationMs` in ten steps,
 * reporting progress after each, and returns a result.
 */
export async function doDemoWork(
  durationMs: number,
  payload: unknown,
  reportProgress: (percent: number) => Promise<void> | void,
): Promise<{ workedMs: number; payload: unknown }> {
  const started = Date.now();
  for (let step = 1; step <= STEPS; step += 1) {
    await sleep(durationMs / STEPS);
    await reportProgress((step * 100) / STEPS);
  }
  return { workedMs: Date.now() - started, payload: payload ?? null };
}
