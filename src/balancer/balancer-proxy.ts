import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { Counter, Gauge } from 'prom-client';
import { Pool, type Dispatcher } from 'undici';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { DRAIN_ORDER, IdleWaiters, ShutdownCoordinator } from '../lifecycle/index.js';
import { errorBody } from '../ops/error-body.js';
import { lingerAfterEarlyAnswer } from '../ops/lingering-close.js';
import { MetricsService } from '../ops/metrics.service.js';
import { Backend } from './backend.js';
import { BackendPool } from './backend-pool.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarding-headers.js';
import { OutlierPolicy, retryAfterMs, type AttemptResult } from './outlier-policy.js';
import { classifyUpstreamError, type AttemptFailure } from './proxy-errors.js';
import { stickyRoute, type StickyRoute } from './sticky-route.js';

/** Envoy's max_ejection_time default: repeated ejections grow up to this. */
const MAX_EJECTION_MS = 300_000;
/** Longest a backend's "busy" Retry-After is honoured. */
const MAX_BUSY_MS = 60_000;
const SUCCESS: AttemptResult = { kind: 'success' };

/** Methods whose repetition has no further effect (RFC 9110 9.2.2): safe to resend. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export interface AttemptRecord {
  readonly backend: string;
  readonly failure?: AttemptFailure;
  readonly status?: number;
}

/**
 * The balancer's data path: a plain (req, res) handler on the HTTP server, outside
 * Nest's router, streaming both ways through one undici Pool per backend.
 */
