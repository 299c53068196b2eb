import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Cluster, type Redis } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig, type AppConfig, type RedisEndpoint } from '../config/index.js';
import { MetricsService } from '../ops/metrics.service.js';
import { assessDurability, parseInfo, type DurabilityReport } from './durability.js';
import { closeBullConnections, type RedisClient } from './redis-connection.js';
import { InjectRedis } from './redis.constants.js';
import { parseReplicas, type ReplicaReport } from './replication.js';

/** How often a connected Redis is asked whether it still answers (at least the command timeout). */
const PROBE_INTERVAL_MS = 1_000;

/** How often the primaries are asked for their replicas and how far behind those are. */
const REPLICATION_INTERVAL_MS = 5_000;

/**
 * The shared client's health as /ready and the drain steps need it: reachable or not and
 * why, and whether Redis keeps what it acknowledged (checked each time it connects).
 * Closes the client last, after the modules that use it have stopped.
 */
@Injectable()
export class RedisHealth implements OnApplicationShutdown {
  private readonly logger = new Logger('Redis');
  private error = '';
  private report?: DurabilityReport;
  private everReady = false;
  /** Connected since the last close: a close then is one disconnect, however many retries follow. */
  private wasReady = false;
  private readonly firstWaitMs: number;
  /** One promise for every request waiting on the first connection (not a listener each). */
  private readonly firstReady: Promise<boolean>;
  /** The last probe went unanswered within the command timeout, on a connection still open. */
  private unresponsive = false;
  private probing = false;
  private readonly probeTimer: NodeJS.Timeout;
  private readonly mode: RedisEndpoint['mode'];
  /**
   * The primaries in use (`host:port`: the server connected to; a Cluster's masters), and when
   * and how often a new one appeared (a failover or switchover).
   */
  private primaries: readonly string[] = [];
  private primarySwitches = 0;
  private lastSwitchAt?: string;
  private replicas: readonly ReplicaReport[] = [];
  private replicationReadAt = 0;
  private readonly redisConfig: AppConfig['redis'];
  private readonly switchListeners: (() => void)[] = [];

  constructor(
    @InjectRedis() readonly client: RedisClient,
    @InjectConfig() config: AppConfig,
    metrics: MetricsService,
  ) {
    this.redisConfig = config.redis;
    const reachable = () => this.reachable;
    new Gauge({
      name: 'ballast_redis_up',
      help: '1 while the connection to Redis is up (ready for commands)',
      registers: [metrics.registry],
      collect() {
        this.set(reachable() ? 1 : 0);
      },
    });
    const lost = new Counter({
      name: 'ballast_redis_disconnects_total',
      help: 'Times the connection to Redis was lost',
      registers: [metrics.registry],
    });
    client.on('close', () => {
      if (this.wasReady) lost.inc();
      this.wasReady = false;
    });
    const switches = new Counter({
      name: 'ballast_redis_primary_switches_total',
      help: 'Times the client reconnected to a different Redis primary (a failover or switchover)',
      registers: [metrics.registry],
    });
    this.mode = config.redis?.endpoint.mode ?? 'standalone';
    this.firstWaitMs = config.redis?.commandTimeoutMs ?? 1_000;
    // Not events.once: it rejects on the first 'error', and a Redis still booting emits those.
    this.firstReady = new Promise((resolve) => client.once('ready', () => resolve(true)));
    client.on('error', (error: Error) => {
      // ioredis emits on every reconnect attempt: log a failure unless it repeats the last one.
      if (error.message !== this.error) this.logger.warn(`Redis connection: ${error.message}`);
      this.error = error.message;
    });
    client.on('ready', () => {
      this.everReady = true;
      this.wasReady = true;
      this.unresponsive = false;
      this.error = '';
      if (this.notePrimaries()) switches.inc();
      void this.checkDurability();
      void this.readReplication();
    });
    // A Cluster's masters change without the client reconnecting: a replica promoted for a lost
    // master shows in the slot map it refreshes.
    if (client instanceof Cluster) client.on('refresh', () => this.notePrimaries() && switches.inc());
    if (client.status === 'ready') {
      this.everReady = true;
      this.wasReady = true;
      this.notePrimaries();
      void this.checkDurability();
    }
    // A Redis that stops answering but keeps its connections (frozen, SIGSTOP, a VM paused, a
    // network that drops without a reset) leaves the client `ready` for minutes: only an
    // unanswered command says so. A PING every second (at most one outstanding) tells it.
    this.probeTimer = setInterval(() => void this.probe(), Math.max(PROBE_INTERVAL_MS, this.firstWaitMs));
    this.probeTimer.unref();
  }

  /** Called each time a new primary appears (a failover or switchover seen by this client). */
  onPrimarySwitch(listener: () => void): void {
    this.switchListeners.push(listener);
  }

  get reachable(): boolean {
    return this.client.status === 'ready' && !this.unresponsive;
  }

