import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { setImmediate as nextLoop } from 'node:timers/promises';
import { TickCoalescer } from './tick-coalescer.js';

/** A real Writable that records each write it is handed: one entry per underlying write. */
function recordingStream() {
  const writes: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      done();
    },
  });
  return { stream, writes };
}

describe('TickCoalescer', () => {
  it('sends what one tick wrote in one write, in order', async () => {
    const coalescer = new TickCoalescer();
    const { stream, writes } = recordingStream();
    for (const frame of ['a', 'b', 'c']) {
      coalescer.hold(stream);
      stream.write(frame);
    }
    expect(writes).toEqual([]);
    await nextLoop();
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('uncorks every held stream, and holds again on a later tick', async () => {
    const coalescer = new TickCoalescer();
    const first = recordingStream();
    const second = recordingStream();
    coalescer.hold(first.stream);
    first.stream.write('1');
    coalescer.hold(second.stream);
    second.stream.write('2');
    await nextLoop();
    expect([first.writes, second.writes]).toEqual([[['1']], [['2']]]);
    coalescer.hold(first.stream);
    first.stream.write('3');
    first.stream.write('4');
    await nextLoop();
    expect(first.writes).toEqual([['1'], ['3', '4']]);
    expect(first.stream.writableCorked).toBe(0);
  });

  it('leaves a writer’s own cork and uncork balanced (ws corks around each frame)', async () => {
    const coalescer = new TickCoalescer();
    const { stream, writes } = recordingStream();
    coalescer.hold(stream);
    stream.cork();
    stream.write('header');
    stream.write('payload');
    stream.uncork();
    expect(writes).toEqual([]);
    await nextLoop();
    expect(writes).toEqual([['header', 'payload']]);
    expect(stream.writableCorked).toBe(0);
  });
});
