import { describe, expect, it } from '@jest/globals';
import * as wsModule from 'ws';
import { closeFrame, FrameBoundary } from './frame-boundary.js';

/** A frame as a server sends it (unmasked), or masked as a client sends it. */
function frame(opcode: number, payload: Buffer, mask?: Buffer, fin = true): Buffer {
  const n = payload.length;
  const extended = n < 126 ? Buffer.alloc(0) : n < 65_536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (n >= 126 && n < 65_536) extended.writeUInt16BE(n, 0);
  if (n >= 65_536) extended.writeBigUInt64BE(BigInt(n), 0);
  const len7 = n < 126 ? n : n < 65_536 ? 126 : 127;
  const head = Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | len7]);
  const body = mask ? Buffer.from(payload.map((b, k) => b ^ mask[k % 4])) : payload;
  return Buffer.concat([head, extended, mask ?? Buffer.alloc(0), body]);
}

const sizes = [0, 5, 125, 126, 300, 65_535, 65_536, 70_000];

describe('FrameBoundary', () => {
  it.each([
    ['unmasked', undefined],
    ['masked', Buffer.from([1, 2, 3, 4])],
  ])('finds every boundary of %s frames of every length class, fed in any chunking', (_name, mask) => {
    const frames = sizes.map((n) => frame(0x2, Buffer.alloc(n, 7), mask));
    const stream = Buffer.concat(frames);
    const ends = new Set(frames.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], []));
    for (const chunkSize of [1, 2, 3, 7, 100, 4096, stream.length]) {
      const tracker = new FrameBoundary();
      const wrong: string[] = []; // compared by hand, asserted once: 150k chunks stay fast
      for (let offset = 0; offset < stream.length; offset += chunkSize) {
        const chunk = stream.subarray(offset, offset + chunkSize);
        const at = tracker.feed(chunk);
        // The last boundary reported in a chunk is a real frame end (or the chunk's start).
        if (at > 0 && !ends.has(offset + at)) wrong.push(`chunk ${chunkSize}@${offset}: boundary at ${offset + at}`);
        if (tracker.atBoundary !== ends.has(offset + chunk.length))
          wrong.push(`chunk ${chunkSize}@${offset}: atBoundary ${tracker.atBoundary}`);
      }
      expect(wrong).toEqual([]);
      expect(tracker.frames).toBe(frames.length);
    }
  });

  it('treats control frames between fragments as frames of their own', () => {
    const tracker = new FrameBoundary();
    const first = frame(0x1, Buffer.from('hel'), undefined, false);
    const ping = frame(0x9, Buffer.alloc(0));
    const last = frame(0x0, Buffer.from('lo'));
    expect(tracker.feed(Buffer.concat([first, ping.subarray(0, 1)]))).toBe(first.length);
    expect(tracker.atBoundary).toBe(false);
    expect(tracker.feed(Buffer.concat([ping.subarray(1), last]))).toBe(ping.length - 1 + last.length);
    expect(tracker.frames).toBe(3);
  });

  it('says -1 for a chunk that is all the middle of one frame', () => {
    const tracker = new FrameBoundary();
    const big = frame(0x2, Buffer.alloc(1000));
    expect(tracker.feed(big.subarray(0, 10))).toBe(0); // started at a boundary
    expect(tracker.feed(big.subarray(10, 500))).toBe(-1);
    expect(tracker.feed(big.subarray(500))).toBe(big.length - 500); // ends with the frame
  });
});

describe('closeFrame', () => {
  it.each([
    ['server to client', undefined],
    ['client to server', new Uint8Array([9, 8, 7, 6])],
  ])('is a close frame a WebSocket library reads (%s)', async (_name, mask) => {
    // ws's own frame parser (exported at runtime, not in its types) as the independent reader.
    const { Receiver } = wsModule as unknown as { Receiver: new (options: object) => NodeJS.WritableStream & NodeJS.EventEmitter };
    const receiver = new Receiver({ isServer: mask !== undefined });
    const closed = new Promise<[number, string]>((resolve) =>
      receiver.on('conclude', (code: number, reason: Buffer) => resolve([code, reason.toString()])),
    );
    receiver.write(closeFrame(1001, 'balancer going away', mask));
    expect(await closed).toEqual([1001, 'balancer going away']);
  });
});
