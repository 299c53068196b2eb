import { Logger } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { INSTANCE_INFO } from '../ops/instance-info.js';
import { Subscriptions } from './subscriptions.js';
import type { TaskUpdate, TaskView } from './task.js';

/** Frames the server sends; one map so every send is typed. */
interface ServerFrames {
  hello: { instance: string; hostname: string };
  task: TaskView;
  subscribed: { taskId?: string; all?: boolean };
  error: { message: string };
  shutdown: { reason: string; reconnect: boolean };
}

/** Closing sockets is spread over this window, so clients do not all reconnect at once. */
const CLOSE_SPREAD_MS = 500;
const CLOSE_SERVICE_RESTART = 1012;

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

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly coordinator: ShutdownCoordinator,
  ) {
    this.maxSubscriptions = config.websocket.maxSubscriptions;
    this.subscriptions = new Subscriptions(this.maxSubscriptions);
    this.maxFrameBytes = config.websocket.maxFrameBytes;
  }

  afterInit(server: WebSocketServer): void {
    // ws reads these per upgrade: new sockets are refused with HTTP 503 once shutdown starts.
    server.options.maxPayload = this.maxFrameBytes;
    server.options.verifyClient = (_info, accept) => {
      if (this.coordinator.accepting) accept(true);
      else accept(false, 503, 'Shutting down', { 'Retry-After': '5' });
    };
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const clientId = new URL(request.url ?? '/', 'http://x').searchParams.get('clientId') ?? undefined;
    this.subscriptions.connect(socket, clientId);
    socket.on('message', (data, isBinary) => this.onFrame(socket, data.toString(), isBinary));
    this.send(socket, 'hello', { instance: INSTANCE_INFO.instance, hostname: INSTANCE_INFO.hostname });
  }

  handleDisconnect(socket: WebSocket): void {
    this.subscriptions.disconnect(socket);
  }

  get connections(): number {
    return this.subscriptions.size;
  }

  /** Sends a task frame to every socket that follows the task. */
  publish({ view, clientId }: TaskUpdate): void {
    const targets = this.subscriptions.followersOf(view.id, clientId);
    if (targets.size === 0) return;
    const frame = JSON.stringify({ event: 'task', data: view });
    for (const socket of targets) if (socket.readyState === socket.OPEN) socket.send(frame);
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

  private onFrame(socket: WebSocket, text: string, isBinary: boolean): void {
    const frame = isBinary ? undefined : parseFrame(text);
    if (!frame) {
      this.send(socket, 'error', { message: 'frames must be JSON text {"event": string, "data": object}' });
      return;
    }
    if (frame.event !== 'subscribe') {
      this.send(socket, 'error', { message: `unknown event ${JSON.stringify(frame.event.slice(0, 40))}` });
      return;
    }
    const outcome = this.subscriptions.subscribe(socket, frame.data);
    if (outcome.ok) {
      this.send(socket, 'subscribed', outcome.all ? { all: true } : { taskId: outcome.taskId });
      return;
    }
    const message =
      outcome.refusal === 'too_many'
        ? `at most ${this.maxSubscriptions} subscriptions per socket`
        : 'subscribe needs {"taskId": string} or {"all": true}';
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
