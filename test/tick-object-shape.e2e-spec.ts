import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startBareBackend } from './support/bare-backend.js';
import { http } from './support/http.js';
import { literalSlotStates, NEXT_TICK_PROBE_FLAGS, probeNextTick, withStdoutFile } from './support/next-tick-probe.mjs';
import { registerSpawned } from './support/spawned-registry.js';
import { freePort, MAIN, untilAnswers } from './support/spawn.mjs';

const HOLD = fileURLToPath(new URL('../dist/ops/tick-object-shape.js', import.meta.url));

/**
 * A fresh Node: ticks until nextTick has feedback, a full GC while no tick object is alive,
 * more ticks, then nextTick's feedback. With `hold`, holdTickObjectShape runs first.
 */
async function nextTickAfterCollection(hold: boolean): Promise<string[]> {
  const script = `
    if (${hold}) (await import(${JSON.stringify(HOLD)})).holdTickObjectShape();
    const ticks = (n) => new Promise((done) => { let left = n; const next = () => (--left ? process.nextTick(next) : done()); process.nextTick(next); });
    await ticks(50);
    globalThis.gc();
    await ticks(50);
    new Function('f', '%DebugPrint(f)')(process.nextTick);`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script],
    {
      timeout: 20_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return literalSlotStates(stdout);
}

describe("Node's tick objects keep their hidden classes (holdTickObjectShape)", () => {
  it('without it, a full GC between ticks leaves nextTick defining tick objects through the runtime', async () => {
    const slots = await nextTickAfterCollection(false);
    expect(slots).toHaveLength(4);
    expect(slots).toContain('MEGAMORPHIC');
  });

  it('with it, the same collection leaves every slot monomorphic', async () => {
    expect(await nextTickAfterCollection(true)).toEqual(['MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC']);
  });

  describe('in a balancer process after boot and traffic', () => {
    const stops: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const stop of stops.reverse()) await stop();
    });

    it('nextTick stays monomorphic', async () => {
      const backend = await startBareBackend((_req, res) => res.end('pong'));
      stops.push(() => backend.close());
      const port = await freePort();
      const { child, path } = withStdoutFile((out) =>
        spawn(process.execPath, [...NEXT_TICK_PROBE_FLAGS, MAIN], {
          env: {
            PATH: process.env.PATH ?? '',
            HOST: '127.0.0.1',
            PORT: String(port),
            ROLE: 'balancer',
            BACKENDS: backend.url,
            LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', out, 'inherit', 'ipc'],
          detached: true,
        }),
      );
      if (child.pid !== undefined) registerSpawned(child.pid);
      stops.push(async () => {
        if (child.exitCode !== null) return;
        child.kill('SIGKILL');
        await once(child, 'exit');
      });
      const url = `http://127.0.0.1:${port}/ping`;
      await untilAnswers(url, { exited: () => child.exitCode !== null });
      for (let i = 0; i < 300; i += 1) expect((await http(url)).status).toBe(200);
      expect(await probeNextTick(child, path)).toEqual(['MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC', 'MONOMORPHIC']);
    });
  });
});