@Injectable()
export class BalancerProxy implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Balancer');
  readonly pool: BackendPool;
  readonly outliers: OutlierPolicy;
  private readonly upstreams = new Map<string, Pool>();
  private readonly sticky: LRUCache<string, string>;
  private inFlight = 0;
  private readonly idle = new IdleWaiters();
  private readonly settings: AppConfig['balancer'];
  private readonly outcomes: Counter<'backend' | 'outcome'>;
  private readonly ejections: Counter<'backend'>;
  /** Labelled children cached per backend and outcome: no label hashing per request. */
  private readonly outcomeChildren = new Map<Backend, Map<string, Counter.Internal>>();

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly coordinator: ShutdownCoordinator,
    metrics: MetricsService,
  ) {
    this.settings = config.balancer;
    this.pool = new BackendPool([], this.settings.strategy);
    this.outliers = new OutlierPolicy({
      baseEjectionMs: this.settings.retryDowntimeMs,
      maxEjectionMs: MAX_EJECTION_MS,
      consecutive5xx: this.settings.ejectConsecutive5xx,
      maxEjectionPercent: this.settings.maxEjectionPercent,
      maxBusyMs: MAX_BUSY_MS,
    });
    this.setBackends(this.settings.backends);
    this.sticky = new LRUCache({ max: this.settings.stickyMaxEntries });

    const registers = [metrics.registry];
    this.outcomes = new Counter({
      name: 'ballast_balancer_attempts_total',
      help: 'Upstream attempts by backend and outcome',
      labelNames: ['backend', 'outcome'],
      registers,
    });
    this.ejections = new Counter({
      name: 'ballast_balancer_ejections_total',
      help: 'Passive ejections by backend',
      labelNames: ['backend'],
      registers,
    });
    const pool = this.pool;
    const perBackend = (name: string, help: string, read: (backend: Backend) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['backend'],
        registers,
        collect() {
          this.reset();
          for (const backend of pool.backends) this.set({ backend: backend.url }, read(backend));
        },
      });
    perBackend('ballast_balancer_backend_in_flight', 'Requests in flight per backend', (b) => b.inFlight);
    perBackend('ballast_balancer_backend_latency_ewma_seconds', 'Peak-EWMA time to response headers', (b) => b.latency.ms / 1000);
    perBackend('ballast_balancer_backend_ejected', '1 while passively ejected', (b) => (b.isEjected(Date.now()) ? 1 : 0));
    perBackend('ballast_balancer_backend_ready', '1 while its last /ready check passed', (b) => (b.ready ? 1 : 0));
  }

  onModuleInit(): void {
    this.coordinator.registerDrainStep({
      name: 'proxied requests',
      order: DRAIN_ORDER.http,
      run: () => this.whenIdle(),
      pending: () => (this.inFlight > 0 ? `${this.inFlight} proxied requests in flight` : undefined),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((upstream) => upstream.close()));
  }

  /** Replaces the backend list (static config or a DNS answer), opening and closing pools. */
  setBackends(urls: readonly string[]): void {
    const { added, removed } = this.pool.replace(urls);
    for (const url of added) {
      this.upstreams.set(
        url,
        new Pool(url, {
          connections: this.settings.connectionsPerBackend,
          keepAliveTimeout: 30_000,
          headersTimeout: this.settings.maxResponseDelayMs,
          bodyTimeout: 0,
        }),
      );
    }
    for (const url of removed) {
      void this.upstreams.get(url)?.close();
      this.upstreams.delete(url);
    }
    if (added.length || removed.length) {
      this.logger.log(`backends: ${urls.join(', ') || 'none'}${removed.length ? ` (removed ${removed.join(', ')})` : ''}`);
    }
  }

  upstream(backend: Backend): Pool | undefined {
    return this.upstreams.get(backend.url);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight += 1;
    new ProxyExchange(this, req, res).start();
  };

  /** Called once per exchange, when the client's response closes (finished or not). */
  exchangeClosed(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0) this.idle.release();
  }

  whenIdle(): Promise<void> {
    return this.idle.until(this.inFlight === 0);
  }

  get maxResponseDelayMs(): number {
    return this.settings.maxResponseDelayMs;
  }

  stickyOwner(itemId: string): string | undefined {
    return this.sticky.get(itemId);
  }

  recordSticky(route: StickyRoute, backend: Backend, status: number): void {
    if (status < 200 || status >= 300) return;
    if (route.kind === 'create') this.sticky.set(route.itemId, backend.url);
    else if (route.kind === 'access' && route.deletes) this.sticky.delete(route.itemId);
  }

  forgetSticky(itemId: string): void {
    this.sticky.delete(itemId);
  }

  get stickyEntries(): number {
    return this.sticky.size;
  }

  countOutcome(backend: Backend, outcome: AttemptFailure | 'success'): void {
    let children = this.outcomeChildren.get(backend);
    if (!children) {
      children = new Map();
      this.outcomeChildren.set(backend, children);
    }
    let child = children.get(outcome);
    if (!child) {
      child = this.outcomes.labels({ backend: backend.url, outcome });
      children.set(outcome, child);
    }
    child.inc();
  }

  /** Feeds an attempt's outcome to the outlier policy and reports what it decided. */
  judge(backend: Backend, result: AttemptResult, firstAttempt: boolean): void {
    const verdict = this.outliers.record(backend, result, Date.now(), firstAttempt, this.pool.backends);
    switch (verdict.action) {
      case 'none':
        return;
      case 'ejected':
        this.ejections.inc({ backend: backend.url });
        this.logger.warn(`ejected ${backend.url} for ${verdict.forMs} ms: ${verdict.why}`);
        return;
      case 'busy':
        this.logger.log(`${backend.url} is busy for ${verdict.forMs} ms (503 with Retry-After): skipped, not ejected`);
        return;
      case 'cap_reached':
        this.logger.warn(`not ejecting ${backend.url} (${verdict.why}): MAX_EJECTION_PERCENT of the fleet is already ejected`);
        return;
      default: {
        const unreachable: never = verdict;
        return unreachable;
      }
    }
  }

  /** A passing /ready check ends an ejection early; the backend returns half-open. */
  activeCheckPassed(backend: Backend): void {
    if (this.outliers.activeCheckPassed(backend, Date.now())) {
      this.logger.log(`${backend.url} passed its active check: ejection ended early, one probe request next`);
    }
  }
}

/** One client request and its upstream attempts. */
class ProxyExchange {
  /** Backends this request already tried; made on the first retry only. */
  private tried?: Set<Backend>;
  private firstTried?: Backend;
  private readonly attempts: AttemptRecord[] = [];
  private readonly method: string;
  private readonly hasBody: boolean;
  private target = '/';
  private upstreamHeaders?: Record<string, string | string[]>;
  private route: StickyRoute = { kind: 'none' };
  private owner?: Backend;
  private current?: Dispatcher.DispatchController;
  committed = false;
  clientGone = false;
  /** The client's body began flowing to an upstream: it cannot be sent again. */
  bodyStarted = false;

