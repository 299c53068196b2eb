import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { pino } from 'pino';
import { Counter } from 'prom-client';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { MetricsService } from './metrics.service.js';

/** One attempt at a backend, as a balancer access line lists it. */
export interface AttemptTrail {
  readonly backend: string;
  /** The backend's status, when it answered. */
  readonly status?: number;
  /** Why the attempt got no answer: connect, timeout, reset. */
  readonly failure?: string;
}

/**
 * One request, as both roles log it (the balancer per proxied request or tunnel, a service per
 * request it served), so a request id can be followed from one line to the other.
 */
export interface AccessRecord {
  readonly requestId: string;
  /** Wall clock at arrival, ms since the epoch. */
  readonly startedAtMs: number;
  readonly client: string;
  /** A service behind a proxy: the x-forwarded-for it was given (the client's own address first). */
  readonly forwardedFor?: string;
  readonly method: string;
  /** The request target as received; the query is cut off unless ACCESS_LOG_QUERY. */
  readonly target: string;
  /** 499 when the client left before the response was complete (nginx's convention). */
  readonly status: number;
  readonly totalMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** A service: the route template that matched. */
  readonly route?: string;
  /** The balancer: the backend whose answer the client got. */
  readonly backend?: string;
  readonly attempts?: readonly AttemptTrail[];
  /** From the answering attempt's dispatch to the end of its response. */
  readonly upstreamMs?: number;
  /** Why the balancer answered the request itself. */
  readonly rejected?: string;
  readonly tunnel?: boolean;
  readonly worker?: string;
}

type Settings = AppConfig['accessLog'];

/**
 * Which requests are logged: none, all (successes sampled), or only errors — a status of 400
 * or more, or a request that had a failed attempt on its way. Pure, so it is unit-tested.
 */
export class AccessLogPolicy {
  constructor(
    private readonly settings: Pick<Settings, 'mode' | 'sampleSuccesses'>,
    private readonly random: () => number = Math.random,
  ) {}

  get enabled(): boolean {
    return this.settings.mode !== 'off';
  }

  wants(status: number, troubled: boolean): boolean {
    const { mode, sampleSuccesses } = this.settings;
    if (mode === 'off') return false;
    if (status >= 400 || troubled) return true;
    if (mode === 'errors') return false;
    return sampleSuccesses >= 1 || this.random() < sampleSuccesses;
  }
}

/**
 * The JSON line for a record: stable field names, durations in ms to 0.1 ms, no absent fields.
 * Built as a string rather than through JSON.stringify of an object: this runs per request, and
 * the object, its copy and V8's string builder cost several times the line itself (measured
 * with `npm run bench:profile`); strings that may hold anything go through JSON.stringify alone.
 */
export function accessLine(record: AccessRecord, role: string, includeQuery: boolean): string {
  const query = includeQuery ? -1 : record.target.indexOf('?');
  const path = query === -1 ? record.target : record.target.slice(0, query);
  let line = `{"time":"${isoTime(record.startedAtMs)}","log":"access","role":"${role}","requestId":${JSON.stringify(record.requestId)},"client":${JSON.stringify(record.client)}`;
  if (record.forwardedFor !== undefined) line += `,"forwardedFor":${JSON.stringify(record.forwardedFor)}`;
  line += `,"method":${JSON.stringify(record.method)},"path":${JSON.stringify(path)}`;
  if (record.route !== undefined) line += `,"route":${JSON.stringify(record.route)}`;
  line += `,"status":${record.status}`;
  if (record.backend !== undefined) line += `,"backend":${JSON.stringify(record.backend)}`;
  if (record.attempts !== undefined) {
    line += ',"attempts":[';
    record.attempts.forEach((attempt, index) => {
      line += `${index > 0 ? ',' : ''}{"backend":${JSON.stringify(attempt.backend)}`;
      if (attempt.status !== undefined) line += `,"status":${attempt.status}`;
      if (attempt.failure !== undefined) line += `,"failure":${JSON.stringify(attempt.failure)}`;
      line += '}';
    });
    line += ']';
  }
  line += `,"bytesIn":${record.bytesIn},"bytesOut":${record.bytesOut}`;
  if (record.upstreamMs !== undefined) line += `,"upstreamMs":${tenths(record.upstreamMs)}`;
  line += `,"totalMs":${tenths(record.totalMs)}`;
  if (record.rejected !== undefined) line += `,"rejected":${JSON.stringify(record.rejected)}`;
  if (record.tunnel) line += ',"tunnel":true';
  if (record.worker !== undefined) line += `,"worker":${JSON.stringify(record.worker)}`;
  return `${line}}\n`;
}

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** The ISO time of the last millisecond asked for: at thousands of requests a second most lines share one. */
let lastMs = Number.NaN;
let lastIso = '';
function isoTime(ms: number): string {
  const whole = Math.floor(ms);
  if (whole !== lastMs) {
    lastMs = whole;
    lastIso = new Date(whole).toISOString();
  }
  return lastIso;
}

