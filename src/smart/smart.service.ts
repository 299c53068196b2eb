import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram } from 'prom-client';
import { Agent } from 'undici';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { MetricsService } from '../ops/metrics.service.js';
import { runHedgedCall, type HedgedResult } from './hedged-call.js';
import { LatencyWindow } from './latency-window.js';
import { TokenBucket } from './token-bucket.js';

/** Samples needed before the adaptive delay trusts its percentile. */
const MIN_SAMPLES_FOR_AUTO = 20;

/** Hedged calls to the upstream: one pooled undici agent, one budget, one latency window. */
@Injectable()
export class SmartService implements OnApplicationShutdown {
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 256 });
  private readonly budget: TokenBucket;
  private readonly latencies = new LatencyWindow(1000);
  private readonly settings: AppConfig['smart'];
  private upstream?: URL;
  private readonly calls: Counter<'outcome'>;
  private readonly attempts: Counter<'result'>;
  private readonly duration: Histogram<'outcome'>;

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
    metrics: MetricsService,
  ) {
    this.settings = config.smart;
    if (config.smart.upstreamUrl) this.upstream = new URL(config.smart.upstreamUrl);
    this.budget = new TokenBucket(config.smart.budgetTokens, config.smart.budgetRatio);
    const registers = [metrics.registry];
    this.calls = new Counter({ name: 'ballast_smart_calls_total', help: 'Hedged calls by outcome', labelNames: ['outcome'], registers });
    this.attempts = new Counter({
      name: 'ballast_smart_attempts_total',
      help: 'Upstream attempts by result (won, failed, aborted)',
      labelNames: ['result'],
      registers,
    });
    this.duration = new Histogram({
      name: 'ballast_smart_duration_seconds',
      help: 'Hedged call response time by outcome',
      labelNames: ['outcome'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 5, 10],
      registers,
    });
    const budget = this.budget;
    // Read from the bucket's own totals at scrape time: a per-call difference of the totals
    // counted other calls' spending too whenever calls overlapped.
    new Counter({
      name: 'ballast_smart_budget_spent_total',
      help: 'Backup tokens spent',
      registers,
      collect() {
        this.reset();
        this.inc(budget.spent);
      },
    });
    new Counter({
      name: 'ballast_smart_budget_refused_total',
      help: 'Backups refused for want of tokens',
      registers,
      collect() {
        this.reset();
        this.inc(budget.refused);
      },
    });
    new Gauge({
      name: 'ballast_smart_budget_tokens',
      help: 'Backup tokens available',
      registers,
      collect() {
        this.set(budget.tokens);
      },
    });
    const hedgeDelaySeconds = () => this.hedgeDelayMs() / 1000;
    new Gauge({
      name: 'ballast_smart_hedge_delay_seconds',
      help: 'Current hedge delay',
      registers,
      collect() {
        this.set(hedgeDelaySeconds());
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }

  /** The delay before backups: fixed, or the configured percentile of recent latencies. */
  hedgeDelayMs(): number {
    if (this.settings.hedgeDelay === 'fixed' || this.latencies.count < MIN_SAMPLES_FOR_AUTO) return this.settings.firstTryMs;
    return this.latencies.percentile(this.settings.hedgePercentile) ?? this.settings.firstTryMs;
  }

  /**
   * Time enough for a fast answer: the 5th percentile of recent successes, once known. Only
   * read when replacements can happen at all (SMART_MAX_ATTEMPTS above 1 + backups): the
   * percentile sorts the window, which the default plan has no use for.
   */
  private replacementMinMs(): number | undefined {
    if (this.settings.maxAttempts <= 1 + this.settings.backupRequests || this.latencies.count < MIN_SAMPLES_FOR_AUTO) return undefined;
    return this.latencies.percentile(5);
  }

  /** `spentMs`: how much of the timeout passed before the call began (the request's reading). */
  async call(timeoutMs: number, spentMs = 0): Promise<HedgedResult> {
    const result = await runHedgedCall({
      url: this.upstreamUrl(),
      dispatcher: this.agent,
      plan: {
        deadlineMs: Math.max(1, timeoutMs - spentMs),
        hedgeDelayMs: this.hedgeDelayMs(),
        backups: this.settings.backupRequests,
        maxAttempts: this.settings.maxAttempts,
        replacementMinMs: this.replacementMinMs(),
      },
      budget: this.budget,
      // Successful latencies only: failures (often fast 500s) would drag the percentile down.
      onLatency: (ms, ok) => {
        if (ok) this.latencies.record(ms);
      },
    });
    this.calls.inc({ outcome: result.outcome });
    this.duration.observe({ outcome: result.outcome }, result.ms / 1000);
    for (const attempt of result.attempts) this.attempts.inc({ result: attempt.result });
    return result;
  }

  private upstreamUrl(): URL {
    if (!this.upstream) {
      // Default: this instance's own simulator, on whatever port it really listens.
      const { port } = this.adapterHost.httpAdapter.getHttpServer().address() as AddressInfo;
      this.upstream = new URL(`http://127.0.0.1:${port}/api/work`);
    }
    return this.upstream;
  }
}
