// bench:instructions — machine instructions per proxied GET /ping, ballast's balancer against
// two peers, counted by valgrind's callgrind over the same 4 bare backends: the bare undici
// Pool.stream proxy, and the same proxy doing the contract's per-request header work with
// ballast's functions (peers/contract-proxy.mjs). req/s and CPU time on these machines swing
// 0.64-1.59x between rounds of the same two fronts (bench:balancer); an instruction count does
// not depend on what else the machine does, so it shows whether they do the same work per
// request where req/s cannot.
//
// Each front runs in PROCESSES processes under callgrind: a warm-up, then WINDOWS windows of
// WINDOW requests, with a callgrind dump (callgrind_control, which also zeroes the counts) before
// and after each, so each window's file holds that window's work alone, free of start-up and
// module loading. V8's compiling and collecting come in lumps that land in one window or another
// (a major collection, a function deoptimized and compiled again): each process is read by its
// median window, and also by its steady part (without what runs under V8's compiler and
// collector entry points). Processes of one front can differ throughout (V8 left Node's
// process.nextTick unoptimized in some, under valgrind): the summary compares the lowest
// process with the lowest and the highest with the highest. Every thread counts (V8's GC and
// compiler threads too).
// INSTR_CACHE_SIM=1 also simulates the caches (about twice as slow): level-1 data and last-level
// misses per request, the part of cost that instructions leave out.
// The fronts run in parallel: contention changes how long they take, not what they count.
import { execFile, execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { untilAnswers } from '../test/support/spawn.mjs';
import { freePort, MAIN, median, printSummary, serviceEnv } from './lib/harness.mjs';

const warmUp = Number(process.env.INSTR_WARM_UP ?? 15_000);
const windows = Number(process.env.INSTR_WINDOWS ?? 5);
const windowRequests = Number(process.env.INSTR_WINDOW ?? 3_000);
const processes = Number(process.env.INSTR_PROCESSES ?? 2);
const connections = Number(process.env.INSTR_CONNECTIONS ?? 8);
const cacheSim = process.env.INSTR_CACHE_SIM === '1';
// V8 compiles optimized code on a helper thread, and valgrind runs one thread at a time, so
// optimized code can arrive thousands of requests later than at full speed; compiling on the
// main thread when V8 asks keeps that closer (the compiling is counted apart, in the V8
// compiler row). It did not prevent the slow kind of process (LITERAL_SLOW_PATH below).
const nodeFlags = (process.env.INSTR_NODE_FLAGS ?? '--no-concurrent-recompilation').split(' ').filter(Boolean);
/** The directory of an earlier run's callgrind files (its first line names it): read them again instead of measuring. */
const earlier = process.env.INSTR_FROM;
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
/** The fronts that are not ballast, and their programs. */
const PEERS = {
  'bare undici proxy': './peers/undici-proxy.mjs',
  // The same, plus the contract's per-request header work (by ballast's own functions).
  'header-adding proxy': './peers/contract-proxy.mjs',
};

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

/** callgrind's file of a front's process's window (1-based; dump 1 holds start-up and the warm-up). */
const windowFile = (dir, run, window) => join(dir, `${run}.out.${window + 1}`);
/** A front's process: its name in the files and the table. */
const runName = (front, index) => `${front} #${index + 1}`;

/** Starts `front` under callgrind, warms it up, sends `windows` windows of requests with a dump after each, stops it. */
async function countedRun(front, index, backendUrls) {
  const port = await freePort();
  const outFile = join(outDir, `${runName(front, index)}.out`);
  const valgrind = ['--tool=callgrind', `--callgrind-out-file=${outFile}`, ...(cacheSim ? ['--cache-sim=yes'] : [])];
  const peer = PEERS[front];
  const program = peer ? [here(peer), String(port), ...backendUrls] : [MAIN];
  const child = spawn('valgrind', [...valgrind, process.execPath, ...nodeFlags, ...program], {
    env: serviceEnv(port, {
      ROLE: 'balancer',
      BACKENDS: backendUrls.join(','),
      // Work driven by the clock, not by requests, is counted too, and under valgrind a second
      // holds 20-50x fewer requests: /ready checks every 2 s made ballast's count 154k per
      // request in one run and 389k in the next. With one check an hour, what is left of that
      // is the event-loop delay monitor behind the Prometheus default metrics.
      HEALTH_CHECK_INTERVAL_MS: String(60 * 60_000),
    }),
    stdio: 'ignore',
  });
  cleanups.push(() => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}/ping`;
  const agent = new Agent({ connections });
  // A dump waits until valgrind polls for commands, which it does while the program runs.
  let dumps = 0;
  const dump = async (label) => {
    // valgrind names its command pipe after $USER and $HOST, which callgrind_control must see the same.
    const env = { ...process.env, HOST: '127.0.0.1' };
    await promisify(execFile)('callgrind_control', [`--dump=${label}`, String(child.pid)], { timeout: 600_000, env });
    // callgrind_control exits 0 also when it found no pipe to send the command down.
    dumps += 1;
    if (!existsSync(`${outFile}.${dumps}`)) throw new Error(`callgrind_control wrote no ${outFile}.${dumps}`);
  };
  try {
    // Under valgrind a start takes a minute or more.
    await untilAnswers(url, { timeoutMs: 600_000, exited: () => child.exitCode !== null });
    await send(url, agent, warmUp);
    await dump('warm-up');
    for (let window = 1; window <= windows; window += 1) {
      resent += await send(url, agent, windowRequests);
      await dump(`window ${window}`);
    }
  } finally {
    await agent.close();
  }
  // Both fronts exit on SIGTERM (ballast after draining); the last file (what came after) is not read.
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** A run's totals, and its instructions by kind. */
function counted(outFile) {
  const events = totals(readFileSync(outFile, 'utf8'));
  // callgrind_annotate takes seconds per file: each view is read once.
  const self = annotated(outFile, false);
  const byKind = instructionsByKind(self, annotated(outFile, true));
  const rest = events.Ir - Object.values(byKind).reduce((sum, count) => sum + count, 0);
  const literalSlowPath = self.filter(([, name]) => LITERAL_SLOW_PATH.test(name)).reduce((sum, [count]) => sum + count, 0);
  return { ...events, ...byKind, 'the rest': rest, literalSlowPath };
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

/** Code that runs per request, by the function names callgrind_annotate prints (its own cost). */
const SELF_KINDS = [
  // Code V8 generated has no object file ([???]); an address in one (ld.so's) is not JavaScript.
  ['JIT-compiled JavaScript', (name) => name.startsWith('???:0x') && name.endsWith('[???]')],
  ['V8 builtins', (name) => name.startsWith('???:Builtins_')],
];
/**
 * Work that comes in lumps, by the entry points it runs under (their inclusive cost, so the
 * malloc, memcpy and visitors below them count too): V8 compiling (lazily, to optimized code,
 * on its own threads or not) and collecting garbage (on the main thread and its helpers).
 */
const ROOT_KINDS = [
  [
    'V8 compiler',
    /^v8::internal::(Runtime_CompileOptimized(OSR)?|Runtime_CompileLazy|Runtime_CompileBaseline|Runtime_InstallBaselineCode|OptimizingCompileDispatcher::CompileTask::Run|BaselineBatchCompiler::\w+)\(/,
  ],
  [
    'V8 garbage collector',
    /^v8::internal::(Heap::CollectGarbage|Heap::FinalizeIncrementalMarkingIfComplete|Heap::StartIncrementalMarking|IncrementalMarking::Step|IncrementalMarking::AdvanceOnAllocation|ConcurrentMarking::RunMajor|ConcurrentMarking::Run|ScavengerCollector::JobTask::Run|Sweeper::SweeperJob::Run|\w*Job::Task::RunInternal|ArrayBufferSweeper::\w+)\(/,
  ],
];
const KIND_NAMES = [...SELF_KINDS, ...ROOT_KINDS].map(([kind]) => kind);

/** callgrind_annotate's lines: instructions and function name, without the program total and without caller contexts. */
function annotated(outFile, inclusive) {
  const args = ['--threshold=100', ...(inclusive ? ['--inclusive=yes'] : []), outFile];
  const text = execFileSync('callgrind_annotate', args, { maxBuffer: 256 * 1024 * 1024 }).toString();
  const lines = [];
  for (const line of text.split('\n')) {
    const match = /^\s*([\d,]+) +\(\s*[\d.]+%\) +(.+)$/.exec(line);
    if (match && !match[2].includes('PROGRAM TOTALS')) lines.push([Number(match[1].replaceAll(',', '')), match[2]]);
  }
  return lines;
}

/** Instructions by kind, from a file's self and inclusive views (else "the rest": Node's C++, libuv, libc). */
function instructionsByKind(self, inclusive) {
  const byKind = Object.fromEntries(KIND_NAMES.map((kind) => [kind, 0]));
  for (const [count, name] of self) {
    const kind = SELF_KINDS.find(([, test]) => test(name))?.[0];
    if (kind) byKind[kind] += count;
  }
  for (const [count, name] of inclusive) {
    const bare = name.replace(/^\?\?\?:/, '');
    const kind = ROOT_KINDS.find(([, pattern]) => pattern.test(bare))?.[0];
    if (kind) byKind[kind] += count;
  }
  return byKind;
}

/**
 * Part of "the rest": V8's runtime defining properties of object literals one by one, what an
 * object literal with computed keys costs in code V8 has not optimized. Node's process.nextTick
 * builds one per call; at full speed it is optimized (--trace-opt) in every process, under
 * valgrind it was left in baseline code in some processes (about 40k instructions per request).
 */
const LITERAL_SLOW_PATH =
  /^\?\?\?:v8::internal::(Runtime_DefineKeyedOwnPropertyInLiteral|JSObject::MigrateToMap|LookupIterator::\w*Transition\w*|Map::TransitionToDataProperty|\(anonymous namespace\)::UpdateDescriptorForValue|Object::AddDataProperty)\(/;

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
  // An earlier run may predate a peer: only the fronts it has files of.
  const fronts = [...Object.keys(PEERS), 'ballast balancer'].filter(
    (front) => !earlier || existsSync(windowFile(earlier, runName(front, 0), 1)),
  );
  const runs = fronts.flatMap((front) => Array.from({ length: processes }, (_, index) => ({ front, name: runName(front, index), index })));
  const started = Date.now();
  if (!earlier) await Promise.all(runs.map(({ front, index }) => countedRun(front, index, backendUrls)));
  const measuredSeconds = Math.round((Date.now() - started) / 1000);
  // Per process, each window's counts per request.
  const perWindow = Object.fromEntries(
    runs.map(({ name }) => [
      name,
      Array.from({ length: windows }, (_, index) => {
        const counts = counted(windowFile(outDir, name, index + 1));
        return Object.fromEntries(Object.entries(counts).map(([event, count]) => [event, count / windowRequests]));
      }),
    ]),
  );
  const compiler = 'V8 compiler';
  const collector = 'V8 garbage collector';
  const steady = (counts) => counts.Ir - counts[compiler] - counts[collector];
  console.log(
    `GET /ping, ${connections} connections, callgrind: ${processes} processes per front, each ${windows} windows of ${windowRequests} requests after ${warmUp} warm-up requests` +
      (earlier ? '' : ` (${measuredSeconds} s)`),
  );
  const kinds = [...KIND_NAMES, 'the rest'];
  const shown = {
    Ir: 'instructions',
    ...Object.fromEntries(kinds.map((kind) => [kind, `  ${kind}`])),
    literalSlowPath: '    of which literal properties defined one by one',
    D1mr: 'L1 data read misses',
    D1mw: 'L1 data write misses',
    DLmr: 'LL data read misses',
    DLmw: 'LL data write misses',
  };
  const names = runs.map(({ name }) => name);
  // Each row's median over a process's windows; the steady part's every window too, for its spread.
  const rows = Object.fromEntries(
    Object.entries(shown)
      .filter(([event]) => event in perWindow[names[0]][0])
      .map(([event, label]) => [
        `${label} per request (median)`,
        Object.fromEntries(names.map((name) => [name, Math.round(median(perWindow[name].map((counts) => counts[event])))])),
      ]),
  );
  rows['steady part per request (median)'] = Object.fromEntries(
    names.map((name) => [name, Math.round(median(perWindow[name].map(steady)))]),
  );
  rows['steady part, each window (k)'] = Object.fromEntries(
    names.map((name) => [name, perWindow[name].map((counts) => (steady(counts) / 1000).toFixed(0)).join(' ')]),
  );
  console.table(rows);
  if (resent > 0) console.log(`${resent} requests met a closing keep-alive connection and were sent again`);
  // A front's lowest and highest process (median window): a process where V8 left a hot
  // function unoptimized costs more throughout, and which process that is varies run to run.
  const span = (front, read) => {
    const medians = runs.filter((run) => run.front === front).map(({ name }) => median(perWindow[name].map(read)));
    return [Math.min(...medians), Math.max(...medians)];
  };
  const ratios = (peer, read) => {
    const [ourLow, ourHigh] = span('ballast balancer', read);
    const [theirLow, theirHigh] = span(peer, read);
    return `${(ourLow / theirLow).toFixed(3)}x lowest process to lowest, ${(ourHigh / theirHigh).toFixed(3)}x highest to highest`;
  };
  const peers = Object.keys(PEERS).filter((peer) => fronts.includes(peer));
  printSummary(
    peers
      .map((peer) => `ballast / ${peer}, median window: instructions ${ratios(peer, (c) => c.Ir)}; steady part ${ratios(peer, steady)}`)
      .join('\n') + ' (goal <= 1.0)',
  );
} finally {
  for (const cleanup of cleanups.reverse()) cleanup();
}
