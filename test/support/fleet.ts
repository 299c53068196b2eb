import { http } from './http.js';
import { freePort } from './spawn.mjs';
import type { ProcessSet, ServiceProcess } from './process.js';

export interface FleetOptions {
  /** How many services (default 2). */
  readonly services?: number;
  /** Env of the i-th service (ports ascending), on top of PORT. */
  readonly serviceEnv?: (index: number, port: number) => Record<string, string | undefined>;
  /** Env of the balancer, on top of ROLE, BACKENDS and HEALTH_CHECK_INTERVAL_MS (200). */
  readonly balancerEnv?: Record<string, string>;
  /** Every service shares this Redis (REDIS_URL, REDIS_PREFIX). */
  /** The variables that point the services at Redis (TestRedis.env) and their key prefix. */
  readonly redis?: { readonly env: Readonly<Record<string, string>>; readonly prefix: string };
}

export interface Fleet {
  /** The services' ports, ascending: the order of BACKENDS, so round robin's order. */
  readonly ports: number[];
  readonly urls: string[];
  readonly services: ServiceProcess[];
  readonly balancer: ServiceProcess;
  /** A WebSocket URL on the balancer's /ws. */
  ws(query?: string): string;
}

/**
 * Services on free ports with a balancer in front, as real processes owned by `processes`
 * (useProcesses() stops them after the suite; stopAll() sooner). The Redis, when given, is the
 * caller's (describeWithRedis starts and stops one per suite).
 */
export async function startFleet(processes: ProcessSet, options: FleetOptions = {}): Promise<Fleet> {
  const size = options.services ?? 2;
  const ports = (await Promise.all(Array.from({ length: size }, () => freePort()))).sort((a, b) => a - b);
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const redisEnv = options.redis ? { ...options.redis.env, REDIS_PREFIX: options.redis.prefix } : {};
  const services = await processes.startAll(
    ports.map((port, index) => definedOnly({ ...redisEnv, PORT: String(port), ...options.serviceEnv?.(index, port) })),
  );
  const balancer = await processes.start({
    ROLE: 'balancer',
    BACKENDS: urls.join(','),
    HEALTH_CHECK_INTERVAL_MS: '200',
    ...options.balancerEnv,
  });
  return { ports, urls, services, balancer, ws: (query = '') => `ws://127.0.0.1:${balancer.port}/ws${query}` };
}

function definedOnly(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * Creates items through the balancer until one lands on the backend at `url`, and returns its
 * id: reads of it are pinned there (sticky), whatever the balancer's checks think of it.
 */
export async function itemOwnedBy(base: string, url: string): Promise<number> {
  for (let id = 1_000; id < 1_030; id += 1) {
    const created = await http(`${base}/items/?item_id=${id}`, { method: 'POST', json: { name: 'pin', price: 1 } });
    if (created.status === 200 && created.headers['x-app-url'] === url) return id;
  }
  throw new Error(`no item landed on ${url}`);
}
