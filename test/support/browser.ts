import { describe } from '@jest/globals';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/**
 * The system Chromium for the live-view tests (`apt-get install chromium`; .ci/run installs
 * it). No browser is downloaded. Without one the suite is reported skipped with a loud line,
 * and under CI=true it fails instead, like the Redis suites.
 */
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export const chromiumPath = CANDIDATES.find((path): path is string => Boolean(path) && existsSync(path!));

/** Screenshots the tests take; git-ignored. */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/', import.meta.url));

export function launchChromium(): Promise<Browser> {
  if (!chromiumPath) throw new Error('Chromium not found: apt-get install chromium (or set CHROMIUM_PATH)');
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
}

export function describeWithBrowser(name: string, body: () => void): void {
  if (chromiumPath || process.env.CI === 'true') {
    describe(name, body);
    return;
  }
  process.stderr.write(`\n!!! Chromium not installed: "${name}" SKIPPED (apt-get install chromium, or set CHROMIUM_PATH) !!!\n`);
  describe.skip(name, body);
}
