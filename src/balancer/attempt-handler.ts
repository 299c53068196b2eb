import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PassThrough } from 'node:stream';
import type { Dispatcher } from 'undici';
import { lingerAfterEarlyAnswer } from '../ops/lingering-close.js';
import { LOAD_REPORT_HEADER, parseLoadReport } from '../readiness/load-report.js';
import type { Attempt, BackendAttempts } from './backend-attempts.js';
import { clientResponseHeaders } from './forwarding-headers.js';
import { retryAfterMs } from './outlier-policy.js';
import { classifyUpstreamError } from './proxy-errors.js';
import type { ProxyExchange } from './proxy-exchange.js';

/**
 * Receives one upstream attempt's response (undici's dispatch handler API): reads the backend's
 * load report, judges the answer, and either streams it to the client or, for a 5xx another
 * backend may retry, drops it and hands the request on. The exchange decides where requests go.
 */
export class AttemptHandler implements Dispatcher.DispatchHandler {
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
    const report = parseLoadReport(headers[LOAD_REPORT_HEADER]);
    // A request the backend refused while shedding was never one of its clients, and took none
    // of its service time: a refusal's speed would make its clients seem to end that fast.
    const refused = report !== undefined && statusCode === 503 && report.cooldown && report.shed;
    if (!refused) backend.latency.observe(elapsed, this.startedAtWallMs + elapsed);
    // Refused, this worker cannot tell which of its other requests there it counts (those on
    // their way are refused too): the backend's count is taken as all others', until an answer
    // it served says more. Taken as ours, it let a worker whose requests were all being refused
    // send more as they came back.
    if (report) backend.observeLoad(report, this.startedAtWallMs + elapsed, refused ? 0 : backend.inFlight, !refused);
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
      // Refused for being full and no backend has room: the request waits for a slot, as it
      // would have had this worker known the backend was full.
      if (mayMoveOn && refused && exchange.mayWaitForRoom(now)) {
        this.discarded = true;
        this.settle();
        exchange.waitForRoom();
        return;
      }
    } else {
      this.attempts.succeeded(attempt);
    }
    const res = exchange.res;
    exchange.committed = true;
    exchange.answeredBy = backend.url;
    this.streaming = true;
    const length = headers['content-length'];
    if (typeof length === 'string') this.remaining = Number(length);
    lingerAfterEarlyAnswer(exchange.req, res);
    const responseHeaders = clientResponseHeaders(headers, backend.url);
    if (proxy.workerId !== undefined) responseHeaders['x-balancer-worker'] = proxy.workerId;
    res.writeHead(statusCode, responseHeaders);
    this.controller = controller;
    if (statusCode < 300) proxy.recordSticky(exchange.stickyRoute, backend, statusCode, headers.location);
  }

  private readonly resume = (): void => this.controller?.resume();

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.streaming || this.ended) return;
    this.exchange.bytesOut += chunk.length;
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
    if (!this.streaming) return;
    this.exchange.upstreamMs = performance.now() - this.startedAt;
    if (!this.ended) this.exchange.res.end();
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
