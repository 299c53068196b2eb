import { parseInfo } from './durability.js';

/** One replica as its primary sees it (INFO replication). */
export interface ReplicaReport {
  /** `host:port` the replica announced. */
  readonly address: string;
  /** The primary it copies (`host:port`). */
  readonly of: string;
  /** `online` once in sync; `wait_bgsave`, `send_bulk` while it catches up. */
  readonly state: string;
  /** Seconds since the replica last acknowledged (Redis's `lag`). */
  readonly lagSeconds: number;
  /** Bytes of the primary's replication stream the replica has not acknowledged. */
  readonly behindBytes: number;
}

/**
 * The replicas in a primary's `INFO replication` text, with how far behind each is. Lines look
 * like `slave0:ip=10.0.0.7,port=6379,state=online,offset=1234,lag=0`.
 */
export function parseReplicas(infoText: string, primary: string): ReplicaReport[] {
  const info = parseInfo(infoText);
  const head = Number(info.master_repl_offset ?? 0);
  const replicas: ReplicaReport[] = [];
  for (const [name, value] of Object.entries(info)) {
    if (!/^slave\d+$/.test(name)) continue;
    const fields = Object.fromEntries(value.split(',').map((pair) => pair.split('=') as [string, string]));
    replicas.push({
      address: `${fields.ip}:${fields.port}`,
      of: primary,
      state: fields.state ?? 'unknown',
      lagSeconds: Number(fields.lag ?? 0),
      behindBytes: Math.max(0, head - Number(fields.offset ?? 0)),
    });
  }
  return replicas;
}
