export declare const MAIN: string;
export declare function freePort(): Promise<number>;
export declare function readyPathFor(env: Record<string, string | undefined>): string;
export declare function untilAnswers(url: string, options?: { timeoutMs?: number; exited?: () => boolean }): Promise<void>;

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The running process's pid (undefined before the first start). */
  readonly pid: number | undefined;
  /** Its data directory (the AOF lives there). */
  readonly dir: string;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it (SIGTERM: Redis flushes its AOF first; SIGKILL: a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) it: a Redis that holds its connections and answers nothing. */
  freeze(frozen?: boolean): void;
}

export declare function startRedisServer(options?: {
  aof?: boolean;
  onSpawn?: (pid: number) => void;
  args?: string[];
}): Promise<RedisServer>;

export declare function redisCli(port: number, ...command: string[]): string;

export interface SentinelFleet {
  readonly name: string;
  /** The primary first, then its replicas. */
  readonly nodes: RedisServer[];
  /** `host:port,...` of the sentinels, as REDIS_SENTINELS takes them. */
  readonly sentinels: string;
  /** The primary's port as the sentinels name it now. */
  primaryPort(): number;
  /** Resolves once every sentinel names `port` as the primary with every replica up. */
  untilAgreed(port: number, timeoutMs?: number): Promise<void>;
  /** Resolves with the primary's port once the sentinels name another than `port` (after a crash). */
  untilPrimaryIsNot(port: number, timeoutMs?: number): Promise<number>;
  /** SENTINEL FAILOVER with every replica in sync first; resolves with the new primary's port once the sentinels name it. */
  switchover(): Promise<number>;
  /** Resolves with the primary's port once it has at least `count` replicas online (synced). */
  untilReplicasOnline(count: number, timeoutMs?: number): Promise<number>;
  /** Stops `count` sentinels: below the quorum, no failover happens. */
  stopSentinels(count: number): Promise<void>;
  stop(): Promise<void>;
}

export declare function startSentinelFleet(options?: {
  name?: string;
  replicas?: number;
  sentinels?: number;
  /** Every node with appendonly yes (a restarted node keeps its data). */
  aof?: boolean;
  onSpawn?: (pid: number) => void;
}): Promise<SentinelFleet>;

export interface RedisClusterFleet {
  /** Every node, primaries and replicas (their roles change with failovers). */
  readonly nodes: RedisServer[];
  /** Two startup nodes, `host:port,host:port`, as REDIS_CLUSTER_NODES takes them. */
  readonly startupNodes: string;
  /** The port of the primary serving `key` now. */
  ownerOf(key: string): number | undefined;
  /** The port of the primary the node on `port` replicates (undefined for a primary). */
  replicaOf(port: number): number | undefined;
  /** A node that answers. */
  livePort(): number;
  /** Every live node reports cluster_state:ok and every live primary's replicas are online. */
  untilHealthy(timeoutMs?: number): Promise<void>;
  /** Resolves with the port of the primary serving `key` once it is not `port` (after a crash). */
  untilOwnerIsNot(key: string, port: number, timeoutMs?: number): Promise<number>;
  /** CLUSTER FAILOVER on a replica of the primary serving `key`; resolves with the new owner's port. */
  switchover(key: string): Promise<number>;
  stop(): Promise<void>;
}

export declare function startRedisCluster(options?: {
  primaries?: number;
  replicasEach?: number;
  onSpawn?: (pid: number) => void;
}): Promise<RedisClusterFleet>;
