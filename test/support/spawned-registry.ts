import { appendFileSync } from 'node:fs';

/**
 * The file listing the process groups this e2e run spawned: `global-setup.mjs` creates it and
 * exports its path here; specs (in whatever worker) append to it; `global-teardown.mjs` kills
 * every group still alive, so a failing test cannot leave servers behind that keep jest, or
 * the machine, busy.
 */
export const REGISTRY_ENV = 'BALLAST_E2E_SPAWNED';

export function registerSpawned(pid: number): void {
  const path = process.env[REGISTRY_ENV];
  if (path) appendFileSync(path, `${pid}\n`);
}
