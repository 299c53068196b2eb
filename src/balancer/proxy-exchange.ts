import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import type { Dispatcher, Pool } from 'undici';
import { ERROR_MESSAGES } from '../errors/messages.js';
import type { AttemptTrail } from '../ops/access-log.js';
import { REQUEST_ID_HEADER, requestIdFor } from '../ops/logger.js';
import { writeErrorResponse, type RawErrorOptions } from '../ops/raw-error.js';
import type { Backend } from './backend.js';
import type { AdmissionQueue, QueueRejection, QueueTicket, QueueWaiter } from './admission-queue.js';
import { BackendAttempts, type Attempt, type AttemptLedger, type RequestProgress } from './backend-attempts.js';
import { AttemptHandler } from './attempt-handler.js';
import { upstreamRequestHeaders } from './forwarding-headers.js';
import { ownAnswerHeaders } from './proxy-status.js';
import { stickyRoute, taskCreateFor, type StickyRoute } from './sticky-route.js';

/** The largest POST /tasks body the balancer reads for its clientId; a larger one goes unread, by round robin. */
const TASK_BODY_READ_MAX_BYTES = 64 * 1024;

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
  /** The backend that holds a sticky key, if one is recorded and still in the list. */
  stickyOwner(key: string): Backend | undefined;
  /** `location`: the response's Location header (a task create's names the task). */
  recordSticky(route: StickyRoute, backend: Backend, status: number, location?: string | string[]): void;
  /** Some backend keeps tasks in memory: a POST /tasks is read for its clientId before it is sent. */
  readonly someBackendKeepsTasksLocally: boolean;
  /** Once per exchange, when the client's response closes (finished or not). */
  exchangeClosed(exchange: ProxyExchange): void;
}

