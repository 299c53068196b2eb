/** The text of every domain error, in one place. Item texts are seed 001's, which its clients match on. */
export const ERROR_MESSAGES = {
  items: {
    notFound: (id: number) => `Item ${id} not found`,
    alreadyExists: (id: number) => `Item ${id} already exists`,
    invalidId: (raw: string) => `item_id must be a non-negative integer (got ${JSON.stringify(raw.slice(0, 40))})`,
  },
  tasks: {
    notFound: (id: string) => `Task ${id.slice(0, 64)} not found`,
    shuttingDown: 'This instance is shutting down and takes no new tasks; retry (another instance will)',
  },
  input: {
    tooDeep: (maxDepth: number) => `JSON nested deeper than ${maxDepth} levels (BODY_MAX_DEPTH)`,
  },
  admin: {
    required: 'This path needs ADMIN_TOKEN: send it as "Authorization: Bearer <token>" or as the password of HTTP Basic',
    subscribeAll: 'subscribe {"all": true} needs ADMIN_TOKEN: send it as Authorization on the upgrade request or as "token" in this frame',
  },
  views: {
    assetNotFound: (name: string) => `No status page file ${JSON.stringify(name.slice(0, 64))}`,
  },
  store: {
    unavailable: 'The data store is unreachable; try again shortly',
  },
  smart: {
    deadline: (timeoutMs: number) => `No upstream answer within ${timeoutMs} ms`,
    upstream_errors: () => 'Every upstream attempt failed',
    budget: () => 'The upstream attempt failed and the hedge budget allowed no backups',
  },
} as const;
