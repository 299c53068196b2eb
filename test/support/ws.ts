import { once } from 'node:events';
import WebSocket, { type ClientOptions } from 'ws';
import { frameMismatch } from './asyncapi-frames.js';

export interface Frame {
  event: string;
  data: any;
}

/** A test WebSocket client that records frames and lets a test await the next matching one. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closeCode?: number;
  /** Set when the server broke the protocol; every wait then fails with it. */
  private protocolError?: Error;
  private waiters: { match: (frame: Frame) => boolean; resolve: (frame: Frame) => void; reject: (error: Error) => void }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // The protocol's frames are JSON text: a browser would get a binary frame as a Blob.
      if (isBinary) {
        this.protocolError = new Error('the server sent a binary frame; every frame must be JSON text');
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.protocolError);
        return;
      }
      const frame = JSON.parse(data.toString()) as Frame;
      const mismatch = frameMismatch(frame);
      if (mismatch) {
        this.protocolError = new Error(`the server sent ${mismatch}`);
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.protocolError);
        return;
      }
      this.frames.push(frame);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(frame)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  /** `autoPong: false` plays a peer that vanished: it never answers the server's pings. */
  static async open(url: string, options: Pick<ClientOptions, 'autoPong' | 'headers'> = {}): Promise<TestSocket> {
    const ws = new WebSocket(url, options);
    const socket = new TestSocket(ws);
    await once(ws, 'open');
    await socket.next((f) => f.event === 'hello');
    return socket;
  }

  /** The first frame (already received or still to come) matching `match`. */
  next(match: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    if (this.protocolError) return Promise.reject(this.protocolError);
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map(describeFrame))}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (frame) => (clearTimeout(timer), resolve(frame)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
    });
  }

  send(event: string, data: unknown): void {
    this.ws.send(JSON.stringify({ event, data }));
  }

  taskFrames(id: string): any[] {
    if (this.protocolError) throw this.protocolError;
    return this.frames.filter((f) => f.event === 'task' && f.data.id === id).map((f) => f.data);
  }

  async closed(): Promise<number> {
    if (this.ws.readyState === WebSocket.CLOSED) return this.closeCode!;
    const [code] = await once(this.ws, 'close');
    return code as number;
  }

  close(): void {
    this.ws.close();
  }
}

/** Tries an upgrade and reports the HTTP status of a refusal (or 101). */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

/** A frame in a failure message: its event, and for a task frame its id and status. */
function describeFrame(frame: Frame): string {
  const data = frame.data as { id?: unknown; status?: unknown } | undefined;
  return frame.event === 'task' && data ? `task ${String(data.id)} ${String(data.status)}` : frame.event;
}
