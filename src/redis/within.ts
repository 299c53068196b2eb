/**
 * `work`, or `late()`'s error once `ms` have passed without it settling. The work goes on (a
 * Redis command cannot be taken back); what it ends with then is dropped, failures included.
 */
export function within<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), Math.max(0, ms));
  });
  work.catch(() => undefined);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
