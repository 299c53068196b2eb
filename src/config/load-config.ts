import { AppConfig, DEFAULT_PORTS, type RedisEndpoint } from './app-config.js';
import { ConfigError } from './config.errors.js';
import { envSchema, type Env } from './config.schema.js';

type RawEnv = Readonly<Record<string, string | undefined>>;

/** Variables whose values never appear in an error message (the boot log is often shared). */
const SECRET_VARIABLES = new Set(['ADMIN_TOKEN', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']);

/**
 * Builds the typed configuration from an environment (by default the process's).
 * Throws `ConfigError` naming every bad variable and its rule.
 */
export function loadConfig(env: RawEnv = process.env): AppConfig {
  const known = Object.keys(envSchema.shape);
  const input: Record<string, string> = {};
  for (const name of known) {
    const value = env[name]?.trim();
    if (value) input[name] = value;
  }

  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        const got = !(name in input)
          ? ''
          : SECRET_VARIABLES.has(name)
            ? ` (got ${input[name].length} characters)`
            : ` (got "${input[name]}")`;
        return `${name} ${issue.message}${got}`;
      }),
    );
  }

  const e = parsed.data;
  return {
    role: e.ROLE,
    http: {
      port: e.PORT ?? DEFAULT_PORTS[e.ROLE],
      host: e.HOST,
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      bodyMaxDepth: e.BODY_MAX_DEPTH,
    },
    logLevel: e.LOG_LEVEL,
    accessLog: { mode: e.ACCESS_LOG, sampleSuccesses: e.ACCESS_LOG_SAMPLE, includeQuery: e.ACCESS_LOG_QUERY, file: e.ACCESS_LOG_FILE },
    readiness: {
      minClients: e.READY_MIN_CLIENTS,
      maxClients: e.READY_MAX_CLIENTS,
      shed: e.READY_SHED,
      trackClients: e.READY_TRACK_CLIENTS,
      longTaskDefaultMs: e.LONG_TASK_MS,
      longTaskMaxMs: e.LONG_TASK_MAX_MS,
    },
    shutdown: { delayMs: e.SHUTDOWN_DELAY_MS, graceMs: e.SHUTDOWN_GRACE_MS },
    balancer: {
      backends: e.BACKENDS ?? [],
      backendsDns: e.BACKENDS_DNS ? splitHostPort(e.BACKENDS_DNS) : undefined,
      strategy: e.BALANCER_STRATEGY,
      retryDowntimeMs: e.RETRY_DOWNTIME_MS,
      ejectConsecutive5xx: e.EJECT_CONSECUTIVE_5XX,
      maxEjectionPercent: e.MAX_EJECTION_PERCENT,
      maxResponseDelayMs: e.MAX_RESPONSE_DELAY_MS,
      healthCheckIntervalMs: e.HEALTH_CHECK_INTERVAL_MS,
      stickyMaxEntries: e.STICKY_MAX_ENTRIES,
      workers: e.BALANCER_WORKERS ?? 1,
      connectionsPerBackend: e.BALANCER_CONNECTIONS,
      queue: { maxWaitMs: e.BALANCER_QUEUE_MS, maxLength: e.BALANCER_QUEUE_MAX },
      retryBudget: { percent: e.BALANCER_RETRY_BUDGET_PERCENT, minConcurrency: e.BALANCER_RETRY_BUDGET_MIN },
      slowStartMs: e.BALANCER_SLOW_START_MS,
      clientLimits: {
        ratePerSecond: e.BALANCER_CLIENT_RATE,
        burst: e.BALANCER_CLIENT_BURST ?? e.BALANCER_CLIENT_RATE,
        concurrency: e.BALANCER_CLIENT_CONCURRENCY,
        key:
          e.BALANCER_CLIENT_KEY === 'address'
            ? { kind: 'address' }
            : { kind: 'header', name: e.BALANCER_CLIENT_KEY.slice('header:'.length).toLowerCase() },
      },
      server: {
        headersTimeoutMs: e.BALANCER_HEADERS_TIMEOUT_MS,
        idleTimeoutMs: e.BALANCER_IDLE_TIMEOUT_MS,
        keepAliveRequests: e.BALANCER_KEEPALIVE_REQUESTS,
        maxConnections: e.BALANCER_MAX_CONNECTIONS,
      },
    },
    smart: {
      upstreamUrl: e.SMART_UPSTREAM_URL,
      firstTryMs: e.SMART_FIRST_TRY_MS,
      backupRequests: e.SMART_BACKUP_REQUESTS,
      maxAttempts: e.SMART_MAX_ATTEMPTS,
      hedgeDelay: e.SMART_HEDGE_DELAY,
      hedgePercentile: e.SMART_HEDGE_PERCENTILE,
      timeoutMaxMs: e.SMART_TIMEOUT_MAX_MS,
      budgetTokens: e.SMART_BUDGET_TOKENS,
      budgetRatio: e.SMART_BUDGET_RATIO,
    },
    work: {
      minMs: e.WORK_MIN_MS,
      maxMs: e.WORK_MAX_MS,
      hangRate: e.WORK_HANG_RATE,
      errorRate: e.WORK_ERROR_RATE,
      invalidRate: e.WORK_INVALID_RATE,
      tailRate: e.WORK_TAIL_RATE,
      tailMs: e.WORK_TAIL_MS,
    },
    tracing: tracingFrom(e),
    tasks: {
      defaultDurationMs: e.TASK_DEFAULT_DURATION_MS,
      maxDurationMs: e.TASK_MAX_DURATION_MS,
      concurrency: e.TASK_CONCURRENCY,
      lockMs: e.TASK_LOCK_MS,
      workerSilentMs: e.TASK_WORKER_SILENT_MS,
      retry: { attempts: e.TASK_ATTEMPTS, backoffMs: e.TASK_BACKOFF_MS, backoffMaxMs: e.TASK_BACKOFF_MAX_MS },
      idempotencyTtlMs: e.TASK_IDEMPOTENCY_TTL_MS,
    },
    websocket: {
      maxSubscriptions: e.WS_MAX_SUBSCRIPTIONS,
      maxFrameBytes: e.WS_MAX_FRAME_BYTES,
      heartbeatMs: e.WS_HEARTBEAT_MS,
      maxBufferedBytes: e.WS_MAX_BUFFERED_BYTES,
    },
    clusterSize: e.CLUSTER_SIZE,
    admin: { token: e.ADMIN_TOKEN },
    fault: e.FAULT_MODE ? { mode: e.FAULT_MODE, delayMs: e.FAULT_DELAY_MS } : undefined,
    redis: redisFrom(e),
  };
}

