import type { Writable } from 'node:stream';

/**
 * Lets everything written to a stream within one tick leave in one write: the stream is
 * corked at its first write of the tick and uncorked on the next tick. A task's events often
 * arrive together (one QueueEvents read holds several), and each WebSocket frame written
 * alone cost a `writev` system call — more CPU than building the frame.
 */
export class TickCoalescer {
  private readonly held = new Set<Writable>();

  /** Call before writing to `stream`; what is written until the next tick leaves together. */
  hold(stream: Writable): void {
    if (this.held.has(stream)) return;
    if (this.held.size === 0) process.nextTick(this.release);
    stream.cork();
    this.held.add(stream);
  }

  private readonly release = (): void => {
    for (const stream of this.held) stream.uncork();
    this.held.clear();
  };
}
