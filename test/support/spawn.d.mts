export declare const MAIN: string;
export declare function freePort(): Promise<number>;
export declare function untilAnswers(url: string, options?: { timeoutMs?: number; exited?: () => boolean }): Promise<void>;

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Its data directory (the AOF lives there). */
  readonly dir: string;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it (SIGTERM: Redis flushes its AOF first; SIGKILL: a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) it: a Redis that holds its connections and answers nothing. */
  freeze(frozen?: boolean): void;
}

export declare function startRedisServer(options?: { aof?: boolean; onSpawn?: (pid: number) => void }): Promise<RedisServer>;
