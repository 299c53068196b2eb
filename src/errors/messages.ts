/**
 * Every text a client can read in an error, in one place: HTTP bodies, upgrade refusals and
 * WebSocket `error` frames. Item texts are seed 001's, which its clients match on.
 */
export const ERROR_MESSAGES = {
  items: {
    notFound: (id: number) => `Item ${id} not found`,
    alreadyExists: (id: number) => `Item ${id} already exists`,
    invalidId: (raw: string) => `item_id must be a non-negative integer (got ${JSON.stringify(raw.slice(0, 40))})`,
  },
  tasks: {
    notFound: (id: string) => `Task ${id.slice(0, 64)} not found`,
    shuttingDown: 'This instance is shutting down and takes no new tasks; retry (another instance will)',
    tooLong: (maxMs: number) => `durationMs must be <= ${maxMs}`,
    unknownType: (type: string, known: readonly string[]) =>
      `unknown task type ${JSON.stringify(type.slice(0, 64))}; known types: ${known.join(', ')}`,
    badInput: (type: string, reasons: readonly string[]) => `invalid input for task type "${type}": ${reasons.join('; ')}`,
    finished: (id: string, status: string) => `Task ${id.slice(0, 64)} is already ${status}`,
    notFailed: (id: string, status: string) => `Task ${id.slice(0, 64)} is ${status}; only a failed task can be retried`,
    idempotencyKeyReused: 'This Idempotency-Key was used with a different request body',
    idempotencyKeyInvalid: 'Idempotency-Key must be 1 to 255 visible ASCII characters',
    notReplicated: (id: string, acknowledged: number, required: number, waitedMs: number) =>
      `Task ${id} is queued on the Redis primary, but ${acknowledged} of the ${required} replicas required confirmed it within ${waitedMs} ms: ` +
      'a failover now could lose it. Retry with the same Idempotency-Key (it cannot make a second task)',
  },
  input: {
    tooDeep: (maxDepth: number) => `JSON nested deeper than ${maxDepth} levels (BODY_MAX_DEPTH)`,
    intOutOfRange: (name: string, min: number, max: number, got: string) =>
      `${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(got).slice(0, 42)})`,
  },
  framing: {
    twoHosts: 'A request must carry exactly one Host header (RFC 9112 §3.2)',
    connect: 'CONNECT is not supported: this is not a forward proxy',
    notAPath: 'The request target must be a path',
    headTimeout: 'The request head did not arrive in time',
    balancerHeadTimeout: 'The request head did not arrive in time (BALANCER_HEADERS_TIMEOUT_MS)',
    headTooLarge: 'The request head is too large',
    notHttp: 'The request is not valid HTTP/1.1',
  },
  readiness: {
    shedding: 'In cooldown: too many requests in flight; retry shortly',
  },
  balancer: {
    ownerEjected: (what: string, owner: string) => `${what} lives on ${owner}, which is ejected`,
    noBackends: 'No backend configured (BACKENDS or BACKENDS_DNS resolved to none)',
    /** `why` lists each kind of unavailability with its count, e.g. "2 ejected, 1 busy until 12:00:01Z". */
    noneAvailable: (why: string) => `No backend available: ${why}`,
    attemptsFailed: (count: number, budgetSpent = false) =>
      budgetSpent ? `${count} attempts failed and the retry budget allows no more` : `All ${count} attempts failed`,
    queueTimeout: (waitedMs: number) => `Every backend is at capacity: no slot freed within ${Math.round(waitedMs)} ms; retry shortly`,
    queueFull: 'Every backend is at capacity and the admission queue is full; retry shortly',
    clientRate: (ratePerSecond: number) => `This client sends more than its share (${ratePerSecond} requests per second); retry later`,
    clientConcurrency: (concurrency: number) => `This client has ${concurrency} requests in flight, its share; retry once one has answered`,
    shuttingDown: 'The balancer is shutting down',
    tooManyConnections: (max: number) => `The balancer holds its most client connections (${max}); retry shortly`,
    notWebSocket: 'Only WebSocket upgrades are proxied',
  },
  gateway: {
    shuttingDown: 'Shutting down',
    badFrame: 'frames must be JSON text {"event": string, "data": object}',
    unknownEvent: (event: string) => `unknown event ${JSON.stringify(event.slice(0, 40))}`,
    badSubscribe: 'subscribe needs {"taskId": string} or {"all": true}',
    tooManySubscriptions: (max: number) => `at most ${max} subscriptions per socket`,
    unknownTask: (taskId: string, inMemory: boolean) =>
      `unknown task ${JSON.stringify(taskId)}` +
      (inMemory ? ' (without Redis each instance keeps its own tasks in memory: this one never had it)' : ''),
    storeUnavailable: 'task store unavailable; retry shortly',
    readFailed: 'could not read tasks',
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
  simulator: {
    unknownParameter: (name: string) => `unknown parameter ${JSON.stringify(name.slice(0, 40))}`,
    outOfRange: (name: string, max: number) => `${name} must be a number from 0 to ${max}`,
    minAboveMax: 'min must be <= max',
    ratesAboveOne: 'hang + error + invalid must be <= 1',
    simulatedError: 'Simulated upstream error',
    hangEndedByShutdown: 'Simulated hang ended by shutdown',
  },
  faults: {
    injected: 'Injected fault (FAULT_MODE=alternate)',
  },
  internal: 'Internal server error',
} as const;
