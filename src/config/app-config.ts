export type Role = 'service' | 'balancer';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The one typed configuration object; built once at boot by `loadConfig`. */
export interface AppConfig {
  readonly role: Role;
  readonly http: {
    readonly port: number;
    readonly host: string;
    /** Largest request body accepted; larger ones get 413. */
    readonly bodyLimitBytes: number;
    /** Deepest JSON nesting accepted; deeper bodies get 400 before they are parsed. */
    readonly bodyMaxDepth: number;
  };
  readonly logLevel: LogLevel;
  /** One JSON line per request (the balancer: per proxied request or tunnel). */
  readonly accessLog: {
    /** `errors`: status >= 400, or an attempt that failed on the way. */
    readonly mode: 'off' | 'all' | 'errors';
    /** Share of the other requests logged in `all` mode (0-1). */
    readonly sampleSuccesses: number;
    /** Log the query string with the path. */
    readonly includeQuery: boolean;
    /** Append to this file; standard output when unset. */
    readonly file?: string;
  };
  readonly readiness: {
    /** Leave cooldown once in-flight clients drop below this. */
    readonly minClients: number;
    /** Enter cooldown when in-flight clients reach this. */
    readonly maxClients: number;
    /** While in cooldown, answer new tracked requests 503 instead of serving them. */
    readonly shed: boolean;
    /** Count in-flight requests at all (off: /ready reflects only shutdown and Redis). */
    readonly trackClients: boolean;
    readonly longTaskDefaultMs: number;
    readonly longTaskMaxMs: number;
  };
  readonly shutdown: {
    /** Pause between flipping readiness and draining, so endpoints drop the pod first. */
    readonly delayMs: number;
    /** Upper bound for the whole shutdown; past it the process exits 1. */
    readonly graceMs: number;
  };
  readonly balancer: {
    /** Static backend origins (`BACKENDS`); empty when discovered by DNS. */
    readonly backends: readonly string[];
    /** `host:port` whose A records are the backends, re-resolved every health interval. */
    readonly backendsDns?: { readonly host: string; readonly port: number };
    readonly strategy: 'round-robin' | 'least-latency';
    /** First ejection time of a failed backend; the n-th ejection in a row lasts n times this. */
    readonly retryDowntimeMs: number;
    /** 5xx responses in a row that eject a backend (connection failures and timeouts eject at once). */
    readonly ejectConsecutive5xx: number;
    /** Most of the fleet that may be ejected at once, in percent (at least one backend). */
    readonly maxEjectionPercent: number;
    /** No response headers within this: the attempt failed and the backend is ejected. */
    readonly maxResponseDelayMs: number;
    /** Active /ready checks and DNS refresh; 0 turns active checks off. */
    readonly healthCheckIntervalMs: number;
    readonly stickyMaxEntries: number;
    /** Upstream connections per backend (per worker). */
    readonly connectionsPerBackend: number;
    /** node:cluster workers sharing the port (BALANCER_WORKERS; `auto` = cores). */
    readonly workers: number;
    /** Admission queue for requests that find every backend full: longest wait and most waiting (per worker). */
    readonly queue: { readonly maxWaitMs: number; readonly maxLength: number };
    /** Retries in flight at most this share of requests in flight, and always `minConcurrency`. */
    readonly retryBudget: { readonly percent: number; readonly minConcurrency: number };
    /** A new or returning backend's share ramps up over this long (0: at once). */
    readonly slowStartMs: number;
    /** Per-client limits (0: off): request rate with a burst, and requests in flight; keyed by address or a header. */
    readonly clientLimits: {
      readonly ratePerSecond: number;
      readonly burst: number;
      readonly concurrency: number;
      readonly key: { readonly kind: 'address' } | { readonly kind: 'header'; readonly name: string };
    };
    /**
     * The balancer's own server: time to receive a request's headers, idle keep-alive time,
     * requests per keep-alive connection (0: no limit), open connections.
     */
    readonly server: {
      readonly headersTimeoutMs: number;
      readonly idleTimeoutMs: number;
      readonly keepAliveRequests: number;
      readonly maxConnections: number;
    };
  };
  readonly smart: {
    /** Unset: this instance's own /api/work (so `npm start` works offline). */
    readonly upstreamUrl?: string;
    readonly firstTryMs: number;
    readonly backupRequests: number;
    /** Most attempts per call; above 1 + backupRequests, failed attempts are replaced at once. */
    readonly maxAttempts: number;
    /** `auto`: the hedge delay follows `hedgePercentile` of recent latencies. */
    readonly hedgeDelay: 'fixed' | 'auto';
    readonly hedgePercentile: number;
    readonly timeoutMaxMs: number;
    readonly budgetTokens: number;
    /** Tokens a successful call earns back. */
    readonly budgetRatio: number;
  };
  /** Defaults of the /api/work upstream simulator; each can be overridden per request. */
  readonly work: {
    readonly minMs: number;
    readonly maxMs: number;
    readonly hangRate: number;
    readonly errorRate: number;
    readonly invalidRate: number;
    readonly tailRate: number;
    readonly tailMs: number;
  };
  /** Tracing is on only when the standard OTEL_* variables ask for an exporter. */
  readonly tracing?: {
    readonly exporter: 'otlp' | 'zipkin' | 'console';
    readonly endpoint?: string;
    readonly serviceName: string;
  };
  readonly tasks: {
    readonly defaultDurationMs: number;
    readonly maxDurationMs: number;
    /** Jobs this instance works on at once; 0: this instance only queues. */
    readonly concurrency: number;
    /** BullMQ job lock: a dead worker's job goes to another after about this long. */
    readonly lockMs: number;
    /** A worker that takes no job this long while jobs wait and it has free slots is replaced; 0: never. */
    readonly workerSilentMs: number;
    /** Attempts and backoff of a type whose handler does not set its own. */
    readonly retry: RetryPolicy;
    /** How long an Idempotency-Key answers with the task it first created. */
    readonly idempotencyTtlMs: number;
  };
  readonly websocket: {
    readonly maxSubscriptions: number;
    readonly maxFrameBytes: number;
    /** Ping every socket this often; one that has not answered the previous ping is terminated. */
    readonly heartbeatMs: number;
    /** A socket that has more than this waiting to be written (it stopped reading) is closed. */
    readonly maxBufferedBytes: number;
  };
  /** `npm run start:cluster`: how many services behind the balancer. */
  readonly clusterSize: number;
  /** Test and demo fault injection on the service role; off unless FAULT_MODE is set. */
  readonly fault?: { readonly mode: 'alternate' | 'slow'; readonly delayMs: number };
  /**
   * Set: the status pages, /queues, /metrics, the balancer's JSON and the views' data paths
   * (GET /tasks, `subscribe all`) need it as a Basic password or a Bearer token. Unset: all open.
   */
  readonly admin: { readonly token?: string };
  /** Unset: in-process memory drivers. */
  readonly redis?: {
    readonly endpoint: RedisEndpoint;
    readonly prefix: string;
    /** A request-path command that gets no answer within this fails (503), as does any while Redis is away. */
    readonly commandTimeoutMs: number;
    /** A task create is answered 202 only once this many replicas have it (WAIT); 0: once the primary has it. */
    readonly minReplicasAck: number;
  };
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** How ballast reaches Redis: one server by URL, the primary that Sentinel names, or a Redis Cluster. */
export type RedisEndpoint =
  | { readonly mode: 'standalone'; readonly url: string }
  | {
      readonly mode: 'sentinel';
      readonly sentinels: readonly HostPort[];
      readonly name: string;
      readonly sentinelUsername?: string;
      readonly sentinelPassword?: string;
      /** The data nodes' credentials and TLS. */
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    }
  | {
      readonly mode: 'cluster';
      /** Any reachable nodes: the client learns the rest and the slot map from them. */
      readonly nodes: readonly HostPort[];
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    };

export const DEFAULT_PORTS: Record<Role, number> = { service: 8000, balancer: 8080 };

/** How often a task is tried and how long it waits between tries (exponential, full jitter, capped). */
export interface RetryPolicy {
  readonly attempts: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
}
