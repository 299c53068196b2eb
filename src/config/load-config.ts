import { AppConfig, DEFAULT_PORTS } from './app-config.js';
import { ConfigError } from './config.errors.js';
import { envSchema } from './config.schema.js';

type RawEnv = Readonly<Record<string, string | undefined>>;

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
        const got = name in input ? ` (got "${input[name]}")` : '';
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
    },
    logLevel: e.LOG_LEVEL,
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
      maxResponseDelayMs: e.MAX_RESPONSE_DELAY_MS,
      healthCheckIntervalMs: e.HEALTH_CHECK_INTERVAL_MS,
      stickyMaxEntries: e.STICKY_MAX_ENTRIES,
      connectionsPerBackend: e.BALANCER_CONNECTIONS,
    },
    clusterSize: e.CLUSTER_SIZE,
    fault: e.FAULT_MODE ? { mode: e.FAULT_MODE, delayMs: e.FAULT_DELAY_MS } : undefined,
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.REDIS_PREFIX } : undefined,
  };
}

function splitHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}
