import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { pino } from 'pino';
import { InjectConfig, type AppConfig } from '../config/index.js';

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

/** The JSON line for a record: stable field names, durations in ms to 0.1 ms, no undefined fields. */
export function accessLine(record: AccessRecord, role: string, includeQuery: boolean): string {
  const query = includeQuery ? -1 : record.target.indexOf('?');
  const line = {
    time: new Date(record.startedAtMs).toISOString(),
    log: 'access',
    role,
    requestId: record.requestId,
    client: record.client,
    method: record.method,
    path: query === -1 ? record.target : record.target.slice(0, query),
    route: record.route,
    status: record.status,
    backend: record.backend,
    attempts: record.attempts,
    bytesIn: record.bytesIn,
    bytesOut: record.bytesOut,
    upstreamMs: record.upstreamMs === undefined ? undefined : tenths(record.upstreamMs),
    totalMs: tenths(record.totalMs),
    rejected: record.rejected,
    tunnel: record.tunnel,
    worker: record.worker,
  };
  return `${JSON.stringify(line)}\n`;
}

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** Buffered lines are written at least this often, so a quiet process's log is never stale for long. */
const FLUSH_EVERY_MS = 1_000;
/** Lines are written in batches of at least this many bytes (or at the flush interval). */
const BATCH_BYTES = 8 * 1024;

/**
 * The access log's writer: an asynchronous, batched destination (pino's sonic-boom), so a
 * request pays for building its line and never for the write. Flushed every second and at
 * shutdown; a process killed with SIGKILL loses at most the last second's batch.
 */
@Injectable()
export class AccessLog implements OnApplicationShutdown {
  readonly policy: AccessLogPolicy;
  private readonly includeQuery: boolean;
  private readonly role: string;
  private destination?: ReturnType<typeof pino.destination>;
  private flusher?: NodeJS.Timeout;
  private closing = false;

  constructor(@InjectConfig() config: AppConfig) {
    this.policy = new AccessLogPolicy(config.accessLog);
    this.includeQuery = config.accessLog.includeQuery;
    this.role = config.role;
    if (!this.policy.enabled) return;
    const file = config.accessLog.file;
    this.destination = pino.destination({ dest: file ?? 1, sync: false, minLength: BATCH_BYTES, mkdir: file !== undefined });
    this.flusher = setInterval(() => this.flush(), FLUSH_EVERY_MS).unref();
  }

  /** Whether a request with this outcome is logged (asked first, so no record is built for nothing). */
  wants(status: number, troubled: boolean): boolean {
    return this.destination !== undefined && this.policy.wants(status, troubled);
  }

  write(record: AccessRecord): void {
    this.destination?.write(accessLine(record, this.role, this.includeQuery));
    // Requests still answered during shutdown: written at once, nothing waits for a batch.
    if (this.closing) this.flushSync();
  }

  onApplicationShutdown(): void {
    clearInterval(this.flusher);
    this.closing = true;
    this.flushSync();
  }

  private flushSync(): void {
    try {
      this.destination?.flushSync();
    } catch {
      // Not open yet, or a write in progress (it completes before the process exits).
    }
  }

  private flush(): void {
    // sonic-boom throws when flushed before its file is open; the next interval will do.
    try {
      this.destination?.flush();
    } catch {
      // retried at the next interval
    }
  }
}
