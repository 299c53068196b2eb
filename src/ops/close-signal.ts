import type { ServerResponse } from 'node:http';

/** An AbortSignal that fires if the connection closes before the response finished. */
export function abortedWhenClientLeaves(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
