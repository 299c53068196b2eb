import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend.js';
import { closeFrame, FrameBoundary } from './frame-boundary.js';

/** After the balancer's close frames, how long both peers get to close their side. */
const CLOSE_WAIT_MS = 2_000;
const GOING_AWAY = 1001;

/** One client socket joined to one backend socket after a 101: bytes both ways, and a clean close on shutdown. */
export class Tunnel {
  private readonly fromBackend = new FrameBoundary();
  private readonly fromClient = new FrameBoundary();
  private closing = false;
  readonly closed: Promise<void>;

  constructor(
    readonly backend: Backend,
    private readonly client: Duplex,
    private readonly upstream: Duplex,
  ) {
    this.closed = new Promise((resolve) => {
      let open = 2;
      const done = () => {
        open -= 1;
        if (open === 0) resolve();
      };
      client.once('close', done);
      upstream.once('close', done);
    });
    const onError = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', onError);
    upstream.on('error', onError);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    // Bytes both ways with backpressure, watching frame boundaries so a close can be cut in.
    this.relay(upstream, client, this.fromBackend);
    this.relay(client, upstream, this.fromClient);
  }

  /** Ends the tunnel the way a WebSocket peer would: close 1001 to both sides, each at a frame boundary. */
  goAway(): Promise<void> {
    this.closing = true;
    this.closeAtBoundary(this.fromBackend, this.client, closeFrame(GOING_AWAY, 'balancer going away'));
    this.closeAtBoundary(this.fromClient, this.upstream, closeFrame(GOING_AWAY, 'balancer going away', randomBytes(4)));
    const cutOff = setTimeout(() => {
      this.client.destroy();
      this.upstream.destroy();
    }, CLOSE_WAIT_MS);
    cutOff.unref();
    return this.closed.finally(() => clearTimeout(cutOff));
  }

  private readonly pendingClose = new Map<FrameBoundary, () => void>();

  private relay(from: Duplex, to: Duplex, frames: FrameBoundary): void {
    from.on('data', (chunk: Buffer) => {
      if (this.closing && !this.pendingClose.has(frames)) return; // after our close frame: drop
      const boundary = frames.feed(chunk);
      const cut = this.pendingClose.get(frames);
      if (cut && boundary !== -1) {
        // Forward up to the boundary, then the close frame; the rest is dropped.
        if (boundary > 0) to.write(chunk.subarray(0, boundary));
        cut();
        return;
      }
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => to.end());
  }

  private closeAtBoundary(frames: FrameBoundary, to: Duplex, close: Buffer): void {
    const send = () => {
      this.pendingClose.delete(frames);
      to.write(close);
      to.end();
    };
    if (frames.atBoundary) send();
    else this.pendingClose.set(frames, send);
  }
}