/** Buffered lines are written at least this often, so a quiet process's log is never stale for long. */
const FLUSH_EVERY_MS = 1_000;
/** Lines are handed to the file in batches of about this many characters (or at the flush interval). */
const BATCH_CHARS = 8 * 1024;
/** A file that cannot keep up: past this much unwritten, lines are dropped (and counted), not held in memory. */
const MAX_UNWRITTEN_BYTES = 16 * 1024 * 1024;

/**
 * The access log's writer, off the request path: a request pays for building its line and an
 * array push. Lines are joined into batches here and each batch goes to an asynchronous
 * sonic-boom destination (pino's), which writes it when the file is free. The batching is ours,
 * not sonic-boom's (`minLength`): its `write` measures the bytes of the whole pending buffer on
 * every call, which cost 4.6 KB of allocation per request (`npm run bench:profile`). Flushed
 * every second and at shutdown; a process killed with SIGKILL loses at most the last second.
 */
@Injectable()
export class AccessLog implements OnApplicationShutdown {
  readonly policy: AccessLogPolicy;
  private readonly includeQuery: boolean;
  private readonly role: string;
  private destination?: ReturnType<typeof pino.destination>;
  private batch: string[] = [];
  private batchChars = 0;
  private flusher?: NodeJS.Timeout;
  private closing = false;

  constructor(@InjectConfig() config: AppConfig, metrics: MetricsService) {
    this.policy = new AccessLogPolicy(config.accessLog);
    this.includeQuery = config.accessLog.includeQuery;
    this.role = config.role;
    if (!this.policy.enabled) return;
    const file = config.accessLog.file;
    const destination = pino.destination({ dest: file ?? 1, sync: false, mkdir: file !== undefined, maxLength: MAX_UNWRITTEN_BYTES });
    const dropped = new Counter({
      name: 'ballast_access_log_dropped_total',
      help: 'Access log lines dropped because the file fell more than 16 MB behind',
      registers: [metrics.registry],
    });
    destination.on('drop', (data: string) => dropped.inc(countLines(data)));
    this.destination = destination;
    this.flusher = setInterval(() => this.flush(), FLUSH_EVERY_MS).unref();
  }

  /** Whether a request with this outcome is logged (asked first, so no record is built for nothing). */
  wants(status: number, troubled: boolean): boolean {
    return this.destination !== undefined && this.policy.wants(status, troubled);
  }

  write(record: AccessRecord): void {
    const line = accessLine(record, this.role, this.includeQuery);
    this.batch.push(line);
    this.batchChars += line.length;
    // Requests still answered during shutdown: written at once, nothing waits for a batch.
    if (this.closing) this.flushSync();
    else if (this.batchChars >= BATCH_CHARS) this.flush();
  }

  onApplicationShutdown(): void {
    clearInterval(this.flusher);
    this.closing = true;
    this.flushSync();
  }

  /** Hands the batch to the destination, which writes it as soon as the file is free. */
  private flush(): void {
    if (!this.destination || this.batch.length === 0) return;
    const text = this.batch.join('');
    this.batch = [];
    this.batchChars = 0;
    this.destination.write(text);
  }

  private flushSync(): void {
    this.flush();
    try {
      this.destination?.flushSync();
    } catch {
      // Not open yet, or a write in progress (it completes before the process exits).
    }
  }
}

function countLines(text: string): number {
  let lines = 0;
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) lines += 1;
  return lines;
}