function redisFrom(e: Env): AppConfig['redis'] {
  const endpoint: RedisEndpoint | undefined = e.REDIS_URL
    ? { mode: 'standalone', url: e.REDIS_URL }
    : e.REDIS_SENTINELS
      ? {
          mode: 'sentinel',
          sentinels: e.REDIS_SENTINELS,
          name: e.REDIS_SENTINEL_NAME!,
          sentinelUsername: e.REDIS_SENTINEL_USERNAME,
          sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
          username: e.REDIS_USERNAME,
          password: e.REDIS_PASSWORD,
          tls: e.REDIS_TLS,
        }
      : e.REDIS_CLUSTER_NODES
        ? { mode: 'cluster', nodes: e.REDIS_CLUSTER_NODES, username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD, tls: e.REDIS_TLS }
        : undefined;
  return (
    endpoint && { endpoint, prefix: e.REDIS_PREFIX, commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS, minReplicasAck: e.REDIS_MIN_REPLICAS_ACK }
  );
}

function splitHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}

/** Standard OTEL_* semantics: an explicit exporter wins; an endpoint alone implies it. */
function tracingFrom(e: Env): AppConfig['tracing'] {
  const serviceName = e.OTEL_SERVICE_NAME;
  const exporter =
    e.OTEL_TRACES_EXPORTER ??
    (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || e.OTEL_EXPORTER_OTLP_ENDPOINT ? 'otlp' : e.OTEL_EXPORTER_ZIPKIN_ENDPOINT ? 'zipkin' : 'none');
  switch (exporter) {
    case 'none':
      return undefined;
    case 'otlp':
      return {
        exporter,
        serviceName,
        endpoint:
          e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
          (e.OTEL_EXPORTER_OTLP_ENDPOINT ? `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces` : undefined),
      };
    case 'zipkin':
      return { exporter, serviceName, endpoint: e.OTEL_EXPORTER_ZIPKIN_ENDPOINT };
    case 'console':
      return { exporter, serviceName };
    default: {
      const unreachable: never = exporter;
      return unreachable;
    }
  }
}