  constructor(
    readonly proxy: BalancerProxy,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    this.hasBody =
      req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  }

  start(): void {
    this.res.on('close', this.onClose);
    const target = originForm(this.req.url ?? '/');
    if (target === undefined) {
      this.reply(400, 'The request target must be a path');
      return;
    }
    this.target = target;
    this.upstreamHeaders = upstreamRequestHeaders(this.req.headers, {
      ip: this.req.socket.remoteAddress,
      proto: 'http',
      host: this.req.headers.host,
    });
    this.route = stickyRoute(this.method, target);
    // Reads, writes and deletes of a mapped item go to its owner; so does a create of an id
    // already mapped, which the owner answers 400 "exists" (round robin would let a second
    // backend create a second copy and move the mapping to it).
    if (this.route.kind !== 'none') {
      const ownerUrl = this.proxy.stickyOwner(this.route.itemId);
      const owner = ownerUrl === undefined ? undefined : this.proxy.pool.byUrl(ownerUrl);
      if (ownerUrl !== undefined && owner === undefined) this.proxy.forgetSticky(this.route.itemId);
      if (owner) {
        const now = Date.now();
        if (owner.isEjected(now)) {
          const seconds = Math.max(1, Math.ceil((owner.ejectedUntil - now) / 1000));
          this.reply(503, `Item ${this.route.itemId} lives on ${owner.url}, which is ejected`, seconds);
          return;
        }
        this.owner = owner;
      }
    }
    this.next();
  }

  private readonly onClose = (): void => {
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.current?.abort(new Error('client went away'));
    }
    this.proxy.exchangeClosed();
  };

  /** Whether a failed attempt may be sent to another backend. */
  canRetry(failure: AttemptFailure): boolean {
    if (this.owner || this.clientGone || this.committed) return false;
    if (this.bodyStarted) return false;
    // A connect error means nothing was sent: safe for any method (as nginx does).
    return failure === 'connect' || IDEMPOTENT.has(this.method);
  }

  next(): void {
    if (this.firstTried && !this.tried) this.tried = new Set([this.firstTried]);
    const backend = this.owner ? (this.firstTried ? undefined : this.owner) : this.proxy.pool.pick(Date.now(), this.tried);
    const upstream = backend && this.proxy.upstream(backend);
    if (!backend || !upstream) {
      this.giveUp();
      return;
    }
    const firstAttempt = this.firstTried === undefined;
    if (this.tried) this.tried.add(backend);
    else this.firstTried = backend;
    this.proxy.outliers.attemptStarted(backend);
    backend.inFlight += 1;
    backend.requests += 1;
    // A pass-through per attempt, so an upstream failure destroys it and not the
    // client's socket; the client's body flows into it only once a connection is up.
    const body = this.hasBody ? new PassThrough() : null;
    upstream.dispatch(
      {
        path: this.target,
        method: this.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders,
        body,
        headersTimeout: this.proxy.maxResponseDelayMs,
        bodyTimeout: 0,
      },
      new AttemptHandler(this, backend, performance.now(), body, firstAttempt),
    );
  }

  /** An upstream connection is ready to take this attempt: start the body flowing. */
  attemptConnected(controller: Dispatcher.DispatchController, body: PassThrough | null): void {
    this.current = controller;
    if (body && !this.bodyStarted) {
      this.bodyStarted = true;
      this.req.pipe(body);
    }
  }

  recordAttempt(record: AttemptRecord): void {
    this.attempts.push(record);
  }

  get stickyRoute(): StickyRoute {
    return this.route;
  }

  /** Out of backends or retries: answer at once, naming every attempt. */
  giveUp(): void {
    if (this.clientGone) return;
    if (this.attempts.length === 0) {
      const nextReturn = this.proxy.pool.nextReturnMs(Date.now());
      const seconds = nextReturn === undefined ? 1 : Math.max(1, Math.ceil((nextReturn - Date.now()) / 1000));
      this.reply(503, 'No backend available: all are ejected', seconds);
      return;
    }
    const timedOut = this.attempts.at(-1)?.failure === 'timeout';
    const body = {
      ...errorBody(timedOut ? 504 : 502, `All ${this.attempts.length} attempts failed`),
      attempts: this.attempts,
    };
    this.send(timedOut ? 504 : 502, body);
  }

  private reply(status: number, message: string, retryAfterSeconds?: number): void {
    this.send(status, errorBody(status, message), retryAfterSeconds);
  }

  private send(status: number, body: object, retryAfterSeconds?: number): void {
    const payload = JSON.stringify(body);
    const headers: Record<string, string | number> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(payload),
    };
    if (retryAfterSeconds !== undefined) headers['retry-after'] = retryAfterSeconds;
    lingerAfterEarlyAnswer(this.req, this.res);
    this.res.writeHead(status, headers).end(payload);
  }
}

