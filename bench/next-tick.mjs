// bench:next-tick — the state V8 leaves Node's own process.nextTick in, per process, ballast's
// balancer beside the bare undici proxy (and, as bench:overload does, another build with
// NEXT_TICK_BASELINE=path/to/other/dist/main.js). Node 20's nextTick builds each tick object with a
// literal whose first keys are computed (`{ [async_id_symbol]: …, [trigger_async_id_symbol]: …,
// callback, args }`); V8 defines those properties through feedback slots that jump from
// monomorphic straight to megamorphic when they see a second map. Megamorphic, TurboFan's
// nextTick calls the runtime to define each of those properties of every tick object: 2.8-4.7%
// of the balancer's busy CPU, where it is under 1% with the slots monomorphic. The slots hold
// their maps weakly: a full GC during boot while no tick object was alive freed them, and left
// most balancer processes megamorphic until src/ops/tick-object-shape.ts held one such object
// for the process's life (docs/benchmarks.md, "nextTick in ballast's processes"). This bench
// watches that it stays so.
// Each process is loaded (autocannon, GET /ping over 4 bare backends) for NEXT_TICK_SECONDS (4),
// then its nextTick feedback is printed; NEXT_TICK_PROCESSES (6) of each.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NEXT_TICK_PROBE_FLAGS as PROBE, probeNextTick, withStdoutFile } from '../test/support/next-tick-probe.mjs';
import { untilAnswers } from '../test/support/spawn.mjs';
import { freePort, load, MAIN, serviceEnv } from './lib/harness.mjs';

const PROCESSES = Number(process.env.NEXT_TICK_PROCESSES ?? 6);
const SECONDS = Number(process.env.NEXT_TICK_SECONDS ?? 4);
const BASELINE = process.env.NEXT_TICK_BASELINE;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));

async function probe(start) {
  const port = await freePort();
  const { child, path } = withStdoutFile((out) => start(port, ['ignore', out, 'inherit', 'ipc']));
  try {
    await untilAnswers(`http://127.0.0.1:${port}/ping`);
    await load(`http://127.0.0.1:${port}/ping`, { connections: 50, durationSeconds: SECONDS });
    return await probeNextTick(child, path);
  } finally {
    child.kill('SIGKILL');
  }
}

const backendPorts = await Promise.all([1, 2, 3, 4].map(() => freePort()));
const backends = fork(here('./peers/bare-backends.mjs'), backendPorts.map(String), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
try {
  await once(backends, 'message');
  const backendUrls = backendPorts.map((port) => `http://127.0.0.1:${port}`);
  const balancer = (main) => (port, stdio) =>
    spawn(process.execPath, [...PROBE, main], {
      env: serviceEnv(port, { ROLE: 'balancer', BACKENDS: backendUrls.join(',') }),
      stdio,
    });
  const fronts = {
    'bare undici proxy': (port, stdio) =>
      fork(here('./peers/undici-proxy.mjs'), [String(port), ...backendUrls], { execArgv: PROBE, stdio }),
    'ballast balancer': balancer(MAIN),
    ...(BASELINE && { 'baseline build': balancer(BASELINE) }),
  };
  const megamorphic = Object.fromEntries(Object.keys(fronts).map((name) => [name, 0]));
  const rows = [];
  for (let i = 0; i < PROCESSES; i += 1) {
    for (const [name, start] of Object.entries(fronts)) {
      const states = await probe(start);
      if (states.includes('MEGAMORPHIC')) megamorphic[name] += 1;
      rows.push({ process: i + 1, front: name, 'tick literal slots': states.join(' ') });
    }
  }
  console.log(`Node ${process.version}: nextTick's tick object literal, its keyed define slots after ${SECONDS} s of GET /ping`);
  console.table(rows);
  console.log(
    `summary: processes whose nextTick defines tick objects through the runtime (a megamorphic slot): ${Object.entries(megamorphic)
      .map(([name, count]) => `${name} ${count} of ${PROCESSES}`)
      .join(', ')}`,
  );
} finally {
  backends.kill('SIGKILL');
}
