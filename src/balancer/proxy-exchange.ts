import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { ERROR_MESSAGES } from '../errors/messages.js';
import { lingerAfterEarlyAnswer } from '../ops/lingering-close.js';
import { writeErrorResponse } from '../ops/raw-error.js';
import type { Backend } from './backend.js';
import type { AdmissionQueue, QueueRejection, QueueTicket, QueueWaiter } from './admission-queue.js';
import { BackendAttempts, type Attempt, type AttemptLedger, type RequestProgress } from './backend-attempts.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarding-headers.js';
import { LOAD_REPORT_HEADER, parseLoadReport } from '../readiness/load-report.js';
import { retryAfterMs } from './outlier-policy.js';
import { classifyUpstreamError } from './proxy-errors.js';
import { stickyRoute, type StickyRoute } from './sticky-route.js';

/** What one exchange needs of the balancer (BalancerProxy provides it). */
export interface ExchangeContext {
  readonly ledger: AttemptLedger;
  /** Where a request waits when every backend is full. */
  readonly admission: AdmissionQueue;
  /** A queued request was admitted, or turned away (for the metrics). */
  queueOutcome(outcome: 'admitted' | QueueRejection, waitedMs: number): void;
  readonly maxResponseDelayMs: number;
  /** Set in a balancer cluster: sent as x-balancer-worker, so a client (or test) sees which worker answered. */
  readonly workerId?: string;
  connectionsTo(backend: Backend): Pool | undefined;
  /** The backend that owns a sticky item, if one is recorded and still in the list. */
  stickyOwner(itemId: string): Backend | undefined;
  recordSticky(route: StickyRoute, backend: Backend, status: number): void;
  exchangeClosed(): void;
}

/**
 * One client request and its upstream attempts: the HTTP side of the attempt loop
 * (BackendAttempts decides which backend and whether another try is safe; this class streams).
 */
