// The parent's side of next-tick-feedback.mjs, for bench:next-tick and the e2e spec: the flags
// that preload it, a file for the child's stdout, and the states read back.
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Node flags that preload the probe into a child. */
export const NEXT_TICK_PROBE_FLAGS = [
  '--allow-natives-syntax',
  '--import',
  fileURLToPath(new URL('./next-tick-feedback.mjs', import.meta.url)),
];

/** The states of the tick object literal's define slots, in order, in a %DebugPrint of process.nextTick. */
export const literalSlotStates = (printed) =>
  [...printed.matchAll(/slot #\d+ DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((match) => match[1]);

/**
 * A file for the child's stdout, open for `start(fd)` to hand to spawn's stdio and closed here
 * after: %DebugPrint writes a few hundred lines at once, and to a pipe the parent had not
 * drained yet the write failed with EAGAIN.
 */
export function withStdoutFile(start) {
  const path = join(mkdtempSync(join(tmpdir(), 'ballast-next-tick-')), 'out.txt');
  const fd = openSync(path, 'w');
  try {
    return { child: start(fd), path };
  } finally {
    closeSync(fd);
  }
}

/** Asks a child started with NEXT_TICK_PROBE_FLAGS for nextTick's feedback; its slot states. */
export async function probeNextTick(child, stdoutPath) {
  // Its own answer, not a message it sent earlier (the bare proxy says 'ready' once it listens).
  const probed = new Promise((resolve) => child.on('message', (message) => message === 'probed' && resolve()));
  child.send('probe');
  await probed;
  const out = readFileSync(stdoutPath, 'utf8');
  return literalSlotStates(out.slice(out.indexOf('NEXT-TICK-FEEDBACK-BEGIN'), out.indexOf('NEXT-TICK-FEEDBACK-END')));
}
