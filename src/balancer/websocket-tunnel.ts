import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Gauge } from 'prom-client';
import { ERROR_MESSAGES } from '../errors/messages.js';
import { DRAIN_ORDER, ShutdownCoordinator } from '../lifecycle/index.js';
import { MetricsService } from '../ops/metrics.service.js';
import { AccessLog } from '../ops/access-log.js';
import { REQUEST_ID_HEADER, requestIdFor } from '../ops/logger.js';
import { responseHead, writeErrorToSocket, type RawErrorOptions } from '../ops/raw-error.js';
import { requestFramingProblem } from '../ops/request-framing.js';
import type { Backend } from './backend.js';
import { BackendAttempts, type Attempt } from './backend-attempts.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarding-headers.js';
import { retryAfterMs } from './outlier-policy.js';
import { classifyUpstreamError } from './proxy-errors.js';
import { ownAnswerHeaders } from './proxy-status.js';
import { clientKey } from './sticky-route.js';
import { StickyTable } from './sticky-table.js';
import { Tunnel } from './tunnel.js';
import { Upstreams } from './upstreams.js';

/** What the access log says of one upgrade: filled in as it goes, written when the client's socket closes. */
class UpgradeOutcome {
  readonly requestId: string;
  readonly startedAt = performance.now();
  readonly startedAtMs = Date.now();
  status = 499;
  backend?: string;
  rejected?: string;

  constructor(
    readonly req: IncomingMessage,
    readonly client: Duplex,
    /** Its attempt loop (no attempt is made before the upgrade passes the checks). */
    readonly attempts: BackendAttempts,
    /** The sticky key of its ?clientId=, when it has one. */
    readonly clientKey?: string,
  ) {
    this.requestId = requestIdFor(req);
  }

  /** The balancer refused the upgrade itself, for `reason`. */
  refuse(reason: string, status: number, message: string, options: RawErrorOptions = {}): void {
    this.rejected = reason;
    this.status = status;
    const headers = ownAnswerHeaders(this.requestId, reason, status, this.attempts.lastFailure);
    writeErrorToSocket(this.client, status, message, { ...options, headers });
  }
}

/** An upgrade has sent nothing to the client before its 101, whatever the backend did. */
const NOTHING_SENT_YET = { clientGone: false, committed: false, bodyStarted: false } as const;

/**
 * WebSocket upgrades through the balancer: the backend is chosen as for a non-sticky
 * request (a connection error or a 5xx before 101 moves to the next, each backend at most
 * once) unless its ?clientId= has tasks on a backend that keeps them in memory, which then
 * is the one; its 101 and headers go back (hop-by-hop rules as for HTTP, plus Upgrade), then bytes
 * are tunnelled both ways. On the balancer's shutdown, new upgrades get 503; open tunnels stay
 * up while the HTTP drain lasts, then each side gets a close 1001 at a frame boundary.
 */
@Injectable()
export class WebSocketTunnels implements OnModuleInit {
  private readonly logger = new Logger('Tunnels');
  private readonly open = new Set<Tunnel>();
  private readonly perBackend = new Map<Backend, number>();

