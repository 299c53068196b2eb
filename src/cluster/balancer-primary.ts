import cluster, { type Worker } from 'node:cluster';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { AppConfig } from '../config/index.js';
import { isClusterMessage, type ClusterMessage, type FleetEvent } from './fleet-messages.js';
import type { WorkerCounters } from './worker-counters.js';

/** A worker that dies this soon after it started is not restarted (a crash loop, a bad port). */
const MIN_UPTIME_FOR_RESTART_MS = 5_000;
/** How long a status request waits for the workers' counters; a late or dead worker is left out. */
const GATHER_TIMEOUT_MS = 1_000;

/** One worker's question "every worker's counters?" while the answers come in. */
interface CountersGathering {
  readonly reports: WorkerCounters[];
  remaining: number;
  readonly finish: () => void;
}

/**
 * BALANCER_WORKERS > 1: this process only supervises. It forks the workers, which share the
 * listening port (node:cluster hands connections out round robin), relays each worker's fleet
 * events to the others, keeps a replica of that state for workers started later, names one
 * worker the leader (active checks, DNS), merges metrics for /_balancer/metrics, gathers every
 * worker's backend counters for /_balancer/backends, forwards
 * SIGTERM/SIGINT and exits with the worst worker exit code once all have drained.
 */
export function runBalancerPrimary(config: AppConfig, logger: Logger): void {
  const aggregator = new AggregatorRegistry();
  const replica = {
    backends: undefined as FleetEvent | undefined,
    states: new Map<string, FleetEvent>(),
    sticky: new LRUCache<string, string>({ max: config.balancer.stickyMaxEntries }),
  };
  const started = new Map<Worker, number>();
  let leader: Worker | undefined;
  const listening = new WeakSet<Worker>();
  let allListening = false;
  let stopping = false;
  let worstExit = 0;
  const gatherings = new Map<number, CountersGathering>();
  let nextGathering = 0;

  const live = () => Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());

  const remember = (event: FleetEvent) => {
    // Usage and demand are news for the workers running now, not state a new worker needs.
    if (event.kind === 'client-usage' || event.kind === 'demand') return;
    if (event.kind === 'backend-list') replica.backends = event;
    else if (event.kind === 'backend-state') replica.states.set(event.url, event);
    else if (event.owner === null) replica.sticky.delete(event.key);
    else replica.sticky.set(event.key, event.owner);
  };

  const send = (worker: Worker, message: ClusterMessage) => {
    if (worker.isConnected()) worker.send(message);
  };

  /** Once every live worker listens, each is told (its /_balancer/ready waits for it); a later one, as it starts. */
  const announceWhenAllListen = () => {
    if (allListening) return;
    const workers = live();
    if (workers.length === 0 || !workers.every((worker) => listening.has(worker))) return;
    allListening = true;
    for (const worker of workers) send(worker, { ballast: 'all-listening' });
  };

  /** A listening worker runs the checks: one that has not listened yet could not hear it (see 'listening' below). */
  const chooseLeader = () => {
    if (leader && !leader.isDead()) return;
    leader = live().find((worker) => listening.has(worker));
    if (leader) send(leader, { ballast: 'leader' });
  };

  const onMessage = (from: Worker, message: unknown) => {
    if (!isClusterMessage(message)) return; // prom-client's own messages are handled by the aggregator
    if (message.ballast === 'fleet') {
      remember(message.event);
      for (const worker of live()) if (worker !== from) send(worker, message);
    } else if (message.ballast === 'metrics') {
      aggregator.clusterMetrics().then(
        (text) => send(from, { ballast: 'metrics', id: message.id, text }),
        (error: Error) => send(from, { ballast: 'metrics', id: message.id, error: error.message }),
      );
    } else if (message.ballast === 'counters') {
      gatherCounters(from, message.id);
    } else if (message.ballast === 'report') {
      const gathering = gatherings.get(message.id);
      if (!gathering || !message.counters) return;
      gathering.reports.push(message.counters);
      gathering.remaining -= 1;
      if (gathering.remaining === 0) gathering.finish();
    }
  };

  /** Asks every live worker for its counters and answers `asker` once all have, or at the timeout. */
  const gatherCounters = (asker: Worker, askerId: number) => {
    const id = (nextGathering += 1);
    const workers = live();
    const reports: WorkerCounters[] = [];
    const finish = () => {
      if (!gatherings.delete(id)) return;
      clearTimeout(timer);
      send(asker, { ballast: 'counters', id: askerId, reports });
    };
    const timer = setTimeout(finish, GATHER_TIMEOUT_MS);
    gatherings.set(id, { reports, remaining: workers.length, finish });
    for (const worker of workers) send(worker, { ballast: 'report', id });
  };

  const fork = () => {
    const worker = cluster.fork();
    started.set(worker, Date.now());
    worker.on('message', (message: unknown) => onMessage(worker, message));
    // A message to a worker that is exiting fails (EPIPE) and Node raises it on the worker:
    // unheard, it killed the primary mid-drain (exit 1), when a worker's exit named the other,
    // also exiting, the leader. The worker no longer needs the message.
    worker.on('error', (error: Error) => logger.debug(`worker ${worker.id}: ${error.message}`));
    // Everything a worker is told is told once it listens, not when it comes online: a message
    // that arrives before its app (and the app's listener for messages) exists is dropped, and
    // so, with 'online', no worker ever heard it was the leader (no active checks ran) and a
    // restarted worker started without the fleet's state.
    worker.once('listening', () => {
      listening.add(worker);
      // What the fleet learned before this worker existed.
      if (replica.backends) send(worker, { ballast: 'fleet', event: replica.backends });
      for (const event of replica.states.values()) send(worker, { ballast: 'fleet', event });
      for (const [key, owner] of replica.sticky.entries()) send(worker, { ballast: 'fleet', event: { kind: 'sticky', key, owner } });
      chooseLeader();
      // A worker started to replace one joins a balancer that already serves.
      if (allListening) send(worker, { ballast: 'all-listening' });
      else announceWhenAllListen();
    });
    worker.once('exit', (code, signal) => {
      const uptime = Date.now() - (started.get(worker) ?? 0);
      started.delete(worker);
      if (leader === worker) leader = undefined;
      // It holds no share of the slots now: the others stop keeping them for it at once, not when its word expires.
      const gone: FleetEvent = { kind: 'demand', worker: worker.id, waiting: false, weight: 1 };
      for (const other of live()) send(other, { ballast: 'fleet', event: gone });
      if (stopping) {
        worstExit = Math.max(worstExit, code ?? 1);
      } else if (uptime >= MIN_UPTIME_FOR_RESTART_MS) {
        logger.error(`worker ${worker.id} exited (${signal ?? code}) after ${Math.round(uptime / 1000)} s; starting another`);
        fork();
      } else {
        logger.error(`worker ${worker.id} exited (${signal ?? code}) ${uptime} ms after it started; not restarting it`);
        worstExit = Math.max(worstExit, code ?? 1);
      }
      chooseLeader();
      // One that died before it listened is not waited for.
      announceWhenAllListen();
      if (live().length === 0) process.exit(stopping ? worstExit : Math.max(worstExit, 1));
    });
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal}: draining ${live().length} workers`);
      for (const worker of live()) worker.process.kill(signal);
    });
  }

  logger.info(`balancer primary ${process.pid}: starting ${config.balancer.workers} workers`);
  for (let i = 0; i < config.balancer.workers; i += 1) fork();
}
