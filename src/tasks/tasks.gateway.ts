import { Logger } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket, WebSocketServer } from 'ws';
import { Counter, Gauge } from 'prom-client';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { ERROR_MESSAGES, StoreUnavailableError } from '../errors/index.js';
import { DRAIN_ORDER, ShutdownCoordinator } from '../lifecycle/index.js';
import { AdminAccess } from '../ops/admin-access.js';
import { INSTANCE_INFO } from '../ops/instance-info.js';
import { MetricsService } from '../ops/metrics.service.js';
import { SocketAdmission } from './socket-admission.js';
import { SocketHeartbeat } from './socket-heartbeat.js';
import { Subscriptions } from './subscriptions.js';
import { TickCoalescer } from './tick-coalescer.js';
import { TaskQueue } from './task-queue.js';
import type { TaskUpdate, TaskView } from './task.js';
import { SERVER_FRAMES } from './ws-frames.js';
import type { z } from 'zod';

/** Frames the server sends, typed from their schemas (ws-frames.ts, also the AsyncAPI document's). */
type ServerFrames = { [K in keyof typeof SERVER_FRAMES]: z.output<(typeof SERVER_FRAMES)[K]>['data'] };

/** A Buffer is sent as a binary frame unless told otherwise; the protocol's frames are JSON text. */
const TEXT_FRAME = { binary: false } as const;

/** Followed tasks read back at once after the queue's events reconnect. */
const RETELL_BATCH = 50;

/** Closing sockets is spread over this window, so clients do not all reconnect at once. */
const CLOSE_SPREAD_MS = 500;
const CLOSE_SERVICE_RESTART = 1012;
/** RFC 6455 "Try Again Later": the socket fell too far behind; it reconnects and is told the present. */
const CLOSE_TOO_SLOW = 1013;
/** A socket closed for being slow gets this long to take its close frame before it is cut off. */
const SLOW_CLOSE_GRACE_MS = 1_000;

/**
 * Live task status over plain WebSockets at /ws (RFC 6455). Clients subscribe to a task
 * or to all; tasks created with a clientId reach sockets that connected with it.
 */
