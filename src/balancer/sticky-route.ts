/**
 * How a request relates to what one backend alone holds: an item (seed 001's stickiness), or,
 * when the backends keep tasks in memory (no Redis), a task and the tasks of a clientId.
 * `key` names the owner entry in the sticky table; `label` names the thing in error answers.
 */
export type StickyRoute =
  | { readonly kind: 'create'; readonly key: string; readonly label: string }
  | { readonly kind: 'access'; readonly key: string; readonly label: string; readonly deletes: boolean }
  /**
   * POST /tasks. Its owner is its clientId's, which is in the body: `key` is set once the
   * balancer has read it (only when some backend keeps tasks locally).
   */
  | { readonly kind: 'task-create'; readonly key?: string; readonly label?: string }
  | { readonly kind: 'none' };

const NONE: StickyRoute = { kind: 'none' };
const ITEM_PATH = /^\/items\/(\d{1,16})\/?$/;
const ITEM_ACCESS_METHODS = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);
/** GET or DELETE /tasks/ID, POST /tasks/ID/retry. */
const TASK_PATH = /^\/tasks\/([A-Za-z0-9_.:-]{1,128})(\/retry)?\/?$/;
/** What the service accepts as a clientId (create-task.body.ts). */
const CLIENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/** Canonical id text, so "007" and "7" are one item, as the service parses them. */
function canonical(digits: string): string {
  return String(Number(digits));
}

export function taskKey(taskId: string): string {
  return `task:${taskId}`;
}

/** The sticky key of a clientId's tasks, or undefined when it is not one the service accepts. */
export function clientKey(clientId: unknown): string | undefined {
  return typeof clientId === 'string' && CLIENT_ID.test(clientId) ? `client:${clientId}` : undefined;
}

/** A POST /tasks route once its body named a clientId. */
export function taskCreateFor(clientId: unknown): StickyRoute {
  const key = clientKey(clientId);
  return key ? { kind: 'task-create', key, label: `The tasks of client ${clientId as string}` } : { kind: 'task-create' };
}

/**
 * Items: POST /items/?item_id=ID creates; GET/PUT/DELETE /items/ID access. Tasks: POST /tasks
 * creates; GET/DELETE /tasks/ID and POST /tasks/ID/retry access. Pure string work on the
 * request target: no body is read.
 */
export function stickyRoute(method: string, target: string): StickyRoute {
  // Most proxied paths are neither: one prefix test, no regex or URL parsing for them.
  if (target.startsWith('/items')) return itemRoute(method, target);
  if (target.startsWith('/tasks')) return taskRoute(method, target);
  return NONE;
}

function pathOf(target: string): { path: string; query: number } {
  const query = target.indexOf('?');
  return { path: query === -1 ? target : target.slice(0, query), query };
}

function itemRoute(method: string, target: string): StickyRoute {
  const { path, query } = pathOf(target);
  if (method === 'POST') {
    if ((path !== '/items' && path !== '/items/') || query === -1) return NONE;
    const id = new URLSearchParams(target.slice(query + 1)).get('item_id');
    if (id === null || !/^\d{1,16}$/.test(id)) return NONE;
    const itemId = canonical(id);
    return { kind: 'create', key: itemId, label: `Item ${itemId}` };
  }
  if (!ITEM_ACCESS_METHODS.has(method)) return NONE;
  const match = ITEM_PATH.exec(path);
  if (!match) return NONE;
  const itemId = canonical(match[1]);
  return { kind: 'access', key: itemId, label: `Item ${itemId}`, deletes: method === 'DELETE' };
}

function taskRoute(method: string, target: string): StickyRoute {
  const { path } = pathOf(target);
  if (path === '/tasks' || path === '/tasks/') return method === 'POST' ? { kind: 'task-create' } : NONE;
  const match = TASK_PATH.exec(path);
  if (!match) return NONE;
  const retry = match[2] !== undefined;
  if (retry ? method !== 'POST' : method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') return NONE;
  // A cancelled task stays on its instance (its view is kept): a DELETE does not forget it.
  return { kind: 'access', key: taskKey(match[1]), label: `Task ${match[1]}`, deletes: false };
}

/** The task id in a 202's `Location: /tasks/ID`, or undefined. */
export function taskIdOfLocation(location: string | string[] | undefined): string | undefined {
  const text = Array.isArray(location) ? location[0] : location;
  if (!text) return undefined;
  const match = TASK_PATH.exec(text);
  return match && match[2] === undefined ? match[1] : undefined;
}
