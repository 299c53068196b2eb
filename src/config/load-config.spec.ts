import { availableParallelism } from 'node:os';
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from './config.errors.js';
import { envSchema } from './config.schema.js';
import { loadConfig } from './load-config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('loadConfig', () => {
  it('has the documented defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      role: 'service',
      http: { port: 8000, host: '0.0.0.0', bodyLimitBytes: 1_048_576, bodyMaxDepth: 64 },
      logLevel: 'info',
      accessLog: { mode: 'all', sampleSuccesses: 1, includeQuery: false, file: undefined },
      readiness: { minClients: 3, maxClients: 4, shed: false, trackClients: true, longTaskDefaultMs: 10_000, longTaskMaxMs: 600_000 },
      shutdown: { delayMs: 0, graceMs: 25_000 },
      balancer: {
        backends: [],
        backendsDns: undefined,
        strategy: 'round-robin',
        retryDowntimeMs: 10_000,
        ejectConsecutive5xx: 5,
        maxEjectionPercent: 50,
        maxResponseDelayMs: 2_000,
        healthCheckIntervalMs: 2_000,
        stickyMaxEntries: 100_000,
        connectionsPerBackend: 128,
        workers: 1,
        queue: { maxWaitMs: 50, maxLength: 1000 },
        retryBudget: { percent: 20, minConcurrency: 10 },
        slowStartMs: 0,
        clientLimits: { ratePerSecond: 0, burst: 0, concurrency: 0, key: { kind: 'address' } },
        server: { headersTimeoutMs: 10_000, idleTimeoutMs: 72_000, keepAliveRequests: 1_000, maxConnections: 10_000 },
      },
      smart: {
        upstreamUrl: undefined,
        firstTryMs: 300,
        backupRequests: 2,
        maxAttempts: 3,
        hedgeDelay: 'fixed',
        hedgePercentile: 95,
        timeoutMaxMs: 60_000,
        budgetTokens: 100,
        budgetRatio: 2,
      },
      work: { minMs: 100, maxMs: 600, hangRate: 1 / 11, errorRate: 1 / 11, invalidRate: 1 / 11, tailRate: 0, tailMs: 1000 },
      tracing: undefined,
      tasks: {
        defaultDurationMs: 20_000,
        maxDurationMs: 600_000,
        concurrency: 5,
        lockMs: 30_000,
        workerSilentMs: 5_000,
        retry: { attempts: 3, backoffMs: 1_000, backoffMaxMs: 300_000 },
        idempotencyTtlMs: 86_400_000,
      },
      websocket: { maxSubscriptions: 100, maxFrameBytes: 65_536, heartbeatMs: 30_000, maxBufferedBytes: 4_194_304 },
      clusterSize: 4,
      admin: { token: undefined },
      fault: undefined,
      redis: undefined,
    });
  });

  it('defaults the balancer to port 8080', () => {
    expect(loadConfig({ ROLE: 'balancer', BACKENDS: 'http://127.0.0.1:8000' }).http.port).toBe(8080);
  });

  it('reads the balancer settings', () => {
    const config = loadConfig({
      ROLE: 'balancer',
      BACKENDS: 'http://127.0.0.1:8000, http://127.0.0.1:8001/,http://127.0.0.1:8000',
      BALANCER_STRATEGY: 'least-latency',
      RETRY_DOWNTIME_MS: '500',
      MAX_RESPONSE_DELAY_MS: '300',
      HEALTH_CHECK_INTERVAL_MS: '0',
      STICKY_MAX_ENTRIES: '10',
      BALANCER_CONNECTIONS: '8',
      BALANCER_WORKERS: '2',
    });
    expect(config.balancer).toEqual({
      backends: ['http://127.0.0.1:8000', 'http://127.0.0.1:8001'],
      backendsDns: undefined,
      strategy: 'least-latency',
      retryDowntimeMs: 500,
      ejectConsecutive5xx: 5,
      maxEjectionPercent: 50,
      maxResponseDelayMs: 300,
      healthCheckIntervalMs: 0,
      stickyMaxEntries: 10,
      connectionsPerBackend: 8,
      workers: 2,
      queue: { maxWaitMs: 50, maxLength: 1000 },
      retryBudget: { percent: 20, minConcurrency: 10 },
      slowStartMs: 0,
      clientLimits: { ratePerSecond: 0, burst: 0, concurrency: 0, key: { kind: 'address' } },
      server: { headersTimeoutMs: 10_000, idleTimeoutMs: 72_000, keepAliveRequests: 1_000, maxConnections: 10_000 },
    });
    expect(loadConfig({ ROLE: 'balancer', BACKENDS_DNS: 'web.default.svc:8000' }).balancer.backendsDns).toEqual({
      host: 'web.default.svc',
      port: 8000,
    });
  });

  it('turns tracing on only when OTEL_* ask for an exporter', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      exporter: 'otlp',
      serviceName: 'ballast',
      endpoint: 'http://collector:4318/v1/traces',
    });
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://zipkin:9411/api/v2/spans' }).tracing,
    ).toEqual({
      exporter: 'zipkin',
      serviceName: 'ballast',
      endpoint: 'http://zipkin:9411/api/v2/spans',
    });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing).toBeUndefined();
  });

  it('reads fault injection', () => {
    expect(loadConfig({ FAULT_MODE: 'slow', FAULT_DELAY_MS: '50' }).fault).toEqual({ mode: 'slow', delayMs: 50 });
  });

  it('treats empty and blank values as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '  ' })).toMatchObject({ http: { port: 8000 }, redis: undefined });
  });

  // Two environments between them set every variable the schema knows to a value other than
  // its default (BACKENDS and BACKENDS_DNS exclude each other; one OTLP endpoint wins over the other).
  const everyVariable: Record<string, string> = {
    ROLE: 'balancer',
    PORT: '9000',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ACCESS_LOG: 'errors',
    ACCESS_LOG_SAMPLE: '0.1',
    ACCESS_LOG_QUERY: 'true',
    ACCESS_LOG_FILE: '/var/log/ballast/access.log',
    BODY_LIMIT_BYTES: '2048',
    BODY_MAX_DEPTH: '8',
    READY_MIN_CLIENTS: '5',
    READY_MAX_CLIENTS: '6',
    READY_SHED: 'true',
    READY_TRACK_CLIENTS: 'false',
    LONG_TASK_MS: '50',
    LONG_TASK_MAX_MS: '100',
    SHUTDOWN_DELAY_MS: '10',
    SHUTDOWN_GRACE_MS: '500',
    BACKENDS: 'http://127.0.0.1:8000',
    BALANCER_STRATEGY: 'least-latency',
    RETRY_DOWNTIME_MS: '500',
    EJECT_CONSECUTIVE_5XX: '3',
    MAX_EJECTION_PERCENT: '100',
    MAX_RESPONSE_DELAY_MS: '300',
    HEALTH_CHECK_INTERVAL_MS: '0',
    STICKY_MAX_ENTRIES: '10',
    BALANCER_CONNECTIONS: '8',
    BALANCER_WORKERS: '2',
    BALANCER_QUEUE_MS: '20',
    BALANCER_QUEUE_MAX: '30',
    BALANCER_RETRY_BUDGET_PERCENT: '10',
    BALANCER_RETRY_BUDGET_MIN: '1',
    BALANCER_SLOW_START_MS: '2000',
    BALANCER_CLIENT_RATE: '100',
    BALANCER_CLIENT_BURST: '20',
    BALANCER_CLIENT_CONCURRENCY: '4',
    BALANCER_CLIENT_KEY: 'header:X-Api-Key',
    BALANCER_HEADERS_TIMEOUT_MS: '2000',
    BALANCER_IDLE_TIMEOUT_MS: '1000',
    BALANCER_KEEPALIVE_REQUESTS: '50',
    BALANCER_MAX_CONNECTIONS: '500',
    CLUSTER_SIZE: '2',
    FAULT_MODE: 'slow',
    FAULT_DELAY_MS: '50',
    SMART_UPSTREAM_URL: 'http://up.example:9000/work',
    SMART_FIRST_TRY_MS: '200',
    SMART_BACKUP_REQUESTS: '3',
    SMART_MAX_ATTEMPTS: '5',
    SMART_HEDGE_DELAY: 'auto',
    SMART_HEDGE_PERCENTILE: '99',
    SMART_TIMEOUT_MAX_MS: '5000',
    SMART_BUDGET_TOKENS: '7',
    SMART_BUDGET_RATIO: '0.5',
    WORK_MIN_MS: '1',
    WORK_MAX_MS: '2',
    WORK_HANG_RATE: '0.1',
    WORK_ERROR_RATE: '0.2',
    WORK_INVALID_RATE: '0.3',
    WORK_TAIL_RATE: '0.01',
    WORK_TAIL_MS: '900',
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom/traces',
    OTEL_SERVICE_NAME: 'edge',
    TASK_DEFAULT_DURATION_MS: '30',
    TASK_MAX_DURATION_MS: '40',
    TASK_CONCURRENCY: '0',
    TASK_LOCK_MS: '2000',
    TASK_WORKER_SILENT_MS: '1500',
    TASK_ATTEMPTS: '4',
    TASK_BACKOFF_MS: '50',
    TASK_BACKOFF_MAX_MS: '800',
    TASK_IDEMPOTENCY_TTL_MS: '60000',
    WS_MAX_SUBSCRIPTIONS: '9',
    WS_MAX_FRAME_BYTES: '1024',
    WS_HEARTBEAT_MS: '500',
    WS_MAX_BUFFERED_BYTES: '131072',
    REDIS_URL: 'redis://user:p%40ss@127.0.0.1:6380/2',
    REDIS_PREFIX: 'blue',
    ADMIN_TOKEN: 'correct-horse-battery-staple',
    REDIS_COMMAND_TIMEOUT_MS: '700',
    REDIS_MIN_REPLICAS_ACK: '1',
  };
  const theOtherVariables: Record<string, string> = {
    BACKENDS_DNS: 'web.default.svc:8000',
    REDIS_SENTINELS: 'sentinel-0.redis:26379, sentinel-1.redis:26379,[::1]:26380',
    REDIS_SENTINEL_NAME: 'mymaster',
    REDIS_SENTINEL_USERNAME: 'watcher',
    REDIS_SENTINEL_PASSWORD: 'sentinel secret',
    REDIS_USERNAME: 'app',
    REDIS_PASSWORD: 'data secret',
    REDIS_TLS: 'true',
    REDIS_CLUSTER_NODES: 'redis-cluster-0.redis:6379,10.0.0.7:7000',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://zipkin:9411/api/v2/spans',
  };

  it('between two environments, sets every variable the schema knows (so the next test covers them all)', () => {
    const covered = [...Object.keys(everyVariable), ...Object.keys(theOtherVariables)].sort();
    expect(covered).toEqual(Object.keys(envSchema.shape).sort());
  });

  it('reads every variable into the typed config', () => {
    expect(loadConfig(everyVariable)).toEqual({
      role: 'balancer',
      http: { port: 9000, host: '127.0.0.1', bodyLimitBytes: 2048, bodyMaxDepth: 8 },
      logLevel: 'warn',
      accessLog: { mode: 'errors', sampleSuccesses: 0.1, includeQuery: true, file: '/var/log/ballast/access.log' },
      readiness: { minClients: 5, maxClients: 6, shed: true, trackClients: false, longTaskDefaultMs: 50, longTaskMaxMs: 100 },
      shutdown: { delayMs: 10, graceMs: 500 },
      balancer: {
        backends: ['http://127.0.0.1:8000'],
        backendsDns: undefined,
        strategy: 'least-latency',
        retryDowntimeMs: 500,
        ejectConsecutive5xx: 3,
        maxEjectionPercent: 100,
        maxResponseDelayMs: 300,
        healthCheckIntervalMs: 0,
        stickyMaxEntries: 10,
        connectionsPerBackend: 8,
        workers: 2,
        queue: { maxWaitMs: 20, maxLength: 30 },
        retryBudget: { percent: 10, minConcurrency: 1 },
        slowStartMs: 2000,
        clientLimits: { ratePerSecond: 100, burst: 20, concurrency: 4, key: { kind: 'header', name: 'x-api-key' } },
        server: { headersTimeoutMs: 2000, idleTimeoutMs: 1000, keepAliveRequests: 50, maxConnections: 500 },
      },
      smart: {
        upstreamUrl: 'http://up.example:9000/work',
        firstTryMs: 200,
        backupRequests: 3,
        maxAttempts: 5,
        hedgeDelay: 'auto',
        hedgePercentile: 99,
        timeoutMaxMs: 5000,
        budgetTokens: 7,
        budgetRatio: 0.5,
      },
      work: { minMs: 1, maxMs: 2, hangRate: 0.1, errorRate: 0.2, invalidRate: 0.3, tailRate: 0.01, tailMs: 900 },
      tracing: { exporter: 'otlp', serviceName: 'edge', endpoint: 'http://collector:4318/custom/traces' },
      tasks: {
        defaultDurationMs: 30,
        maxDurationMs: 40,
        concurrency: 0,
        lockMs: 2000,
        workerSilentMs: 1500,
        retry: { attempts: 4, backoffMs: 50, backoffMaxMs: 800 },
        idempotencyTtlMs: 60_000,
      },
      websocket: { maxSubscriptions: 9, maxFrameBytes: 1024, heartbeatMs: 500, maxBufferedBytes: 131_072 },
      clusterSize: 2,
      admin: { token: 'correct-horse-battery-staple' },
      fault: { mode: 'slow', delayMs: 50 },
      redis: {
        endpoint: { mode: 'standalone', url: 'redis://user:p%40ss@127.0.0.1:6380/2' },
        prefix: 'blue',
        commandTimeoutMs: 700,
        minReplicasAck: 1,
      },
    });
    const { BACKENDS: _backends, OTEL_TRACES_EXPORTER: _exporter, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: _endpoint, ...rest } = everyVariable;
    const other = loadConfig({ ...rest, BACKENDS_DNS: theOtherVariables.BACKENDS_DNS });
    expect(other.balancer.backendsDns).toEqual({ host: 'web.default.svc', port: 8000 });
    const { REDIS_URL: _url, ...withoutUrl } = everyVariable;
    const sentinelVariables = Object.fromEntries(
      Object.entries(theOtherVariables).filter(([name]) => name.startsWith('REDIS_') && name !== 'REDIS_CLUSTER_NODES'),
    );
    expect(loadConfig({ ...withoutUrl, ...sentinelVariables }).redis).toEqual({
      endpoint: {
        mode: 'sentinel',
        sentinels: [
          { host: 'sentinel-0.redis', port: 26379 },
          { host: 'sentinel-1.redis', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        name: 'mymaster',
        sentinelUsername: 'watcher',
        sentinelPassword: 'sentinel secret',
        username: 'app',
        password: 'data secret',
        tls: true,
      },
      prefix: 'blue',
      commandTimeoutMs: 700,
      minReplicasAck: 1,
    });
    const { REDIS_CLUSTER_NODES, REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS } = theOtherVariables;
    expect(loadConfig({ ...withoutUrl, REDIS_CLUSTER_NODES, REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS }).redis?.endpoint).toEqual({
      mode: 'cluster',
      nodes: [
        { host: 'redis-cluster-0.redis', port: 6379 },
        { host: '10.0.0.7', port: 7000 },
      ],
      username: 'app',
      password: 'data secret',
      tls: true,
    });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: theOtherVariables.OTEL_EXPORTER_OTLP_ENDPOINT }).tracing?.endpoint).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(loadConfig({ OTEL_EXPORTER_ZIPKIN_ENDPOINT: theOtherVariables.OTEL_EXPORTER_ZIPKIN_ENDPOINT }).tracing).toEqual({
      exporter: 'zipkin',
      serviceName: 'ballast',
      endpoint: 'http://zipkin:9411/api/v2/spans',
    });
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT .*number.*\(got "abc"\)/],
    [{ PORT: '70000' }, /^PORT must be <= 65535/],
    [{ PORT: '80.5' }, /^PORT must be an integer/],
    [{ ROLE: 'proxy' }, /^ROLE must be service or balancer/],
    [{ READY_SHED: 'maybe' }, /^READY_SHED must be true or false/],
    [{ READY_MAX_CLIENTS: '100001' }, /^READY_MAX_CLIENTS must be <= 100000/],
    [{ READY_MIN_CLIENTS: '5', READY_MAX_CLIENTS: '4' }, /^READY_MIN_CLIENTS must be <= READY_MAX_CLIENTS \(4\)/],
    [{ LONG_TASK_MS: '20', LONG_TASK_MAX_MS: '10' }, /^LONG_TASK_MS must be <= LONG_TASK_MAX_MS/],
    [{ REDIS_URL: 'http://localhost' }, /^REDIS_URL must be a redis:\/\//],
    [
      { REDIS_URL: 'redis://a:1', REDIS_SENTINELS: 'b:2', REDIS_SENTINEL_NAME: 'm' },
      /^REDIS_URL and REDIS_SENTINELS are mutually exclusive/,
    ],
    [{ REDIS_SENTINELS: 'b:2' }, /^REDIS_SENTINEL_NAME is required with REDIS_SENTINELS/],
    [{ REDIS_SENTINELS: 'b:2,c', REDIS_SENTINEL_NAME: 'm' }, /^REDIS_SENTINELS must be a list of host:port \(not "c"\)/],
    [{ REDIS_SENTINELS: 'b:70000', REDIS_SENTINEL_NAME: 'm' }, /^REDIS_SENTINELS must be a list of host:port/],
    [{ REDIS_SENTINEL_NAME: 'm' }, /^REDIS_SENTINEL_NAME needs REDIS_SENTINELS/],
    [
      { REDIS_SENTINELS: 'b:2', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'c:3' },
      /^REDIS_SENTINELS and REDIS_CLUSTER_NODES are mutually exclusive/,
    ],
    [{ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'c:3' }, /^REDIS_URL and REDIS_CLUSTER_NODES are mutually exclusive/],
    [{ REDIS_CLUSTER_NODES: 'c' }, /^REDIS_CLUSTER_NODES must be a list of host:port \(not "c"\)/],
    [{ REDIS_CLUSTER_NODES: 'c:3', REDIS_SENTINEL_PASSWORD: 'x' }, /^REDIS_SENTINEL_PASSWORD needs REDIS_SENTINELS/],
    [
      { REDIS_URL: 'redis://a:1', REDIS_PASSWORD: 'x' },
      /^REDIS_PASSWORD goes in REDIS_URL when REDIS_URL is set \(redis:\/\/user:password@host\) \(got 1 characters\)$/,
    ],
    [{ REDIS_URL: 'redis://a:1', REDIS_TLS: 'true' }, /^REDIS_TLS is rediss:\/\/ in REDIS_URL/],
    [{ REDIS_MIN_REPLICAS_ACK: '1' }, /^REDIS_MIN_REPLICAS_ACK needs Redis \(REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES\)/],
    [{ REDIS_URL: 'redis://a:1', REDIS_MIN_REPLICAS_ACK: '17' }, /^REDIS_MIN_REPLICAS_ACK must be <= 16/],
    [{ TASK_WORKER_SILENT_MS: '500' }, /^TASK_WORKER_SILENT_MS must be 0 \(off\) or at least 1000/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ ACCESS_LOG: 'some' }, /^ACCESS_LOG must be off, all or errors/],
    [{ ACCESS_LOG_SAMPLE: '1.5' }, /^ACCESS_LOG_SAMPLE must be <= 1/],
    [{ REDIS_PREFIX: 'a b' }, /^REDIS_PREFIX may hold only/],
    [{ ADMIN_TOKEN: 'short secret' }, /^ADMIN_TOKEN must be 16 to 512 printable ASCII characters without spaces \(got 12 characters\)$/],
    [{ ROLE: 'balancer' }, /^BACKENDS or BACKENDS_DNS is required when ROLE=balancer/],
    [{ BACKENDS: 'http://a:1', BACKENDS_DNS: 'b:2' }, /^BACKENDS and BACKENDS_DNS are mutually exclusive/],
    [{ BACKENDS: 'nope' }, /^BACKENDS holds "nope", which is not a URL/],
    [{ BACKENDS: 'https://a:1/x' }, /^BACKENDS holds "https:\/\/a:1\/x": only http:\/\/host:port origins/],
    [{ BACKENDS_DNS: 'svc' }, /^BACKENDS_DNS must be host:port/],
    [{ BALANCER_STRATEGY: 'random' }, /^BALANCER_STRATEGY must be round-robin or least-latency/],
    [{ FAULT_MODE: 'chaos' }, /^FAULT_MODE must be alternate or slow/],
    [{ SMART_HEDGE_DELAY: 'magic' }, /^SMART_HEDGE_DELAY must be fixed or auto/],
    [{ SMART_MAX_ATTEMPTS: '6' }, /^SMART_MAX_ATTEMPTS must be <= 5/],
    [{ BALANCER_WORKERS: '0' }, /^BALANCER_WORKERS must be auto or an integer from 1 to 64/],
    [{ BALANCER_WORKERS: '65' }, /^BALANCER_WORKERS must be auto or an integer from 1 to 64/],
    [{ SMART_HEDGE_PERCENTILE: '0' }, /^SMART_HEDGE_PERCENTILE must be > 0/],
    [{ WORK_MIN_MS: '700' }, /^WORK_MIN_MS must be <= WORK_MAX_MS \(600\)/],
    [{ WORK_HANG_RATE: '0.5', WORK_ERROR_RATE: '0.5', WORK_INVALID_RATE: '0.1' }, /^WORK_HANG_RATE plus WORK_ERROR_RATE/],
    [{ WORK_TAIL_RATE: '2' }, /^WORK_TAIL_RATE must be <= 1/],
    [{ SMART_UPSTREAM_URL: 'ftp://x' }, /^SMART_UPSTREAM_URL must be an http\(s\) URL/],
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, /^OTEL_TRACES_EXPORTER must be otlp, zipkin, console or none/],
  ])('rejects %j naming the variable and rule', (env, message) => {
    const problems = problemsOf(env as Record<string, string>);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('BALANCER_WORKERS=auto is the number of cores', () => {
    expect(loadConfig({ BALANCER_WORKERS: 'auto' }).balancer.workers).toBe(availableParallelism());
  });

  it('lists every bad variable at once', () => {
    expect(
      problemsOf({ PORT: 'x', ROLE: 'y' })
        .map((problem) => problem.split(' ')[0])
        .sort(),
    ).toEqual(['PORT', 'ROLE']);
  });
});
