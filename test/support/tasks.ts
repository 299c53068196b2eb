import { http } from './http.js';
import { waitFor } from './wait.js';

/** Polls GET /tasks/:id until every task is `completed`; resolves with their views, in order. */
export function untilCompleted(
  baseUrl: string,
  ids: readonly string[],
  options: { timeoutMs?: number; what?: string } = {},
): Promise<any[]> {
  return waitFor(
    async () => {
      const views = await Promise.all(ids.map(async (id) => (await http(`${baseUrl}/tasks/${id}`)).body));
      return views.every((view) => view.status === 'completed') ? views : undefined;
    },
    { what: 'every task to complete', ...options },
  );
}
