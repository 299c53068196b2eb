/**
 * Writes through `bases` in turn until stopped (at most `max` writes), as clients do through a
 * failover: every answer's status counted, the slowest timed; after a refusal, a short pause.
 */
export function keepWriting(bases: () => readonly string[], write: (base: string) => Promise<number>, max = 5_000) {
  const answers = new Map<number, number>();
  let slowestMs = 0;
  let writing = true;
  const done = (async () => {
    for (let i = 0; writing && i < max; i += 1) {
      const all = bases();
      const started = performance.now();
      const status = await write(all[i % all.length]);
      slowestMs = Math.max(slowestMs, performance.now() - started);
      answers.set(status, (answers.get(status) ?? 0) + 1);
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      writing = false;
      await done;
      return { answers, slowestMs };
    },
  };
}
