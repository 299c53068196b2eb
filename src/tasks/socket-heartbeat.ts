import type { WebSocket } from 'ws';

/**
 * ws's heartbeat recipe: every `intervalMs` each socket that answered the last ping is pinged
 * again, and one that did not is terminated. A peer that vanished without a close (a dead NAT
 * entry, a pulled cable) is found within two intervals instead of lingering in the maps.
 */
export class SocketHeartbeat {
  private readonly alive = new WeakSet<WebSocket>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: number,
    private readonly sockets: () => Iterable<WebSocket>,
  ) {}

  /** Counts a new socket as alive and listens for its pongs. */
  track(socket: WebSocket): void {
    this.alive.add(socket);
    socket.on('pong', () => this.alive.add(socket));
  }

  start(): void {
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private beat(): void {
    for (const socket of this.sockets()) {
      if (!this.alive.has(socket)) {
        socket.terminate();
        continue;
      }
      this.alive.delete(socket);
      socket.ping();
    }
  }
}
