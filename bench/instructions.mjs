// bench:instructions — machine instructions per proxied GET /ping, ballast's balancer against
// the bare undici Pool.stream proxy, counted by valgrind's callgrind over the same 4 bare
// backends. req/s and CPU time on these machines swing 0.64-1.59x between rounds of the same
// two fronts (bench:balancer); an instruction count does not depend on what else the machine
// does, so it shows whether the two do the same work per request where req/s cannot.
//
// Each front runs twice under callgrind, both after the same warm-up: once for SHORT more
// requests, once for LONG more. The difference of the two totals over LONG - SHORT requests is
// the cost per request, free of start-up and module loading. Not quite of JIT compilation:
// after a 2000-request warm-up V8's compiler and parser topped ballast's difference, and after
// 15000 it still does some (the summary gives the ratio without it). Every thread counts (V8's
// GC and compiler threads too).
// INSTR_CACHE_SIM=1 also simulates the caches (about twice as slow): level-1 data and last-level
// misses per request, the part of cost that instructions leave out.
// The four runs go in parallel: contention changes how long they take, not what they count.
import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { untilAnswers } from '../test/support/spawn.mjs';
import { freePort, MAIN, printSummary } from './lib/harness.mjs';

const warmUp = Number(process.env.INSTR_WARM_UP ?? 15_000);
const short = Number(process.env.INSTR_SHORT ?? 3_000);
const long = Number(process.env.INSTR_LONG ?? 12_000);
const connections = Number(process.env.INSTR_CONNECTIONS ?? 8);
const cacheSim = process.env.INSTR_CACHE_SIM === '1';
/** The directory of an earlier run's callgrind files (its first line names it): read them again instead of measuring. */
const earlier = process.env.INSTR_FROM;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));

try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  console.error('bench:instructions needs valgrind (apt-get install valgrind)');
  process.exit(1);
}

const cleanups = [];
let resent = 0;
const outDir = earlier ?? mkdtempSync(join(tmpdir(), 'ballast-callgrind-'));
if (!earlier) console.log(`callgrind files in ${outDir}`);

/** Starts `front` under callgrind, sends warmUp + extra requests, stops it; its event totals. */
async function countedRun(front, backendUrls, extra) {
  const port = await freePort();
  const outFile = join(outDir, `${front}.${extra}.out`);
  const valgrind = ['--tool=callgrind', `--callgrind-out-file=${outFile}`, ...(cacheSim ? ['--cache-sim=yes'] : [])];
  const program = front === 'bare undici proxy' ? [here('./peers/undici-proxy.mjs'), String(port), ...backendUrls] : [MAIN];
  const child = spawn('valgrind', [...valgrind, process.execPath, ...program], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ACCESS_LOG: 'off',
      ROLE: 'balancer',
      BACKENDS: backendUrls.join(','),
      // Work driven by the clock, not by requests, is counted too, and under valgrind a second
      // holds 20-50x fewer requests: /ready checks every 2 s made ballast's count 154k per
      // request in one run and 389k in the next. With one check an hour, what is left of that
      // is the event-loop delay monitor behind the Prometheus default metrics.
      HEALTH_CHECK_INTERVAL_MS: String(60 * 60_000),
    },
    stdio: 'ignore',
  });
  cleanups.push(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}/ping`;
  const agent = new Agent({ connections });
  try {
    // Under valgrind a start takes a minute or more.
    await untilAnswers(url, { timeoutMs: 600_000, exited: () => child.exitCode !== null });
    await send(url, agent, warmUp);
    resent += await send(url, agent, extra);
  } finally {
    await agent.close();
  }
  // Both fronts exit on SIGTERM (ballast after draining), and callgrind writes its totals then.
  child.kill('SIGTERM');
  await once(child, 'exit');
  return counted(outFile);
}

/** A run's totals, and its instructions by kind. */
function counted(outFile) {
  return { ...totals(readFileSync(outFile, 'utf8')), ...instructionsByKind(outFile) };
}

/**
 * `count` requests over `connections` connections, each answered 200 (any other status stops the
 * bench). A request that meets a closed connection is sent again: under valgrind, everything 20-50x
 * slower, a keep-alive connection can close as the next request goes out on it. Resolves with
 * how many were sent again (a few, against thousands counted).
 */
async function send(url, agent, count) {
  let left = count;
  let sentAgain = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (left > 0) {
        left -= 1;
        for (let tries = 1; ; tries += 1) {
          try {
            const response = await request(url, { dispatcher: agent });
            await response.body.dump();
            if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
            break;
          } catch (error) {
            if (error.code !== 'UND_ERR_SOCKET' || tries === 3) throw error;
            sentAgain += 1;
          }
        }
      }
    }),
  );
  return sentAgain;
}

/** Where V8 and Node spend instructions, by the function names callgrind_annotate prints. */
const KINDS = [
  ['JIT-compiled JavaScript', (name) => name.startsWith('???:0x')],
  ['V8 builtins', (name) => name.startsWith('???:Builtins_')],
  ['V8 optimizing compiler', (name) => /compiler::|maglev|turbofan/i.test(name)],
  ['V8 garbage collector', (name) => /Scaveng|Marking|Sweeper|MarkCompact|Evacuat|heap::|Heap::/.test(name)],
];

/** Instructions by kind (KINDS, else "the rest": Node's C++, libuv, libc, the kernel interface). */
function instructionsByKind(outFile) {
  const text = execFileSync('callgrind_annotate', ['--threshold=100', outFile], { maxBuffer: 256 * 1024 * 1024 }).toString();
  const byKind = Object.fromEntries([...KINDS.map(([kind]) => [kind, 0]), ['the rest', 0]]);
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+) +\(\s*[\d.]+%\) +(.+)$/.exec(line);
    if (!match || match[2].includes('PROGRAM TOTALS')) continue;
    const count = Number(match[1].replaceAll(',', ''));
    const kind = KINDS.find(([, test]) => test(match[2]))?.[0] ?? 'the rest';
    byKind[kind] += count;
  }
  return byKind;
}

/** 4 bare backends in one process; their URLs. */
async function startBackends() {
  const ports = await Promise.all([1, 2, 3, 4].map(() => freePort()));
  const backends = fork(here('./peers/bare-backends.mjs'), ports.map(String), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  cleanups.push(() => backends.kill('SIGKILL'));
  await once(backends, 'message');
  return ports.map((port) => `http://127.0.0.1:${port}`);
}

