import { performance } from 'node:perf_hooks';
import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { request, type Dispatcher } from 'undici';
import { HedgeRun, type HedgeAction, type HedgeOutcome, type HedgePlan } from './hedge-run.js';
import type { TokenBucket } from './token-bucket.js';

export interface AttemptReport {
  readonly attempt: number;
  readonly status?: number;
  readonly error?: string;
  readonly ms: number;
  readonly result: 'won' | 'failed' | 'aborted';
}

export interface HedgedResult {
  readonly outcome: HedgeOutcome;
  readonly ms: number;
  /** The winning attempt's JSON body. */
  readonly body?: unknown;
  /** Every attempt launched, in launch order. */
  readonly attempts: readonly AttemptReport[];
}

const tracer = trace.getTracer('ballast.smart');

class InvalidJsonError extends Error {
  constructor() {
    super('invalid JSON');
  }
}

/**
 * Runs one hedged call against `url`: turns the HedgeRun's actions into undici requests
 * (each with its own AbortController, so a loser's socket really closes) and timers.
 * Resolves exactly once, at the first success, the last failure or the deadline.
 */
export function runHedgedCall(options: {
  readonly url: URL;
  readonly dispatcher: Dispatcher;
  readonly plan: HedgePlan;
  readonly budget: TokenBucket;
  /** Told each attempt's latency to its result (for the adaptive delay). */
  readonly onLatency?: (ms: number, ok: boolean) => void;
}): Promise<HedgedResult> {
  const { url, dispatcher, plan, budget } = options;
  const run = new HedgeRun(plan, budget);
  const started = performance.now();
  const controllers: AbortController[] = [];
  const spans: Span[] = [];
  const reports: (AttemptReport | undefined)[] = [];
  const launchedAt: number[] = [];
  const timers: NodeJS.Timeout[] = [];
  const parent = tracer.startSpan('smart.call', { attributes: { 'smart.deadline_ms': plan.deadlineMs } });
  const parentContext = trace.setSpan(context.active(), parent);

  return new Promise<HedgedResult>((resolve) => {
    const elapsed = () => performance.now() - started;

    const settle = (id: number, report: Omit<AttemptReport, 'attempt' | 'ms'>) => {
      if (reports[id]) return;
      const ms = Math.round(elapsed() - launchedAt[id]);
      reports[id] = { attempt: id, ms, ...report };
      const span = spans[id];
      span.setAttributes({ 'smart.result': report.result, ...(report.status ? { 'http.response.status_code': report.status } : {}) });
      if (report.result === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: report.error });
      span.end();
    };

    const apply = (actions: HedgeAction[]) => {
      for (const action of actions) {
        switch (action.type) {
          case 'launch':
            for (const id of action.attempts) launch(id);
            break;
          case 'timer':
            timers.push(setTimeout(() => apply(run.timerFired(action.name)), Math.max(0, action.atMs - elapsed())));
            break;
          case 'abort':
            for (const id of action.attempts) {
              settle(id, { result: 'aborted' });
              controllers[id].abort();
            }
            break;
          case 'finish': {
            for (const timer of timers) clearTimeout(timer);
            const ms = Math.round(elapsed());
            parent.setAttributes({ 'smart.outcome': action.outcome, 'smart.attempts': run.launched });
            if (action.winner !== undefined) parent.setAttribute('smart.winner', action.winner);
            parent.end();
            resolve({
              outcome: action.outcome,
              ms,
              body: action.winner === undefined ? undefined : winnerBody.get(action.winner),
              attempts: reports.filter((r): r is AttemptReport => r !== undefined),
            });
            break;
          }
          default: {
            const unreachable: never = action;
            throw new Error(`unknown action ${JSON.stringify(unreachable)}`);
          }
        }
      }
    };

    const winnerBody = new Map<number, unknown>();
    const launch = (id: number) => {
      const controller = new AbortController();
      controllers[id] = controller;
      launchedAt[id] = elapsed();
      // Attempts are children of the call span.
      spans[id] = tracer.startSpan('smart.attempt', { attributes: { 'smart.attempt': id } }, parentContext);
      const attemptStart = performance.now();
      void attempt(url, dispatcher, controller.signal, plan.deadlineMs).then(
        ({ status, body }) => {
          if (run.finished) return;
          options.onLatency?.(performance.now() - attemptStart, true);
          winnerBody.set(id, body);
          settle(id, { result: 'won', status });
          apply(run.attemptSucceeded(id));
        },
        (error: Error & { status?: number }) => {
          if (controller.signal.aborted || run.finished) return;
          options.onLatency?.(performance.now() - attemptStart, false);
          settle(id, { result: 'failed', status: error.status, error: error.status ? undefined : error.message });
          apply(run.attemptFailed(id, elapsed()));
        },
      );
    };

    apply(run.start());
  });
}

/** One upstream request: 2xx with valid JSON is a success; anything else throws. */
async function attempt(
  url: URL,
  dispatcher: Dispatcher,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<{ status: number; body: unknown }> {
  const response = await request(url, { dispatcher, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const text = await response.body.text();
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw Object.assign(new Error(`status ${response.statusCode}`), { status: response.statusCode });
  }
  try {
    return { status: response.statusCode, body: JSON.parse(text) as unknown };
  } catch {
    throw new InvalidJsonError();
  }
}
