import { Logger } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { INSTANCE_INFO } from '../ops/instance-info.js';
import type { TaskUpdate, TaskView } from './task.js';

/** Frames the server sends; one map so every send is typed. */
interface ServerFrames {
  hello: { instance: string; hostname: string };
  task: TaskView;
  subscribed: { taskId?: string; all?: boolean };
  error: { message: string };
  shutdown: { reason: string; reconnect: boolean };
}

interface ClientState {
  readonly clientId?: string;
  readonly tasks: Set<string>;
  all: boolean;
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
  private readonly clients = new Map<WebSocket, ClientState>();
  private readonly byTask = new Map<string, Set<WebSocket>>();
  private readonly byClientId = new Map<string, Set<WebSocket>>();
  private readonly allSubscribers = new Set<WebSocket>();
  private readonly maxSubscriptions: number;
  private readonly maxFrameBytes: number;

  constructor(
    @InjectConfig() config: AppConfig,
    private readonly coordinator: ShutdownCoordinator,
  ) {
    this.maxSubscriptions = config.websocket.maxSubscriptions;
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
    const state: ClientState = { clientId, tasks: new Set(), all: false };
    this.clients.set(socket, state);
    if (clientId) addTo(this.byClientId, clientId, socket);
    socket.on('message', (data, isBinary) => this.onFrame(socket, state, data.toString(), isBinary));
    this.send(socket, 'hello', { instance: INSTANCE_INFO.instance, hostname: INSTANCE_INFO.hostname });
  }

  handleDisconnect(socket: WebSocket): void {
    const state = this.clients.get(socket);
    if (!state) return;
    this.clients.delete(socket);
    this.allSubscribers.delete(socket);
    for (const id of state.tasks) removeFrom(this.byTask, id, socket);
    if (state.clientId) removeFrom(this.byClientId, state.clientId, socket);
  }

  get connections(): number {
    return this.clients.size;
  }

  /** Sends a task frame to every socket that follows the task. */
  publish({ view, clientId }: TaskUpdate): void {
    const targets = new Set<WebSocket>(this.allSubscribers);
    for (const socket of this.byTask.get(view.id) ?? []) targets.add(socket);
    if (clientId) for (const socket of this.byClientId.get(clientId) ?? []) targets.add(socket);
    if (targets.size === 0) return;
    const frame = JSON.stringify({ event: 'task', data: view });
    for (const socket of targets) if (socket.readyState === socket.OPEN) socket.send(frame);
  }

  /** Shutdown step: a `shutdown` frame, then close 1012, spread over a short window. */
  async closeAll(): Promise<void> {
    const sockets = [...this.clients.keys()];
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

  private onFrame(socket: WebSocket, state: ClientState, text: string, isBinary: boolean): void {
    const frame = isBinary ? undefined : parseFrame(text);
    if (!frame) {
      this.send(socket, 'error', { message: 'frames must be JSON text {"event": string, "data": object}' });
      return;
    }
    if (frame.event !== 'subscribe') {
      this.send(socket, 'error', { message: `unknown event ${JSON.stringify(frame.event.slice(0, 40))}` });
      return;
    }
    const { taskId, all } = frame.data as { taskId?: unknown; all?: unknown };
    if (all === true) {
      state.all = true;
      this.allSubscribers.add(socket);
      this.send(socket, 'subscribed', { all: true });
      return;
    }
    if (typeof taskId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(taskId)) {
      this.send(socket, 'error', { message: 'subscribe needs {"taskId": string} or {"all": true}' });
      return;
    }
    if (!state.tasks.has(taskId) && state.tasks.size >= this.maxSubscriptions) {
      this.send(socket, 'error', { message: `at most ${this.maxSubscriptions} subscriptions per socket` });
      return;
    }
    state.tasks.add(taskId);
    addTo(this.byTask, taskId, socket);
    this.send(socket, 'subscribed', { taskId });
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

function addTo<K>(index: Map<K, Set<WebSocket>>, key: K, socket: WebSocket): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(socket);
}

function removeFrom<K>(index: Map<K, Set<WebSocket>>, key: K, socket: WebSocket): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(socket);
  if (set.size === 0) index.delete(key);
}