@WebSocketGateway({ path: '/ws' })
export class TasksGateway implements OnGatewayInit<WebSocketServer>, OnGatewayConnection<WebSocket>, OnGatewayDisconnect<WebSocket> {
  private readonly logger = new Logger('TasksGateway');
  private readonly subscriptions: Subscriptions<WebSocket>;
  private readonly maxSubscriptions: number;
  private readonly maxFrameBytes: number;
  private readonly maxBufferedBytes: number;
  /** Without Redis: an unknown task may well exist, on another instance. */
  private readonly tasksInMemory: boolean;
  private readonly slowClosed: Counter;
  private readonly heartbeat: SocketHeartbeat;
  private readonly admission: SocketAdmission;
  /** The TCP connection under each WebSocket, so a tick's frames to it leave in one write. */
  private readonly transports = new WeakMap<WebSocket, Socket>();
  private readonly coalescer = new TickCoalescer();

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly coordinator: ShutdownCoordinator,
    private readonly queue: TaskQueue,
    access: AdminAccess,
    metrics: MetricsService,
  ) {
    this.maxSubscriptions = config.websocket.maxSubscriptions;
    this.subscriptions = new Subscriptions(this.maxSubscriptions);
    this.maxFrameBytes = config.websocket.maxFrameBytes;
    this.maxBufferedBytes = config.websocket.maxBufferedBytes;
    this.tasksInMemory = !config.redis;
    this.slowClosed = new Counter({
      name: 'ballast_ws_slow_closed_total',
      help: 'Sockets closed (1013) for having more than WS_MAX_BUFFERED_BYTES unsent: they stopped reading',
      registers: [metrics.registry],
    });
    this.heartbeat = new SocketHeartbeat(config.websocket.heartbeatMs, () => this.subscriptions.sockets());
    this.admission = new SocketAdmission(access);
    const subscriptions = this.subscriptions;
    new Gauge({
      name: 'ballast_ws_connections',
      help: 'Open WebSocket connections on /ws',
      registers: [metrics.registry],
      collect() {
        this.set(subscriptions.size);
      },
    });
  }

  /** The gateway follows the queue and owns its own drain step; TasksService only creates and reads. */
  onModuleInit(): void {
    this.queue.onUpdate((update) => this.publish(update));
    this.queue.onEventsResumed(() => void this.retellFollowedTasks());
    this.coordinator.registerDrainStep({
      name: 'websockets',
      order: DRAIN_ORDER.sockets,
      run: () => this.closeAll(),
      pending: () => (this.connections > 0 ? `${this.connections} sockets open` : undefined),
    });
  }

  onModuleDestroy(): void {
    this.heartbeat.stop();
  }

  afterInit(server: WebSocketServer): void {
    // ws reads these per upgrade: new sockets are refused with HTTP 503 once shutdown starts.
    server.options.maxPayload = this.maxFrameBytes;
    server.options.verifyClient = (_info, accept) => {
      if (this.coordinator.accepting) accept(true);
      else accept(false, 503, ERROR_MESSAGES.gateway.shuttingDown, { 'Retry-After': '5' });
    };
    this.heartbeat.start();
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const clientId = new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? undefined;
    this.subscriptions.connect(socket, clientId);
    this.transports.set(socket, request.socket);
    this.admission.connected(socket, request.headers.authorization);
    this.heartbeat.track(socket);
    socket.on('message', (data, isBinary) => void this.onFrame(socket, data.toString(), isBinary));
    this.send(socket, 'hello', { instance: INSTANCE_INFO.instance, hostname: INSTANCE_INFO.hostname });
    // A client that reconnects (after a drain, say) learns the present of its unfinished tasks,
    // and of those that finished while it was away.
    if (clientId) void this.sendPresent(socket, () => this.queue.recentOf(clientId, this.maxSubscriptions));
  }

  handleDisconnect(socket: WebSocket): void {
    this.subscriptions.disconnect(socket);
  }

  get connections(): number {
    return this.subscriptions.size;
  }

  /**
   * After the queue's events reconnected, every task a socket follows by id is read again and
   * its present sent: a final state whose event was lost (a primary that died with it) would
   * otherwise never reach its followers. A repeated state is harmless: frames are states.
   */
  private async retellFollowedTasks(): Promise<void> {
    const ids = this.subscriptions.followedTaskIds();
    this.logger.log(`queue events resumed: telling the followers of ${ids.length} tasks their present`);
    for (let start = 0; start < ids.length; start += RETELL_BATCH) {
      const views = await Promise.all(ids.slice(start, start + RETELL_BATCH).map((id) => this.queue.get(id).catch(() => undefined)));
      for (const view of views) if (view) this.publish({ view });
    }
  }

  /** Sends a task frame to every socket that follows the task. */
  publish({ view, clientId }: TaskUpdate): void {
    const targets = this.subscriptions.followersOf(view.id, clientId);
    if (targets.size === 0) return;
    // Encoded once for every follower: a string would be measured and encoded again per socket.
    const frame = Buffer.from(JSON.stringify({ event: 'task', data: view }));
    for (const socket of targets) {
      if (socket.readyState !== socket.OPEN) continue;
      if (socket.bufferedAmount > this.maxBufferedBytes) {
        this.closeSlow(socket);
        continue;
      }
      const transport = this.transports.get(socket);
      if (transport) this.coalescer.hold(transport);
      socket.send(frame, TEXT_FRAME);
    }
  }

  /**
   * A socket that stopped reading (or a stuck proxy in front of it) would make this process keep
   * every frame for it. It is closed instead of sent a "re-read your tasks" frame: that frame
   * would queue behind the very bytes it cannot take. Its client reconnects and is told the
   * present (subscribe answers, ?clientId= unfinished tasks), so nothing it needs is lost.
   */
  private closeSlow(socket: WebSocket): void {
    this.slowClosed.inc();
    this.logger.warn(`closing a socket with ${socket.bufferedAmount} bytes unsent (WS_MAX_BUFFERED_BYTES ${this.maxBufferedBytes})`);
    socket.close(CLOSE_TOO_SLOW, 'too slow: frames unread');
    // It is not reading: its close frame may never leave either.
    setTimeout(() => socket.terminate(), SLOW_CLOSE_GRACE_MS).unref();
    this.subscriptions.disconnect(socket);
  }

  /** Shutdown step: a `shutdown` frame, then close 1012, spread over a short window. */
  async closeAll(): Promise<void> {
    const sockets = this.subscriptions.sockets();
    if (sockets.length > 0) this.logger.log(`closing ${sockets.length} sockets`);
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            if (socket.readyState === socket.CLOSED) return resolve();
            socket.once('close', () => resolve());
            this.send(socket, 'shutdown', { reason: 'server shutting down', reconnect: true });
            setTimeout(() => socket.close(CLOSE_SERVICE_RESTART, 'Service Restart'), Math.random() * CLOSE_SPREAD_MS);
            // A peer that never answers the close handshake is cut off.
            setTimeout(() => socket.terminate(), CLOSE_SPREAD_MS + 2_000).unref();
          }),
      ),
    );
  }

  /** Sends each current view `read` returns as a `task` frame; an `error` frame if the store is away. */
  private async sendPresent(socket: WebSocket, read: () => Promise<TaskView[]>): Promise<TaskView[] | undefined> {
    try {
      const views = await read();
      for (const view of views) this.send(socket, 'task', view);
      return views;
    } catch (error) {
      const message = error instanceof StoreUnavailableError ? ERROR_MESSAGES.gateway.storeUnavailable : ERROR_MESSAGES.gateway.readFailed;
      if (!(error instanceof StoreUnavailableError)) this.logger.warn(`reading tasks for a socket: ${(error as Error).message}`);
      this.send(socket, 'error', { message });
      return undefined;
    }
  }

  private async onFrame(socket: WebSocket, text: string, isBinary: boolean): Promise<void> {
    const frame = isBinary ? undefined : parseFrame(text);
    if (!frame) {
      this.send(socket, 'error', { message: ERROR_MESSAGES.gateway.badFrame });
      return;
    }
    if (frame.event !== 'subscribe') {
      this.send(socket, 'error', { message: ERROR_MESSAGES.gateway.unknownEvent(frame.event) });
      return;
    }
    const data = frame.data as { all?: unknown; token?: unknown };
    // Every task of every client is the fleet-wide view: it needs ADMIN_TOKEN when one is set.
    if (data.all === true && !this.admission.mayFollowAll(socket, data.token)) {
      this.send(socket, 'error', { message: ERROR_MESSAGES.admin.subscribeAll });
      return;
    }
    const outcome = this.subscriptions.subscribe(socket, frame.data);
    if (outcome.ok && outcome.all) {
      this.send(socket, 'subscribed', { all: true });
      return;
    }
    if (outcome.ok) {
      // Answer with the present: the task's current frame, or that there is no such task.
      const taskId = outcome.taskId!;
      const views = await this.sendPresent(socket, async () => {
        const view = await this.queue.get(taskId);
        if (view) this.send(socket, 'subscribed', { taskId });
        return view ? [view] : [];
      });
      if (views?.length === 0) this.send(socket, 'error', { message: ERROR_MESSAGES.gateway.unknownTask(taskId, this.tasksInMemory) });
      if (!views?.length) this.subscriptions.unsubscribe(socket, taskId);
      return;
    }
    const message =
      outcome.refusal === 'too_many'
        ? ERROR_MESSAGES.gateway.tooManySubscriptions(this.maxSubscriptions)
        : ERROR_MESSAGES.gateway.badSubscribe;
    this.send(socket, 'error', { message });
  }

  private send<K extends keyof ServerFrames>(socket: WebSocket, event: K, data: ServerFrames[K]): void {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event, data }));
  }
}

function parseFrame(text: string): { event: string; data: object } | undefined {
  try {
    const value = JSON.parse(text) as { event?: unknown; data?: unknown };
    if (typeof value !== 'object' || value === null || typeof value.event !== 'string') return undefined;
    if (typeof value.data !== 'object' || value.data === null) return undefined;
    return { event: value.event, data: value.data };
  } catch {
    return undefined;
  }
}