/** Receives one upstream attempt's response (undici's dispatch handler API). */
class AttemptHandler implements Dispatcher.DispatchHandler {
  private settled = false;
  /** A 5xx that will be retried elsewhere: its body is read and dropped, keeping the connection. */
  private discarded = false;
  private streaming = false;
  /** Bytes the upstream announced (content-length), or -1; the last chunk goes out with end(). */
  private remaining = -1;
  private ended = false;
  private controller?: Dispatcher.DispatchController;

  constructor(
    private readonly exchange: ProxyExchange,
    private readonly backend: Backend,
    private readonly startedAt: number,
    private readonly body: PassThrough | null,
    private readonly firstAttempt: boolean,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.exchange.attemptConnected(controller, this.body);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    const { exchange, backend } = this;
    const proxy = exchange.proxy;
    backend.latency.observe(performance.now() - this.startedAt, Date.now());
    if (statusCode >= 500) {
      const busyMs = statusCode === 503 ? retryAfterMs(headers['retry-after'], Date.now()) : undefined;
      proxy.judge(backend, { kind: 'status_5xx', status: statusCode, retryAfterMs: busyMs }, this.firstAttempt);
      backend.failures += 1;
      proxy.countOutcome(backend, 'status_5xx');
      exchange.recordAttempt({ backend: backend.url, status: statusCode });
      if (exchange.canRetry('status_5xx')) {
        this.discarded = true;
        this.settle();
        exchange.next();
        return;
      }
    } else {
      proxy.judge(backend, SUCCESS, this.firstAttempt);
      proxy.countOutcome(backend, 'success');
    }
    const res = exchange.res;
    exchange.committed = true;
    this.streaming = true;
    const length = headers['content-length'];
    if (typeof length === 'string') this.remaining = Number(length);
    lingerAfterEarlyAnswer(exchange.req, res);
    res.writeHead(statusCode, clientResponseHeaders(headers, backend.url));
    this.controller = controller;
    res.on('drain', this.resume);
    if (statusCode < 300) proxy.recordSticky(exchange.stickyRoute, backend, statusCode);
  }

  private readonly resume = (): void => this.controller?.resume();

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.streaming || this.ended) return;
    if (this.remaining === chunk.length) {
      // Headers and the whole (small) body leave in one write instead of two.
      this.ended = true;
      this.exchange.res.end(chunk);
      return;
    }
    if (this.remaining > 0) this.remaining -= chunk.length;
    if (!this.exchange.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.settle();
    if (this.streaming && !this.ended) this.exchange.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const wasSettled = this.settled;
    this.settle();
    if (wasSettled || this.discarded) return;
    const { exchange, backend } = this;
    if (this.streaming) {
      // Bytes already reached the client: nothing can be retried or replaced.
      exchange.res.destroy(error);
      return;
    }
    if (exchange.clientGone) {
      // Not the backend's doing; a probe cut short this way is simply tried again.
      backend.probeInFlight = false;
      exchange.proxy.countOutcome(backend, 'client_gone');
      return;
    }
    const failure = classifyUpstreamError(error);
    backend.failures += 1;
    exchange.proxy.countOutcome(backend, failure);
    exchange.proxy.judge(backend, { kind: 'failure', failure }, this.firstAttempt);
    exchange.recordAttempt({ backend: backend.url, failure });
    if (exchange.canRetry(failure)) exchange.next();
    else exchange.giveUp();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.backend.inFlight -= 1;
  }
}

/** The path and query of an origin-form or absolute-form target; never another host. */
function originForm(url: string): string | undefined {
  if (url.startsWith('/')) return url;
  if (!/^https?:\/\//i.test(url)) return undefined;
  try {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return undefined;
  }
}
