// Jest global setup (plain ESM: jest loads it outside its transform). Creates the registry of
// spawned process groups (see spawned-registry.ts); workers inherit the environment variable.
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup() {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-e2e-'));
  appendFileSync(join(dir, 'spawned'), '');
  appendFileSync(join(dir, 'observed.jsonl'), '');
  process.env.BALLAST_E2E_SPAWNED = join(dir, 'spawned');
  // Statuses ballast answered during the run, for test/openapi.e2e-spec.ts (see http.ts).
  process.env.BALLAST_E2E_OBSERVED = join(dir, 'observed.jsonl');
}
