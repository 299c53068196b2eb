import { describe, expect, it } from '@jest/globals';
import { ConfigError } from './config.errors.js';
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
      http: { port: 8000, host: '0.0.0.0', bodyLimitBytes: 1_048_576 },
      logLevel: 'info',
      readiness: { minClients: 3, maxClients: 4, shed: false, trackClients: true, longTaskDefaultMs: 10_000, longTaskMaxMs: 600_000 },
      shutdown: { delayMs: 0, graceMs: 25_000 },
      balancer: {
        backends: [],
        backendsDns: undefined,
        strategy: 'round-robin',
        retryDowntimeMs: 10_000,
        maxResponseDelayMs: 2_000,
        healthCheckIntervalMs: 2_000,
        stickyMaxEntries: 100_000,
        connectionsPerBackend: 128,
      },
      smart: {
        upstreamUrl: undefined,
        firstTryMs: 300,
        backupRequests: 2,
        hedgeDelay: 'fixed',
        hedgePercentile: 95,
        timeoutMaxMs: 60_000,
        budgetTokens: 100,
        budgetRatio: 2,
      },
      work: { minMs: 100, maxMs: 600, hangRate: 1 / 11, errorRate: 1 / 11, invalidRate: 1 / 11, tailRate: 0, tailMs: 1000 },
      tracing: undefined,
      tasks: { defaultDurationMs: 20_000, maxDurationMs: 600_000, concurrency: 5, lockMs: 30_000 },
      websocket: { maxSubscriptions: 100, maxFrameBytes: 65_536 },
      clusterSize: 4,
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
    });
    expect(config.balancer).toEqual({
      backends: ['http://127.0.0.1:8000', 'http://127.0.0.1:8001'],
      backendsDns: undefined,
      strategy: 'least-latency',
      retryDowntimeMs: 500,
      maxResponseDelayMs: 300,
      healthCheckIntervalMs: 0,
      stickyMaxEntries: 10,
      connectionsPerBackend: 8,
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

  it('reads every variable it documents', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      BODY_LIMIT_BYTES: '2048',
      READY_MIN_CLIENTS: '5',
      READY_MAX_CLIENTS: '5',
      READY_SHED: 'true',
      READY_TRACK_CLIENTS: 'false',
      LONG_TASK_MS: '50',
      LONG_TASK_MAX_MS: '100',
      SHUTDOWN_DELAY_MS: '10',
      SHUTDOWN_GRACE_MS: '500',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      REDIS_PREFIX: 'blue',
    });
    expect(config).toMatchObject({
      role: 'service',
      http: { port: 9000, host: '127.0.0.1', bodyLimitBytes: 2048 },
      logLevel: 'warn',
      readiness: { minClients: 5, maxClients: 5, shed: true, trackClients: false, longTaskDefaultMs: 50, longTaskMaxMs: 100 },
      shutdown: { delayMs: 10, graceMs: 500 },
      redis: { url: 'redis://127.0.0.1:6379/2', prefix: 'blue' },
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
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ REDIS_PREFIX: 'a b' }, /^REDIS_PREFIX may hold only/],
    [{ ROLE: 'balancer' }, /^BACKENDS or BACKENDS_DNS is required when ROLE=balancer/],
    [{ BACKENDS: 'http://a:1', BACKENDS_DNS: 'b:2' }, /^BACKENDS and BACKENDS_DNS are mutually exclusive/],
    [{ BACKENDS: 'nope' }, /^BACKENDS holds "nope", which is not a URL/],
    [{ BACKENDS: 'https://a:1/x' }, /^BACKENDS holds "https:\/\/a:1\/x": only http:\/\/host:port origins/],
    [{ BACKENDS_DNS: 'svc' }, /^BACKENDS_DNS must be host:port/],
    [{ BALANCER_STRATEGY: 'random' }, /^BALANCER_STRATEGY must be round-robin or least-latency/],
    [{ FAULT_MODE: 'chaos' }, /^FAULT_MODE must be alternate or slow/],
    [{ SMART_HEDGE_DELAY: 'magic' }, /^SMART_HEDGE_DELAY must be fixed or auto/],
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

  it('lists every bad variable at once', () => {
    expect(
      problemsOf({ PORT: 'x', ROLE: 'y' })
        .map((problem) => problem.split(' ')[0])
        .sort(),
    ).toEqual(['PORT', 'ROLE']);
  });
});
