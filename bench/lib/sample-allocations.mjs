// Preloaded (`node --import`) into a process under bench:profile or bench:profile-tasks: the
// first SIGUSR2 starts V8's sampling heap profiler, counting objects the garbage collector has
// since freed too (what --heap-prof leaves out: it keeps only what is alive at exit); the second
// writes the samples to BENCH_ALLOCATIONS_OUT. Bytes allocated per request do not move with the
// machine's noise the way CPU time does, so two builds or two apps compare to a few percent.
import { Session } from 'node:inspector';
import { renameSync, writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
let sampling = false;
process.on('SIGUSR2', () => {
  if (!sampling) {
    sampling = true;
    session.post('HeapProfiler.enable', () =>
      session.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      }),
    );
    return;
  }
  session.post('HeapProfiler.stopSampling', (error, result) => {
    // Renamed into place whole, so the bench never reads half a file.
    const out = process.env.BENCH_ALLOCATIONS_OUT;
    writeFileSync(`${out}.partial`, JSON.stringify(error ? { error: error.message } : result.profile));
    renameSync(`${out}.partial`, out);
  });
});
