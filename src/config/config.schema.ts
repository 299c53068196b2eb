import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * Every environment variable ballast reads, with its default and rule.
 * Values arrive as strings; an empty string counts as unset.
 */
const int = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be an integer' })
    .min(min, { error: `must be >= ${min}` })
    .max(max, { error: `must be <= ${max}` });

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional();

/** `host:port,host:port`: Redis Sentinel (or Cluster) nodes. */
const hostPortList = z
  .string()
  .transform((value, ctx) => {
    const nodes: { host: string; port: number }[] = [];
    for (const part of value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)) {
      const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(part);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65_535) {
        ctx.addIssue({ code: 'custom', message: `must be a list of host:port (not "${part}")` });
        return z.NEVER;
      }
      nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
    }
    if (nodes.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
      return z.NEVER;
    }
    return nodes;
  })
  .optional();

const HOUR_MS = 3_600_000;

const rate = z.coerce.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).max(1, { error: 'must be <= 1' });

export const envSchema = z
  .object({
    ROLE: z.enum(['service', 'balancer'], { error: 'must be service or balancer' }).default('service'),
    PORT: int(0, 65_535).optional(),
    HOST: z.string().min(1).default('0.0.0.0'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
    ACCESS_LOG: z.enum(['off', 'all', 'errors'], { error: 'must be off, all or errors' }).default('all'),
    ACCESS_LOG_SAMPLE: rate.default(1),
    ACCESS_LOG_QUERY: bool.default(false),
    ACCESS_LOG_FILE: z.string().min(1).optional(),
    BODY_LIMIT_BYTES: int(1, 64 * 1024 * 1024).default(1024 * 1024),
    BODY_MAX_DEPTH: int(1, 10_000).default(64),

    READY_MIN_CLIENTS: int(1, 100_000).default(3),
    READY_MAX_CLIENTS: int(1, 100_000).default(4),
    READY_SHED: bool.default(false),
    READY_TRACK_CLIENTS: bool.default(true),
    LONG_TASK_MS: int(0, HOUR_MS).default(10_000),
    LONG_TASK_MAX_MS: int(1, HOUR_MS).default(600_000),

    SHUTDOWN_DELAY_MS: int(0, 10 * 60_000).default(0),
    SHUTDOWN_GRACE_MS: int(100, HOUR_MS).default(25_000),

    BACKENDS: z
      .string()
      .transform((value, ctx) => {
        const urls = value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean);
        const origins: string[] = [];
        for (const raw of urls) {
          let url: URL;
          try {
            url = new URL(raw);
          } catch {
            ctx.addIssue({ code: 'custom', message: `holds "${raw}", which is not a URL` });
            return z.NEVER;
          }
          if (url.protocol !== 'http:' || (url.pathname !== '/' && url.pathname !== '') || url.search) {
            ctx.addIssue({ code: 'custom', message: `holds "${raw}": only http://host:port origins are supported` });
            return z.NEVER;
          }
          if (!origins.includes(url.origin)) origins.push(url.origin);
        }
        return origins;
      })
      .optional(),
    BACKENDS_DNS: z
      .string()
      .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { error: 'must be host:port' })
      .optional(),
    BALANCER_STRATEGY: z.enum(['round-robin', 'least-latency'], { error: 'must be round-robin or least-latency' }).default('round-robin'),
    RETRY_DOWNTIME_MS: int(0, HOUR_MS).default(10_000),
    EJECT_CONSECUTIVE_5XX: int(1, 1000).default(5),
    MAX_EJECTION_PERCENT: int(0, 100).default(50),
    MAX_RESPONSE_DELAY_MS: int(1, 10 * 60_000).default(2_000),
    HEALTH_CHECK_INTERVAL_MS: int(0, HOUR_MS).default(2_000),
    STICKY_MAX_ENTRIES: int(1, 10_000_000).default(100_000),
    BALANCER_CONNECTIONS: int(1, 10_000).default(128),
    BALANCER_QUEUE_MS: int(0, 60_000).default(50),
    BALANCER_QUEUE_MAX: int(0, 1_000_000).default(1_000),
    BALANCER_RETRY_BUDGET_PERCENT: int(0, 100).default(20),
    BALANCER_RETRY_BUDGET_MIN: int(0, 10_000).default(10),
    BALANCER_SLOW_START_MS: int(0, HOUR_MS).default(0),
    BALANCER_CLIENT_RATE: int(0, 1_000_000).default(0),
    BALANCER_CLIENT_BURST: int(0, 1_000_000).optional(),
    BALANCER_CLIENT_CONCURRENCY: int(0, 1_000_000).default(0),
    BALANCER_CLIENT_KEY: z
      .string()
      .regex(/^(address|header:[A-Za-z0-9-]+)$/, { error: 'must be address or header:<name>' })
      .default('address'),
    BALANCER_HEADERS_TIMEOUT_MS: int(100, 10 * 60_000).default(10_000),
    BALANCER_IDLE_TIMEOUT_MS: int(100, 10 * 60_000).default(72_000),
    BALANCER_KEEPALIVE_REQUESTS: int(0, 10_000_000).default(1_000),
    BALANCER_MAX_CONNECTIONS: int(1, 10_000_000).default(10_000),
    BALANCER_WORKERS: z
      .string()
      .regex(/^(auto|[1-9]\d?)$/, { error: 'must be auto or an integer from 1 to 64' })
      .transform((value) => (value === 'auto' ? availableParallelism() : Number(value)))
      .refine((workers) => workers <= 64, { error: 'must be auto or an integer from 1 to 64' })
      .optional(),
    CLUSTER_SIZE: int(1, 64).default(4),
    FAULT_MODE: z.enum(['alternate', 'slow'], { error: 'must be alternate or slow' }).optional(),
    FAULT_DELAY_MS: int(0, 10 * 60_000).default(5_000),

    SMART_UPSTREAM_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    SMART_FIRST_TRY_MS: int(1, 60_000).default(300),
    SMART_BACKUP_REQUESTS: int(0, 10).default(2),
    SMART_MAX_ATTEMPTS: int(1, 5).default(3),
    SMART_HEDGE_DELAY: z.enum(['fixed', 'auto'], { error: 'must be fixed or auto' }).default('fixed'),
    SMART_HEDGE_PERCENTILE: z.coerce
      .number({ error: 'must be a number' })
      .gt(0, { error: 'must be > 0' })
      .max(100, { error: 'must be <= 100' })
      .default(95),
    SMART_TIMEOUT_MAX_MS: int(1, 10 * 60_000).default(60_000),
    SMART_BUDGET_TOKENS: int(0, 1_000_000).default(100),
    SMART_BUDGET_RATIO: z.coerce.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).default(2),
    WORK_MIN_MS: int(0, 600_000).default(100),
    WORK_MAX_MS: int(0, 600_000).default(600),
    WORK_HANG_RATE: rate.default(1 / 11),
    WORK_ERROR_RATE: rate.default(1 / 11),
    WORK_INVALID_RATE: rate.default(1 / 11),
    WORK_TAIL_RATE: rate.default(0),
    WORK_TAIL_MS: int(0, 600_000).default(1_000),
    OTEL_TRACES_EXPORTER: z.enum(['otlp', 'zipkin', 'console', 'none'], { error: 'must be otlp, zipkin, console or none' }).optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ error: 'must be a URL' }).optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ error: 'must be a URL' }).optional(),
    OTEL_EXPORTER_ZIPKIN_ENDPOINT: z.url({ error: 'must be a URL' }).optional(),
    OTEL_SERVICE_NAME: z.string().min(1).default('ballast'),

    TASK_DEFAULT_DURATION_MS: int(0, HOUR_MS).default(20_000),
    TASK_MAX_DURATION_MS: int(0, HOUR_MS).default(600_000),
    TASK_CONCURRENCY: int(0, 1000).default(5),
    TASK_LOCK_MS: int(1000, HOUR_MS).default(30_000),
    // Shorter than a second, a job that waits a moment for a worker busy elsewhere would replace it.
    TASK_WORKER_SILENT_MS: int(0, HOUR_MS)
      .refine((ms) => ms === 0 || ms >= 1_000, { error: 'must be 0 (off) or at least 1000' })
      .default(5_000),
    TASK_ATTEMPTS: int(1, 100).default(3),
    TASK_BACKOFF_MS: int(0, HOUR_MS).default(1_000),
    TASK_BACKOFF_MAX_MS: int(0, 24 * HOUR_MS).default(300_000),
    TASK_IDEMPOTENCY_TTL_MS: int(1_000, 30 * 24 * HOUR_MS).default(24 * HOUR_MS),
    WS_MAX_SUBSCRIPTIONS: int(1, 100_000).default(100),
    WS_MAX_FRAME_BYTES: int(64, 16 * 1024 * 1024).default(64 * 1024),
    WS_HEARTBEAT_MS: int(100, 10 * 60_000).default(30_000),
    WS_MAX_BUFFERED_BYTES: int(64 * 1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),

    ADMIN_TOKEN: z
      .string()
      .regex(/^[\x21-\x7e]{16,512}$/, { error: 'must be 16 to 512 printable ASCII characters without spaces' })
      .optional(),

    REDIS_URL: redisUrl,
    REDIS_SENTINELS: hostPortList,
    REDIS_CLUSTER_NODES: hostPortList,
    REDIS_SENTINEL_NAME: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'must be the monitored master name: letters, digits, ".", "_" and "-"' })
      .optional(),
    REDIS_SENTINEL_USERNAME: z.string().min(1).optional(),
    REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
    REDIS_USERNAME: z.string().min(1).optional(),
    REDIS_PASSWORD: z.string().min(1).optional(),
    REDIS_TLS: bool.default(false),
    REDIS_COMMAND_TIMEOUT_MS: int(50, 60_000).default(1_000),
    REDIS_MIN_REPLICAS_ACK: int(0, 16).default(0),
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_-]+$/, { error: 'may hold only letters, digits, ":", "_" and "-"' })
      .default('ballast'),
  })
  .superRefine((env, ctx) => {
    checkRedisMode(env, ctx);
    if (env.ROLE === 'balancer' && !env.BACKENDS?.length && !env.BACKENDS_DNS) {
      ctx.addIssue({ code: 'custom', path: ['BACKENDS'], message: 'or BACKENDS_DNS is required when ROLE=balancer' });
    }
    if (env.BACKENDS?.length && env.BACKENDS_DNS) {
      ctx.addIssue({ code: 'custom', path: ['BACKENDS'], message: 'and BACKENDS_DNS are mutually exclusive' });
    }
    if (env.READY_MIN_CLIENTS > env.READY_MAX_CLIENTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['READY_MIN_CLIENTS'],
        message: `must be <= READY_MAX_CLIENTS (${env.READY_MAX_CLIENTS})`,
      });
    }
    if (env.WORK_MIN_MS > env.WORK_MAX_MS) {
      ctx.addIssue({ code: 'custom', path: ['WORK_MIN_MS'], message: `must be <= WORK_MAX_MS (${env.WORK_MAX_MS})` });
    }
    if (env.WORK_HANG_RATE + env.WORK_ERROR_RATE + env.WORK_INVALID_RATE > 1) {
      ctx.addIssue({ code: 'custom', path: ['WORK_HANG_RATE'], message: 'plus WORK_ERROR_RATE and WORK_INVALID_RATE must be <= 1' });
    }
    if (env.TASK_DEFAULT_DURATION_MS > env.TASK_MAX_DURATION_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASK_DEFAULT_DURATION_MS'],
        message: `must be <= TASK_MAX_DURATION_MS (${env.TASK_MAX_DURATION_MS})`,
      });
    }
    if (env.LONG_TASK_MS > env.LONG_TASK_MAX_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['LONG_TASK_MS'],
        message: `must be <= LONG_TASK_MAX_MS (${env.LONG_TASK_MAX_MS})`,
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

type RedisModeVariables = Pick<
  z.infer<typeof envSchema>,
  | 'REDIS_URL'
  | 'REDIS_SENTINELS'
  | 'REDIS_CLUSTER_NODES'
  | 'REDIS_SENTINEL_NAME'
  | 'REDIS_SENTINEL_USERNAME'
  | 'REDIS_SENTINEL_PASSWORD'
  | 'REDIS_USERNAME'
  | 'REDIS_PASSWORD'
  | 'REDIS_TLS'
  | 'REDIS_MIN_REPLICAS_ACK'
>;

/**
 * One way to reach Redis: `REDIS_URL` (one server, credentials and TLS in the URL),
 * `REDIS_SENTINELS` with `REDIS_SENTINEL_NAME`, or `REDIS_CLUSTER_NODES` (with either of the
 * last two, the data nodes' credentials and TLS in REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS).
 * A mix is refused, naming the variables.
 */
function checkRedisMode(env: RedisModeVariables, ctx: z.RefinementCtx): void {
  const modes = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((name) => env[name]);
  if (env.REDIS_MIN_REPLICAS_ACK > 0 && modes.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_MIN_REPLICAS_ACK'],
      message: 'needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES): the in-process stores have no replicas',
    });
  }
  if (modes.length > 1) {
    ctx.addIssue({ code: 'custom', path: [modes[0]], message: `and ${modes.slice(1).join(' and ')} are mutually exclusive: set one` });
  }
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_SENTINEL_NAME'],
      message: 'is required with REDIS_SENTINELS (the master name the sentinels monitor)',
    });
  }
  if (!env.REDIS_SENTINELS) {
    for (const name of ['REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_USERNAME', 'REDIS_SENTINEL_PASSWORD'] as const) {
      if (env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'needs REDIS_SENTINELS' });
    }
  }
  if (env.REDIS_URL) {
    for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD'] as const) {
      if (env[name])
        ctx.addIssue({ code: 'custom', path: [name], message: 'goes in REDIS_URL when REDIS_URL is set (redis://user:password@host)' });
    }
    if (env.REDIS_TLS) ctx.addIssue({ code: 'custom', path: ['REDIS_TLS'], message: 'is rediss:// in REDIS_URL when REDIS_URL is set' });
  }
}