/** Why the balancer answered a request itself (the access log's `rejected`). */
export type BalancerRejection =
  QueueRejection | 'client_rate' | 'client_concurrency' | 'bad_target' | 'owner_ejected' | 'no_backend' | 'attempts_failed';

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
  /** Its client, as per-client limits tell clients apart: its line in the admission queue ('' without limits). */
  client = '';
  private queuedAt = 0;
  committed = false;
  clientGone = false;
  /** The client's body began flowing to an upstream: it cannot be sent again. */
  bodyStarted = false;
  /** A body the balancer read whole before sending it (a task create's, for its clientId). */
  private bodyRead?: Buffer;
  /** The client's or a new one, sent upstream and logged on both sides. */
  readonly requestId: string;
  readonly startedAt = performance.now();
  readonly startedAtMs = Date.now();
  bytesIn = 0;
  bytesOut = 0;
  /** The backend whose answer the client got, and how long that attempt took to its last byte. */
  answeredBy?: string;
  upstreamMs?: number;
  rejected?: BalancerRejection;

  constructor(
    readonly proxy: ExchangeContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.method = req.method ?? 'GET';
    this.hasBody =
      req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    this.requestId = requestIdFor(req);
    res.on('close', this.onClose);
  }

  start(): void {
    const target = originForm(this.req.url ?? '/');
    if (target === undefined) return this.answer('bad_target', 400, ERROR_MESSAGES.framing.notAPath);
    this.target = target;
    this.route = stickyRoute(this.method, target);
    if (this.route.kind === 'task-create' && this.hasBody && this.proxy.someBackendKeepsTasksLocally) return this.readTaskBody();
    this.routeToOwner();
  }

  /**
   * Reads, writes and deletes of a mapped item go to its owner; so does a create of an id
   * already mapped, which the owner answers 400 "exists" (round robin would let a second
   * backend create a second copy and move the mapping to it). A task's requests and a task
   * create naming a mapped clientId go where its tasks live.
   */
  private routeToOwner(): void {
    const route = this.route;
    const key = route.kind === 'none' ? undefined : route.key;
    let owner = key === undefined ? undefined : this.proxy.stickyOwner(key);
    // A client's new task needs no particular instance, only the one its sockets are on: with
    // that one out, it goes elsewhere, and its sockets follow when they reconnect.
    if (owner && route.kind === 'task-create' && !owner.takesStickyClients(Date.now())) owner = undefined;
    if (owner && route.kind !== 'none') {
      const now = Date.now();
      if (owner.isEjected(now)) {
        const retryAfterSeconds = Math.max(1, Math.ceil((owner.ejectedUntil - now) / 1000));
        const message = ERROR_MESSAGES.balancer.ownerEjected(route.label ?? 'It', owner.url);
        return this.answer('owner_ejected', 503, message, { retryAfterSeconds });
      }
    }
    this.attempts = new BackendAttempts(this.proxy.ledger, this.method, owner);
    this.next();
  }

  /**
   * Without Redis a task lives on the instance that took it, and its clientId's sockets must be
   * there too: a create is sent where its clientId's tasks are, which the body says. A small
   * body (they are a few hundred bytes) is read whole first; one without a length, or larger,
   * is sent unread.
   */
  private readTaskBody(): void {
    const length = Number(this.req.headers['content-length']);
    if (!Number.isInteger(length) || length <= 0 || length > TASK_BODY_READ_MAX_BYTES) return this.routeToOwner();
    const chunks: Buffer[] = [];
    // A client that leaves mid-body closes the response too: onClose ends the exchange.
    this.req.once('error', () => undefined);
    this.req.on('data', (chunk: Buffer) => chunks.push(chunk));
    this.req.once('end', () => {
      if (this.clientGone) return;
      const body = Buffer.concat(chunks);
      this.bodyRead = body;
      this.bytesIn = body.length;
      this.route = taskCreateFor(clientIdIn(body));
      this.routeToOwner();
    });
  }

  private readonly onClose = (): void => {
    if (!this.res.writableFinished) {
      this.clientGone = true;
      this.ticket?.cancel();
      this.current?.abort(new Error('client went away'));
    }
    this.proxy.exchangeClosed(this);
  };

  /** The balancer's own answer to the request, and why (also in Proxy-Status, RFC 9209). */
  answer(reason: BalancerRejection, status: number, message: string, options: Omit<RawErrorOptions, 'headers'> = {}): void {
    this.rejected = reason;
    const headers = ownAnswerHeaders(this.requestId, reason, status, this.attempts?.lastFailure);
    // Which worker refused, as on proxied answers: under overload, what each worker's clients get.
    if (this.proxy.workerId !== undefined) headers['x-balancer-worker'] = this.proxy.workerId;
    const { retryAfterSeconds, reasons, details } = options;
    this.bytesOut = writeErrorResponse(this.req, this.res, status, message, { retryAfterSeconds, reasons, details, headers });
  }

  /** Every attempt and its outcome, the answering one last. */
  get trail(): AttemptTrail[] {
    const answered = this.answeredBy === undefined ? undefined : { backend: this.answeredBy, status: this.res.statusCode };
    return this.attempts?.trail(answered) ?? [];
  }

  /** An attempt failed on the way, whatever the client got. */
  get troubled(): boolean {
    return this.attempts !== undefined && this.attempts.failedCount > 0;
  }

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

  /**
   * After a backend refused an attempt for being full: whether the request may wait in the
   * admission queue for a slot (not sticky, retry budget left, some backend it may still try is
   * only full).
   */
  mayWaitForRoom(now: number): boolean {
    return !this.attempts.pinned && !this.attempts.budgetSpent && this.proxy.ledger.pool.someOnlyFull(now, this.attempts.triedSet);
  }

  /** Waits for a slot again after a refusal: its deadline runs from its first wait, so refusals cannot prolong it. */
  waitForRoom(): void {
    if (this.clientGone) return;
    if (this.queuedAt === 0) return this.wait();
    this.ticket = this.proxy.admission.putBack(this, this.queuedAt, this.client);
  }

  private wait(): void {
    this.queuedAt = performance.now();
    this.ticket = this.proxy.admission.offer(this, this.client);
    if (!this.ticket) this.reject('queue_full', 0);
  }

  admit(waitedMs: number): void {
    this.ticket = undefined;
    if (this.clientGone) return;
    const now = Date.now();
    const attempt = this.attempts.next(now);
    if (attempt) {
      this.proxy.queueOutcome('admitted', waitedMs);
      return this.dispatch(attempt, now);
    }
    if (this.attempts.budgetSpent) return this.giveUp();
    // The slot went elsewhere: back to its place in line, keeping its wait.
    this.ticket = this.proxy.admission.putBack(this, this.queuedAt, this.client);
  }

  reject(reason: QueueRejection, waitedMs: number): void {
    this.ticket = undefined;
    this.proxy.queueOutcome(reason, waitedMs);
    if (this.clientGone) return;
    const message = reason === 'queue_full' ? ERROR_MESSAGES.balancer.queueFull : ERROR_MESSAGES.balancer.queueTimeout(waitedMs);
    this.answer(reason, 503, message, { retryAfterSeconds: 1, details: { reason } });
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
    if (!this.upstreamHeaders) {
      this.upstreamHeaders = upstreamRequestHeaders(this.req.headers, {
        ip: this.req.socket.remoteAddress,
        proto: 'http',
        host: this.req.headers.host,
      });
      this.upstreamHeaders[REQUEST_ID_HEADER] = this.requestId;
    }
    // A pass-through per attempt, so an upstream failure destroys it and not the
    // client's socket; the client's body flows into it only once a connection is up.
    const body = this.hasBody && !this.bodyRead ? new PassThrough() : null;
    if (this.bodyRead) this.bodyStarted = true;
    connections.dispatch(
      {
        path: this.target,
        method: this.method as Dispatcher.HttpMethod,
        headers: this.upstreamHeaders,
        body: this.bodyRead ?? body,
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
      // After pipe: the request already flows, so one more 'data' listener only counts.
      this.req.on('data', (chunk: Buffer) => (this.bytesIn += chunk.length));
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
    const { reason, status, message, retryAfterSeconds, details } = this.attempts.giveUp(Date.now());
    this.answer(reason, status, message, { retryAfterSeconds, details });
  }
}

/** The clientId a JSON body names, if it is one. */
function clientIdIn(body: Buffer): unknown {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as { clientId?: unknown }).clientId : undefined;
  } catch {
    // The service answers a body that is not JSON with its 400.
    return undefined;
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
