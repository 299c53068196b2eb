import { afterAll } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { registerSpawned } from './spawned-registry.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/**
 * How long a process may take to log that it listens. Generous: five processes starting at
 * once on a loaded 2-core machine take seconds each. `E2E_START_TIMEOUT_MS` overrides it.
 */
export const START_TIMEOUT_MS = Number(process.env.E2E_START_TIMEOUT_MS ?? 30_000);

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** Every stdout and stderr line so far (JSON logs). */
  readonly lines: string[];
  /** Resolves with the first log line matching `pattern`, now or later. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited(): Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  /** Longest wait for the "listening" line; past it the process is killed and the start fails. */
  readyTimeoutMs?: number;
  /** Another command line for the same server (e.g. the Dockerfile's CMD); default `node dist/main.js`. */
  command?: readonly string[];
  cwd?: string;
}

/**
 * Spawns `node dist/main.js` (what `npm start` runs) in its own process group, recorded
 * for the global teardown, so nothing a suite starts can outlive the run.
 */
function spawnMain(env: Record<string, string>, options: StartOptions = {}): ChildProcess {
  const [command, ...args] = options.command ?? [process.execPath, MAIN];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid !== undefined) registerSpawned(child.pid);
  return child;
}

/**
 * Runs the built service as a real process on a free port and resolves once it logs that it
 * is listening. If it does not within the timeout it is killed before the promise rejects.
 * Prefer `useProcesses()`, which also stops what it started after the suite.
 */
export async function startServiceProcess(env: Record<string, string> = {}, options: StartOptions = {}): Promise<ServiceProcess> {
  const child = spawnMain(env, options);
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  // 'close', not 'exit': it comes after stdout and stderr have ended, so `lines` holds the
  // process's last words (e.g. "shutdown complete") by the time `exited()` resolves.
  const exit: Promise<ExitStatus> = once(child, 'close').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));

  const waitForLine = (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const seen = lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`)),
        timeoutMs,
      );
      waiters.push({
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`process exited before a line matching ${pattern}:\n${lines.join('\n')}`));
      });
    });
  };

  let listening: string;
  try {
    listening = await waitForLine(/Server listening at http:\/\/127\.0\.0\.1:\d+/, options.readyTimeoutMs ?? START_TIMEOUT_MS);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
    throw error;
  }
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(listening)![1]);
  return {
    child,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    lines,
    waitForLine,
    exited: () => exit,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Kills a process (SIGKILL unless told otherwise) and waits for it to be gone. */
export async function stopProcess(service: ServiceProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus> {
  service.kill(signal);
  return service.exited();
}

/**
 * The processes one suite starts. Everything started through it is killed after the
 * suite (also when a test or a later start failed); `stopAll` can end them earlier.
 */
export class ProcessSet {
  private readonly running = new Set<ServiceProcess>();

  async start(env: Record<string, string> = {}, options: StartOptions = {}): Promise<ServiceProcess> {
    const service = await startServiceProcess(env, options);
    this.running.add(service);
    void service.exited().then(() => this.running.delete(service));
    return service;
  }

  /** Starts several at once; if one fails, the others are stopped before the error is raised. */
  async startAll(envs: Record<string, string>[], options: StartOptions = {}): Promise<ServiceProcess[]> {
    const results = await Promise.allSettled(envs.map((env) => this.start(env, options)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(results.flatMap((r) => (r.status === 'fulfilled' ? [stopProcess(r.value)] : [])));
      throw failed.reason;
    }
    return results.map((r) => (r as PromiseFulfilledResult<ServiceProcess>).value);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((service) => stopProcess(service)));
  }
}

/** A `ProcessSet` whose processes are killed after the enclosing `describe`. */
export function useProcesses(): ProcessSet {
  const set = new ProcessSet();
  afterAll(() => set.stopAll());
  return set;
}

/** Runs the built service expecting it to exit by itself (e.g. on bad config). */
export async function runServiceToExit(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnMain(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
  const [code] = await once(child, 'close'); // after stdout and stderr ended: the output is whole
  clearTimeout(timer);
  return { code: code as number | null, stdout, stderr };
}
