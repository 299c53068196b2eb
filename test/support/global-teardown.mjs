// Jest global teardown: kills every process group a spec spawned and left running
// (a failed test, a start that timed out), so the run ends by itself and nothing outlives it.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';

export default function globalTeardown() {
  const path = process.env.BALLAST_E2E_SPAWNED;
  if (!path || !existsSync(path)) return;
  let killed = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const pid = Number(line);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(-pid, 'SIGKILL');
      killed += 1;
    } catch {
      // ESRCH: the group is gone already, the normal case.
    }
  }
  rmSync(dirname(path), { recursive: true, force: true });
  if (killed > 0) process.stderr.write(`\n!!! e2e teardown killed ${killed} process group(s) a suite left running !!!\n`);
}