/** callgrind's event names and the program's totals of each. */
function totals(text) {
  const events = /^events: (.+)$/m.exec(text)[1].trim().split(/\s+/);
  const values = /^(?:summary|totals): (.+)$/m.exec(text)[1].trim().split(/\s+/).map(Number);
  return Object.fromEntries(events.map((event, index) => [event, values[index] ?? 0]));
}

try {
  const backendUrls = earlier ? [] : await startBackends();
  const fronts = ['bare undici proxy', 'ballast balancer'];
  const started = Date.now();
  const runs = await Promise.all(
    fronts.flatMap((front) =>
      [short, long].map(async (extra) => ({
        front,
        extra,
        counts: earlier ? counted(join(earlier, `${front}.${extra}.out`)) : await countedRun(front, backendUrls, extra),
      })),
    ),
  );
  const perRequest = Object.fromEntries(
    fronts.map((front) => {
      const [a, b] = runs.filter((run) => run.front === front).sort((x, y) => x.extra - y.extra);
      const events = Object.keys(a.counts);
      return [front, Object.fromEntries(events.map((event) => [event, (b.counts[event] - a.counts[event]) / (b.extra - a.extra)]))];
    }),
  );
  console.log(
    `GET /ping, ${connections} connections, callgrind: after ${warmUp} warm-up requests, (total at +${long} - total at +${short}) / ${long - short}` +
      ` (${Math.round((Date.now() - started) / 1000)} s)`,
  );
  const kinds = [...KINDS.map(([kind]) => kind), 'the rest'];
  const shown = {
    Ir: 'instructions',
    ...Object.fromEntries(kinds.map((kind) => [kind, `  ${kind}`])),
    D1mr: 'L1 data read misses',
    D1mw: 'L1 data write misses',
    DLmr: 'LL data read misses',
    DLmw: 'LL data write misses',
  };
  const rows = Object.fromEntries(
    Object.entries(shown)
      .filter(([event]) => event in perRequest[fronts[0]])
      .map(([event, label]) => [
        `${label} per request`,
        Object.fromEntries(fronts.map((front) => [front, Math.round(perRequest[front][event])])),
      ]),
  );
  console.table(rows);
  if (resent > 0) console.log(`${resent} requests met a closing keep-alive connection and were sent again`);
  const ours = perRequest['ballast balancer'];
  const theirs = perRequest['bare undici proxy'];
  const compiler = 'V8 optimizing compiler';
  const collector = 'V8 garbage collector';
  // Under valgrind V8 still compiles after the warm-up, far more per request than at full speed
  // (where --trace-opt shows next to none after 10 s); and a major collection or a burst of
  // compiling lands in one of the two runs or the other (negative per request, once): the
  // ratio without those parts too. Measured spread of that steady part over runs: the bare
  // proxy's 146k-155k per request.
  const without = (parts) => {
    const rest = (counts) => counts.Ir - parts.reduce((sum, part) => sum + counts[part], 0);
    return (rest(ours) / rest(theirs)).toFixed(3);
  };
  printSummary(
    `instructions per request, ballast / bare undici proxy: ${(ours.Ir / theirs.Ir).toFixed(3)}x, ` +
      `${without([compiler])}x without V8's optimizing compiler, ${without([compiler, collector])}x without it and the collector (goal <= 1.0)`,
  );
} finally {
  for (const cleanup of cleanups.reverse()) cleanup();
}