  private async probe(): Promise<void> {
    if (this.probing || this.client.status !== 'ready') return;
    this.probing = true;
    try {
      await this.client.ping();
      if (Date.now() - this.replicationReadAt >= REPLICATION_INTERVAL_MS) void this.readReplication();
      if (this.unresponsive) this.logger.log('Redis answers again');
      this.unresponsive = false;
    } catch (error) {
      if (!this.unresponsive) this.logger.warn(`Redis does not answer: ${(error as Error).message}`);
      this.unresponsive = true;
      this.error = `no answer within ${this.firstWaitMs} ms (${(error as Error).message})`;
    } finally {
      this.probing = false;
    }
  }

  /**
   * Whether a request path may send a command now. Connected: yes. Lost after having been
   * connected: no, at once (503, not a command queued for the length of the outage). Never
   * connected yet (just booted): wait for the first connection, at most REDIS_COMMAND_TIMEOUT_MS.
   * Answered without a promise in the first two cases: this runs before every request's command.
   */
  usable(): boolean | Promise<boolean> {
    if (this.reachable) return true;
    if (this.everReady) return false;
    return Promise.race([this.firstReady, sleep(this.firstWaitMs, false, { ref: false })]);
  }

  /** The primaries this client uses now: the server it is connected to, or a Cluster's masters. */
  private primaryNodes(): Redis[] {
    if (this.client instanceof Cluster) return this.client.nodes('master');
    return this.client.status === 'ready' ? [this.client] : [];
  }

  private static addressOf(node: Redis): string | undefined {
    if (node.stream?.remoteAddress) return `${node.stream.remoteAddress}:${node.stream.remotePort}`;
    return node.options.host ? `${node.options.host}:${node.options.port}` : undefined;
  }

  /** Records the primaries in use; true when one of them is new (a failover moved us, not a node lost). */
  private notePrimaries(): boolean {
    const now = this.primaryNodes()
      .map((node) => RedisHealth.addressOf(node))
      .filter((address): address is string => Boolean(address))
      .sort();
    if (now.length === 0) return false;
    const before = this.primaries;
    this.primaries = now;
    const arrived = now.filter((address) => !before.includes(address));
    if (before.length === 0 || arrived.length === 0) return false;
    this.primarySwitches += 1;
    this.lastSwitchAt = new Date().toISOString();
    this.logger.warn(`Redis primary is now ${arrived.join(', ')} (was ${before.join(', ')})`);
    for (const listener of this.switchListeners) listener();
    return true;
  }

  /** Each primary's replicas and how far behind they are (INFO replication; unknown where refused). */
  private async readReplication(): Promise<void> {
    this.replicationReadAt = Date.now();
    try {
      const reports = await Promise.all(
        this.primaryNodes().map(async (node) => parseReplicas(await node.info('replication'), RedisHealth.addressOf(node) ?? '?')),
      );
      this.replicas = reports.flat();
    } catch {
      // INFO may be renamed or refused on managed Redis: then the replicas are simply not shown.
    }
  }

  /**
   * For /ready: how Redis is reached and the primaries in use (with Sentinel and Cluster, the
   * switches seen and the last one), their replicas and lag, the connection state, the last
   * error while away, and durability warnings.
   */
  details(): Record<string, unknown> {
    return {
      mode: this.mode,
      ...(this.primaries.length > 0 && (this.mode === 'cluster' ? { primaries: this.primaries } : { primary: this.primaries[0] })),
      ...(this.mode !== 'standalone' && {
        primarySwitches: this.primarySwitches,
        ...(this.lastSwitchAt && { lastSwitchAt: this.lastSwitchAt }),
      }),
      ...(this.replicas.length > 0 && { replicas: this.replicas }),
      connection: this.client.status,
      ...(this.error && !this.reachable ? { error: this.error } : {}),
      ...(this.report ? { durability: this.report } : {}),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.probeTimer);
    // quit() fails at once while Redis is away (no offline queue); then just drop the socket.
    await this.client.quit().catch(() => this.client.disconnect());
    if (this.redisConfig) await closeBullConnections(this.redisConfig);
  }

  private async checkDurability(): Promise<void> {
    try {
      const [persistence, memory] = await Promise.all([this.client.info('persistence'), this.client.info('memory')]);
      const fsync = await this.readConfig('appendfsync');
      this.report = assessDurability(parseInfo(`${persistence}\n${memory}`), fsync);
      for (const warning of this.report.warnings) this.logger.warn(`durability: ${warning}`);
    } catch (error) {
      this.logger.warn(`could not read Redis persistence settings: ${(error as Error).message}`);
    }
  }

  /** CONFIG is often disabled on managed Redis; then the value is simply unknown. */
  private async readConfig(name: string): Promise<string | undefined> {
    try {
      const reply = (await this.client.config('GET', name)) as string[];
      return reply[1];
    } catch {
      return undefined;
    }
  }
}