  constructor(
    private readonly upstreams: Upstreams,
    private readonly coordinator: ShutdownCoordinator,
    metrics: MetricsService,
    private readonly accessLog: AccessLog,
    private readonly sticky: StickyTable,
  ) {
    const tunnels = this.perBackend;
    const pool = this.upstreams.pool;
    new Gauge({
      name: 'ballast_balancer_backend_tunnels',
      help: 'Open WebSocket tunnels per backend',
      labelNames: ['backend'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const backend of pool.backends) this.set({ backend: backend.url }, tunnels.get(backend) ?? 0);
      },
    });
  }

  onModuleInit(): void {
    this.coordinator.registerDrainStep({
      name: 'websocket tunnels',
      order: DRAIN_ORDER.tunnels,
      run: () => this.closeAll(),
      pending: () => (this.open.size > 0 ? `${this.open.size} tunnels open` : undefined),
    });
  }

  tunnelsTo(backend: Backend): number {
    return this.perBackend.get(backend) ?? 0;
  }

  get size(): number {
    return this.open.size;
  }

  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const key = clientKey(clientIdOf(req.url));
    const pinned = key === undefined ? undefined : this.sticky.ownerIn(this.upstreams.pool, key);
    // With its instance out, a client's socket goes elsewhere (and is recorded there on its 101).
    const owner = pinned?.takesStickyClients(Date.now()) ? pinned : undefined;
    const outcome = new UpgradeOutcome(req, socket, new BackendAttempts(this.upstreams, 'GET', owner), key);
    socket.once('close', () => this.logUpgrade(outcome));
    if (!this.coordinator.accepting)
      return outcome.refuse('shutting_down', 503, ERROR_MESSAGES.balancer.shuttingDown, { retryAfterSeconds: 5 });
    const problem = requestFramingProblem(req);
    if (problem) return outcome.refuse('bad_request', 400, problem);
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
      return outcome.refuse('bad_request', 400, ERROR_MESSAGES.balancer.notWebSocket);
    const headers = upstreamRequestHeaders({ ...req.headers }, { ip: req.socket.remoteAddress, proto: 'http', host: req.headers.host });
    headers.connection = 'upgrade';
    headers.upgrade = 'websocket';
    headers[REQUEST_ID_HEADER] = outcome.requestId;
    this.next(outcome, req.url ?? '/', headers, head);
  };

  /** One access line per upgrade, when the client's socket closes: the tunnel's whole life, or its refusal. */
  private logUpgrade(outcome: UpgradeOutcome): void {
    if (!this.accessLog.wants(outcome.status, outcome.attempts.failedCount > 0)) return;
    const socket = outcome.client as Socket;
    const answered = outcome.backend === undefined ? undefined : { backend: outcome.backend, status: outcome.status };
    this.accessLog.write({
      requestId: outcome.requestId,
      startedAtMs: outcome.startedAtMs,
      client: outcome.req.socket.remoteAddress ?? '',
      method: outcome.req.method ?? 'GET',
      target: outcome.req.url ?? '',
      status: outcome.status,
      totalMs: performance.now() - outcome.startedAt,
      bytesIn: socket.bytesRead ?? 0,
      bytesOut: socket.bytesWritten ?? 0,
      backend: outcome.backend,
      attempts: outcome.attempts.trail(answered),
      rejected: outcome.rejected,
      tunnel: true,
    });
  }

  /** Sends the upgrade to the next backend the attempt loop allows, or refuses it when none is left. */
  private next(outcome: UpgradeOutcome, path: string, headers: Record<string, string | string[]>, head: Buffer): void {
    if (outcome.client.destroyed) return;
    const attempt = outcome.attempts.next(Date.now());
    if (attempt) return this.send(outcome, attempt, path, headers, head);
    const { reason, status, message, retryAfterSeconds, details } = outcome.attempts.giveUp(Date.now());
    outcome.refuse(reason, status, message, { retryAfterSeconds, details });
  }

  private send(outcome: UpgradeOutcome, attempt: Attempt, path: string, headers: Record<string, string | string[]>, head: Buffer): void {
    const { attempts, client } = outcome;
    const { backend } = attempt;
    const url = new URL(backend.url);
    const upstreamRequest = httpRequest({
      host: url.hostname,
      port: url.port,
      path,
      method: 'GET',
      headers,
      agent: false,
      timeout: this.upstreams.maxResponseDelayMs,
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      attempts.ended(attempt);
    };
    upstreamRequest.on('timeout', () =>
      upstreamRequest.destroy(Object.assign(new Error('no 101 in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    );
    upstreamRequest.on('upgrade', (response: IncomingMessage, upstream: Duplex, upstreamHead: Buffer) => {
      upstreamRequest.setTimeout(0);
      end();
      attempts.succeeded(attempt);
      if (client.destroyed) return upstream.destroy();
      outcome.status = 101;
      outcome.backend = backend.url;
      // Its clientId's tasks created from now on must live where this socket is.
      if (outcome.clientKey !== undefined && backend.keepsTasksLocally) this.sticky.claim(outcome.clientKey, backend);
      client.write(
        responseHead(101, clientResponseHeaders(responseHeaders(response), backend.url), ['Connection: Upgrade', 'Upgrade: websocket']),
      );
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) upstream.write(head);
      this.track(new Tunnel(backend, client, upstream));
    });
    upstreamRequest.on('response', (response: IncomingMessage) => {
      end();
      // The backend refused the upgrade (503 while it drains, 404, ...): a 5xx moves on to the
      // next backend; an answer below 500 is the backend working as meant, judged a success.
      const status = response.statusCode ?? 502;
      if (status >= 500) {
        const busyMs = status === 503 ? retryAfterMs(response.headers['retry-after'], Date.now()) : undefined;
        const mayMoveOn = attempts.failed(attempt, { kind: 'status_5xx', status, retryAfterMs: busyMs }, NOTHING_SENT_YET);
        // With no backend left, the backend's own refusal is the answer, not a 502 about it.
        const following = mayMoveOn && !client.destroyed ? attempts.next(Date.now()) : undefined;
        if (following) {
          response.resume();
          return this.send(outcome, following, path, headers, head);
        }
      } else {
        attempts.succeeded(attempt);
      }
      outcome.status = status;
      outcome.backend = backend.url;
      this.passRefusalOn(response, backend, client);
    });
    upstreamRequest.on('error', (error: Error & { code?: string }) => {
      end();
      if (client.destroyed) return attempts.abandoned(attempt);
      // Nothing of the upgrade reached the client yet: safe to try the next backend.
      attempts.failed(attempt, { kind: 'failure', failure: classifyUpstreamError(error) }, NOTHING_SENT_YET);
      this.next(outcome, path, headers, head);
    });
    upstreamRequest.end();
  }

  /** The backend's own refusal, passed to the client as it came (status, headers, body), then closed. */
  private passRefusalOn(response: IncomingMessage, backend: Backend, client: Duplex): void {
    const status = response.statusCode ?? 502;
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => {
      const body = Buffer.concat(chunks);
      const out = clientResponseHeaders(responseHeaders(response), backend.url);
      out['content-length'] = String(body.length);
      out.connection = 'close';
      client.end(Buffer.concat([Buffer.from(responseHead(status, out)), body]));
    });
  }

  private track(tunnel: Tunnel): void {
    this.open.add(tunnel);
    this.perBackend.set(tunnel.backend, this.tunnelsTo(tunnel.backend) + 1);
    void tunnel.closed.then(() => {
      this.open.delete(tunnel);
      this.perBackend.set(tunnel.backend, this.tunnelsTo(tunnel.backend) - 1);
    });
  }

  /** Shutdown step: every tunnel gets close 1001 on both sides, at frame boundaries. */
  private async closeAll(): Promise<void> {
    if (this.open.size > 0) this.logger.log(`closing ${this.open.size} WebSocket tunnels (1001)`);
    await Promise.all([...this.open].map((tunnel) => tunnel.goAway()));
  }
}

function responseHeaders(response: IncomingMessage): IncomingHttpHeaders {
  return { ...response.headers };
}

/** The ?clientId= of an upgrade's target, if any. */
function clientIdOf(target: string | undefined): string | undefined {
  const query = target?.indexOf('?') ?? -1;
  if (query < 0) return undefined;
  return new URLSearchParams(target!.slice(query + 1)).get('clientId') ?? undefined;
}
