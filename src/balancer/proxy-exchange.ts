import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { errorBody } from '../ops/error-body.js';
import { lingerAfterEarlyAnswer } from '../ops/lingering-close.js';
import type { Backend } from './backend.js';
import type { BackendPool } from './backend-pool.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarding-headers.js';
import { retryAfterMs, type AttemptResult, type OutlierPolicy } from './outlier-policy.js';
import { classifyUpstreamError, type AttemptFailure } from './proxy-errors.js';
import { mayRetry } from './retry-policy.js';
import { stickyRoute, type StickyRoute } from './sticky-route.js';

const SUCCESS: AttemptResult = { kind: 'success' };

export interface AttemptRecord {
  readonly backend: string;
  readonly failure?: AttemptFailure;
  readonly status?: number;
}

/** What one exchange needs of the balancer (BalancerProxy provides it). */
export interface ExchangeContext {
  readonly pool: BackendPool;
  readonly outliers: OutlierPolicy;
  readonly maxResponseDelayMs: number;
  /** Set in a balancer cluster: sent as x-balancer-worker, so a client (or test) sees which worker answered. */
  readonly workerId?: string;
  upstream(backend: Backend): Pool | undefined;
  judge(backend: Backend, result: AttemptResult, firstAttempt: boolean): void;
  stickyOwner(itemId: string): string | undefined;
  recordSticky(route: StickyRoute, backend: Backend, status: number): void;
  forgetSticky(itemId: string): void;
  exchangeClosed(): void;
}

/** One client request and its upstream attempts. */
export class ProxyExchange {
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
    readonly proxy: ExchangeContext,
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

  /** Whether a failed attempt may be sent to another backend (see retry-policy.ts). */
  canRetry(failure: AttemptFailure): boolean {
    return mayRetry({
      method: this.method,
      failure,
      pinned: this.owner !== undefined,
      clientGone: this.clientGone,
      committed: this.committed,
      bodyStarted: this.bodyStarted,
    });
  }

  next(): void {
    if (this.firstTried && !this.tried) this.tried = new Set([this.firstTried]);
    // One wall-clock read per attempt (picking and the latency sample's time) and one monotonic.
    const now = Date.now();
    const backend = this.owner ? (this.firstTried ? undefined : this.owner) : this.proxy.pool.pick(now, this.tried);
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
      new AttemptHandler(this, backend, now, performance.now(), body, firstAttempt),
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
    private readonly startedAtWallMs: number,
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
    const elapsed = performance.now() - this.startedAt;
    backend.latency.observe(elapsed, this.startedAtWallMs + elapsed);
    if (statusCode >= 500) {
      const busyMs = statusCode === 503 ? retryAfterMs(headers['retry-after'], Date.now()) : undefined;
      proxy.judge(backend, { kind: 'status_5xx', status: statusCode, retryAfterMs: busyMs }, this.firstAttempt);
      backend.failures += 1;
      backend.outcomes.status_5xx += 1;
      exchange.recordAttempt({ backend: backend.url, status: statusCode });
      if (exchange.canRetry('status_5xx')) {
        this.discarded = true;
        this.settle();
        exchange.next();
        return;
      }
    } else {
      proxy.judge(backend, SUCCESS, this.firstAttempt);
      backend.outcomes.success += 1;
    }
    const res = exchange.res;
    exchange.committed = true;
    this.streaming = true;
    const length = headers['content-length'];
    if (typeof length === 'string') this.remaining = Number(length);
    lingerAfterEarlyAnswer(exchange.req, res);
    const responseHeaders = clientResponseHeaders(headers, backend.url);
    if (proxy.workerId !== undefined) responseHeaders['x-balancer-worker'] = proxy.workerId;
    res.writeHead(statusCode, responseHeaders);
    this.controller = controller;
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
    if (!this.exchange.res.write(chunk)) {
      // Backpressure: a drain listener only now, not one per response.
      controller.pause();
      this.exchange.res.once('drain', this.resume);
    }
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
      backend.outcomes.client_gone += 1;
      return;
    }
    const failure = classifyUpstreamError(error);
    backend.failures += 1;
    backend.outcomes[failure] += 1;
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
