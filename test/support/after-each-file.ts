import { afterEach, beforeEach } from '@jest/globals';
import { enterTest, leaveTest } from './app.js';

// Around every e2e test: whatever in-process app the test started and did not close (a failed
// assertion skipped its close) is closed right after it, before the suite's afterAll stops the
// Redis it talks to. Processes are the ProcessSet's and the global teardown's job.
beforeEach(() => enterTest());
afterEach(async () => {
  const closed = await leaveTest();
  if (closed > 0) process.stderr.write(`\n!!! closed ${closed} in-process app(s) a test left open !!!\n`);
});