export class ProxyExchange implements RequestProgress, QueueWaiter {
  private readonly method: string;
  private readonly hasBody: boolean;
  private target = '/';
  private upstreamHeaders?: Record<string, string | string[]>;
  private route: StickyRoute = { kind: 'none' };
  private attempts!: BackendAttempts;
  private current?: Dispatcher.DispatchController;
  /** Set while it waits in the admission queue. */
  private ticket?: QueueTicket;
  private queuedAt = 0;
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
      writeErrorResponse(this.req, this.res, 400, ERROR_MESSAGES.framing.notAPath);
      return;
    }
    this.target = target;
    this.route = stickyRoute(this.method, target);
    // Reads, writes and deletes of a mapped item go to its owner; so does a create of an id
    // already mapped, which the owner answers 400 "exists" (round robin would let a second
    // backend create a second copy and move the mapping to it).
    const owner = this.route.kind === 'none' ? undefined : this.proxy.stickyOwner(this.route.itemId);
    if (owner && this.route.kind !== 'none') {
      const now = Date.now();
      if (owner.isEjected(now)) {
        const retryAfterSeconds = Math.max(1, Math.ceil((owner.ejectedUntil - now) / 1000));
        writeErrorResponse(this.req, this.res, 503, ERROR_MESSAGES.balancer.ownerEjected(this.route.itemId, owner.url), {
          retryAfterSeconds,
        });
        return;
      }
    }
    this.attempts = new BackendAttempts(this.proxy.ledger, this.method, owner);
    this.next();
  }

  private readonly onClose = (): void => {
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.ticket?.cancel();
      this.current?.abort(new Error('client went away'));
    }
    this.proxy.exchangeClosed();
  };

  /**
   * Sends the request to the next backend the loop allows. A first attempt that finds every
   * backend full (or others already waiting) waits in the admission queue; otherwise, with no
   * backend left, the answer says why.
   */
  next(): void {
    // One wall-clock read per attempt (picking and the latency sample's time) and one monotonic.
    const now = Date.now();
    // A sticky request has one backend to wait for, and no queue to wait in.
    const mayWait = !this.attempts.pinned;
    // Arrival order: with others waiting, a new request queues behind them.
    if (mayWait && this.attempts.notStarted && this.proxy.admission.length > 0) return this.wait();
    const attempt = this.attempts.next(now);
    if (attempt) return this.dispatch(attempt, now);
    // Every backend full (not broken): wait for a slot, a retry too, unless the retry budget is spent.
    if (mayWait && !this.attempts.budgetSpent && this.proxy.ledger.pool.someOnlyFull(now, this.attempts.triedSet)) return this.wait();
    this.giveUp();
  }

  /** Set once the queue admitted it: it may take a slot ahead of the queue. */
  private admitted = false;

  private wait(): void {
    if (this.admitted) {
      // Admitted, but the slot went elsewhere: back to the head, keeping its wait.
      this.admitted = false;
      this.ticket = this.proxy.admission.putBack(this, this.queuedAt);
      return;
    }
    this.queuedAt = performance.now();
    this.ticket = this.proxy.admission.offer(this);
    if (!this.ticket) this.reject('queue_full', 0);
  }

  admit(waitedMs: number): void {
    this.ticket = undefined;
    if (this.clientGone) return;
    this.admitted = true;
    const now = Date.now();
    const attempt = this.attempts.next(now);
    if (!attempt) {
      if (this.attempts.budgetSpent) {
        this.admitted = false;
        return this.giveUp();
      }
      return this.wait();
    }
    this.admitted = false;
    this.proxy.queueOutcome('admitted', waitedMs);
    this.dispatch(attempt, now);
  }

  reject(reason: QueueRejection, waitedMs: number): void {
    this.ticket = undefined;
    this.proxy.queueOutcome(reason, waitedMs);
    if (this.clientGone) return;
    const message = reason === 'queue_full' ? ERROR_MESSAGES.balancer.queueFull : ERROR_MESSAGES.balancer.queueTimeout(waitedMs);
    writeErrorResponse(this.req, this.res, 503, message, { retryAfterSeconds: 1, details: { reason } });
  }

  /** Sends an attempt on its way. */
  private dispatch(attempt: Attempt, now: number): void {
    const connections = this.proxy.connectionsTo(attempt.backend);
    if (!connections) {
      // It left the backend list since it was picked: as good as a refused connection.
      this.attempts.ended(attempt);
      this.attemptFailed(attempt, 'connect');
      return;
    }
    // Made at the first attempt, not on arrival: a request turned away never needs them.
    this.upstreamHeaders ??= upstreamRequestHeaders(this.req.headers, {
      ip: this.req.socket.remoteAddress,
      proto: 'http',
      host: this.req.headers.host,
    });
    // A pass-through per attempt, so an upstream failure destroys it and not the
    // client's socket; the client's body flows into it only once a connection is up.
    const body = this.hasBody ? new PassThrough() : null;
    connections.dispatch(
      {
        path: this.target,
        method: this.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders,
        body,
        headersTimeout: this.proxy.maxResponseDelayMs,
        bodyTimeout: 0,
      },
      new AttemptHandler(this, this.attempts, attempt, now, performance.now(), body),
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

  /** A retry already started (its backend picked): on its way. */
  retryWith(attempt: Attempt, now: number): void {
    this.dispatch(attempt, now);
  }

  /** An attempt got no usable response: the next backend when that is safe, else the answer that none is left. */
  attemptFailed(attempt: Attempt, failure: 'connect' | 'timeout' | 'reset'): void {
    if (this.attempts.failed(attempt, { kind: 'failure', failure }, this)) this.next();
    else this.giveUp();
  }

  get stickyRoute(): StickyRoute {
    return this.route;
  }

  /** Out of backends or retries: answer at once, naming every attempt. */
  giveUp(): void {
    if (this.clientGone) return;
    const { status, message, retryAfterSeconds, details } = this.attempts.giveUp(Date.now());
    writeErrorResponse(this.req, this.res, status, message, { retryAfterSeconds, details });
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
    private readonly attempts: BackendAttempts,
    private readonly attempt: Attempt,
    private readonly startedAtWallMs: number,
    private readonly startedAt: number,
    private readonly body: PassThrough | null,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.exchange.attemptConnected(controller, this.body);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return;
    const { exchange, attempt } = this;
    const backend = attempt.backend;
    const proxy = exchange.proxy;
    const elapsed = performance.now() - this.startedAt;
    backend.latency.observe(elapsed, this.startedAtWallMs + elapsed);
    const report = parseLoadReport(headers[LOAD_REPORT_HEADER]);
    // A request the backend refused while shedding was never one of its clients.
    const refused = report !== undefined && statusCode === 503 && report.cooldown && report.shed;
    if (report) backend.observeLoad(report, this.startedAtWallMs + elapsed, refused ? backend.inFlight - 1 : backend.inFlight);
    if (statusCode >= 500) {
      const now = Date.now();
      const busyMs = statusCode === 503 ? retryAfterMs(headers['retry-after'], now) : undefined;
      const result = { kind: 'status_5xx', status: statusCode, retryAfterMs: busyMs, full: refused } as const;
      const mayMoveOn = this.attempts.failed(attempt, result, exchange);
      // Another backend only if one has room and the retry budget allows; else this answer,
      // the backend's own (its 503 and Retry-After included), is the client's.
      const following = mayMoveOn ? this.attempts.next(now) : undefined;
      if (following) {
        this.discarded = true;
        this.settle();
        exchange.retryWith(following, now);
        return;
      }
    } else {
      this.attempts.succeeded(attempt);
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
    const { exchange } = this;
    if (this.streaming) {
      // Bytes already reached the client: nothing can be retried or replaced.
      exchange.res.destroy(error);
      return;
    }
    if (exchange.clientGone) {
      this.attempts.abandoned(this.attempt);
      return;
    }
    exchange.attemptFailed(this.attempt, classifyUpstreamError(error));
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.attempts.ended(this.attempt);
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
