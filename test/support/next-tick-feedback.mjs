// Preloaded (--import, with --allow-natives-syntax) by bench:next-tick and
// test/tick-object-shape.e2e-spec.ts: when the parent sends 'probe', prints the feedback vector
// of Node's process.nextTick (V8's %DebugPrint, on stdout) between two markers, so the parent
// can read the state of the tick object literal's slots.
// The markers are written straight to fd 1, in order with %DebugPrint's own writes.
import { writeSync } from 'node:fs';

// V8's intrinsics parse only with --allow-natives-syntax: compiled here, not in this file's own source.
const debugPrint = new Function('value', '%DebugPrint(value)');

process.on('message', (message) => {
  if (message !== 'probe') return;
  writeSync(1, 'NEXT-TICK-FEEDBACK-BEGIN\n');
  debugPrint(process.nextTick);
  writeSync(1, 'NEXT-TICK-FEEDBACK-END\n');
  process.send('probed');
});
