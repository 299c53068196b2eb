import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Gauge } from 'prom-client';
import { DRAIN_ORDER, ShutdownCoordinator } from '../lifecycle/index.js';
import { errorBody } from '../ops/error-body.js';
import { MetricsService } from '../ops/metrics.service.js';
import { requestFramingProblem } from '../ops/request-framing.js';
import type { Backend } from './backend.js';
import { Upstreams } from './upstreams.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarding-headers.js';
import { closeFrame, FrameBoundary } from './frame-boundary.js';
import { retryAfterMs } from './outlier-policy.js';
import { classifyUpstreamError } from './proxy-errors.js';

/** After the balancer's close frames, how long both peers get to close their side. */
const CLOSE_WAIT_MS = 2_000;
const GOING_AWAY = 1001;

/** One client socket joined to one backend socket after a 101. */
class Tunnel {
  private readonly fromBackend = new FrameBoundary();
  private readonly fromClient = new FrameBoundary();
  private closing = false;
  readonly closed: Promise<void>;

  constructor(
    readonly backend: Backend,
    private readonly client: Duplex,
    private readonly upstream: Duplex,
  ) {
    this.closed = new Promise((resolve) => {
      let open = 2;
      const done = () => {
        open -= 1;
        if (open === 0) resolve();
      };
      client.once('close', done);
      upstream.once('close', done);
    });
    const onError = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', onError);
    upstream.on('error', onError);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    // Bytes both ways with backpressure, watching frame boundaries so a close can be cut in.
    this.relay(upstream, client, this.fromBackend);
    this.relay(client, upstream, this.fromClient);
  }

  /** Ends the tunnel the way a WebSocket peer would: close 1001 to both sides, each at a frame boundary. */
  goAway(): Promise<void> {
    this.closing = true;
    this.closeAtBoundary(this.fromBackend, this.client, closeFrame(GOING_AWAY, 'balancer going away'));
    this.closeAtBoundary(this.fromClient, this.upstream, closeFrame(GOING_AWAY, 'balancer going away', randomBytes(4)));
    const cutOff = setTimeout(() => {
      this.client.destroy();
      this.upstream.destroy();
    }, CLOSE_WAIT_MS);
    cutOff.unref();
    return this.closed.finally(() => clearTimeout(cutOff));
  }

  private readonly pendingClose = new Map<FrameBoundary, () => void>();

  private relay(from: Duplex, to: Duplex, frames: FrameBoundary): void {
    from.on('data', (chunk: Buffer) => {
      if (this.closing && !this.pendingClose.has(frames)) return; // after our close frame: drop
      const boundary = frames.feed(chunk);
      const cut = this.pendingClose.get(frames);
      if (cut && boundary !== -1) {
        // Forward up to the boundary, then the close frame; the rest is dropped.
        if (boundary > 0) to.write(chunk.subarray(0, boundary));
        cut();
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => to.end());
  }

  private closeAtBoundary(frames: FrameBoundary, to: Duplex, close: Buffer): void {
    const send = () => {
      this.pendingClose.delete(frames);
      to.write(close);
      to.end();
    };
    if (frames.atBoundary) send();
    else this.pendingClose.set(frames, send);
  }
}

/**
 * WebSocket upgrades through the balancer: the backend is chosen as for a non-sticky
 * request (a connection error or a 5xx before 101 moves to the next, each backend at most
 * once), its 101 and headers go back (hop-by-hop rules as for HTTP, plus Upgrade), then bytes
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
    if (!this.coordinator.accepting) return refuse(socket, 503, 'The balancer is shutting down', { 'retry-after': '5' });
    const problem = requestFramingProblem(req);
    if (problem) return refuse(socket, 400, problem);
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return refuse(socket, 400, 'Only WebSocket upgrades are proxied');
    const headers = upstreamRequestHeaders({ ...req.headers }, { ip: req.socket.remoteAddress, proto: 'http', host: req.headers.host });
    headers.connection = 'upgrade';
    headers.upgrade = 'websocket';
    const tried = new Set<Backend>();
    const first = this.upstreams.pool.pick(Date.now(), tried);
    if (!first) return refuse(socket, 503, 'No backend available');
    this.attempt(first, req.url ?? '/', headers, socket, head, tried);
  };

  /** Sends the upgrade to `backend`; `tried` holds those already refused or unreachable. */
  private attempt(
    backend: Backend,
    path: string,
    headers: Record<string, string | string[]>,
    client: Duplex,
    head: Buffer,
    tried: Set<Backend>,
  ): void {
    if (client.destroyed) return;
    const firstAttempt = tried.size === 0;
    tried.add(backend);
    backend.requests += 1;
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
    upstreamRequest.on('timeout', () =>
      upstreamRequest.destroy(Object.assign(new Error('no 101 in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
    );
    upstreamRequest.on('upgrade', (response: IncomingMessage, upstream: Duplex, upstreamHead: Buffer) => {
      upstreamRequest.setTimeout(0);
      this.upstreams.judge(backend, { kind: 'success' }, firstAttempt);
      backend.outcomes.success += 1;
      if (client.destroyed) return upstream.destroy();
      client.write(responseHead(101, clientResponseHeaders(responseHeaders(response), backend.url), true));
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) upstream.write(head);
      this.track(new Tunnel(backend, client, upstream));
    });
    upstreamRequest.on('response', (response: IncomingMessage) => {
      // The backend refused the upgrade (503 while it drains, 404, ...).
      const status = response.statusCode ?? 502;
      if (status >= 500) {
        backend.failures += 1;
        backend.outcomes.status_5xx += 1;
        const busyMs = status === 503 ? retryAfterMs(response.headers['retry-after'], Date.now()) : undefined;
        this.upstreams.judge(backend, { kind: 'status_5xx', status, retryAfterMs: busyMs }, firstAttempt);
        const next = this.upstreams.pool.pick(Date.now(), tried);
        if (next) {
          response.resume();
          return this.attempt(next, path, headers, client, head, tried);
        }
      }
      // Pass the backend's refusal through when no other backend accepts.
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        const out = clientResponseHeaders(responseHeaders(response), backend.url);
        out['content-length'] = String(body.length);
        out.connection = 'close';
        client.end(Buffer.concat([Buffer.from(responseHead(status, out, false)), body]));
      });
    });
    upstreamRequest.on('error', (error: Error & { code?: string }) => {
      const failure = classifyUpstreamError(error);
      backend.failures += 1;
      backend.outcomes[failure] += 1;
      this.upstreams.judge(backend, { kind: 'failure', failure }, firstAttempt);
      // Nothing of the upgrade reached the client yet: safe to try the next backend.
      const next = this.upstreams.pool.pick(Date.now(), tried);
      if (next) this.attempt(next, path, headers, client, head, tried);
      else refuse(client, 502, 'No backend accepted the upgrade');
    });
    upstreamRequest.end();
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

function responseHead(status: number, headers: Record<string, unknown>, upgrade: boolean): string {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`];
  if (upgrade) lines.push('Connection: Upgrade', 'Upgrade: websocket');
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(item)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Answers an upgrade request with a plain HTTP error and closes. */
function refuse(socket: Duplex, status: number, message: string, extra: Record<string, string> = {}): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(errorBody(status, message));
  const head = responseHead(
    status,
    { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...extra },
    false,
  );
  socket.end(head + body);
}
