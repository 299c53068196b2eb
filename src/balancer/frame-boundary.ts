/**
 * Follows WebSocket frame boundaries (RFC 6455 §5.2) in one direction of a byte stream, so a
 * proxy can cut in between two frames (a close frame must never land inside another frame).
 * Pure: it only reads the bytes it is fed.
 */
export class FrameBoundary {
  /** Header bytes of the current frame collected so far (headers can span chunks). */
  private header: number[] = [];
  /** Payload bytes of the current frame still to come; -1 while reading a header. */
  private payloadLeft = -1;
  private framesSeen = 0;

  /** True between frames (also before the first). */
  get atBoundary(): boolean {
    return this.payloadLeft === -1 && this.header.length === 0;
  }

  get frames(): number {
    return this.framesSeen;
  }

  /**
   * Consumes a chunk. Returns the offset just after the last frame boundary inside it, or -1
   * when the chunk holds no boundary (it is all one frame's middle). An offset equal to the
   * chunk's length means the chunk ended exactly on a boundary.
   */
  feed(chunk: Uint8Array): number {
    let lastBoundary = this.atBoundary ? 0 : -1;
    let i = 0;
    while (i < chunk.length) {
      if (this.payloadLeft === -1) {
        this.header.push(chunk[i]);
        i += 1;
        const length = headerLength(this.header);
        if (length === undefined || this.header.length < length) continue;
        this.payloadLeft = payloadLength(this.header);
        this.header = [];
        if (this.payloadLeft === 0) {
          this.endFrame();
          lastBoundary = i;
        }
        continue;
      }
      const take = Math.min(this.payloadLeft, chunk.length - i);
      this.payloadLeft -= take;
      i += take;
      if (this.payloadLeft === 0) {
        this.endFrame();
        lastBoundary = i;
      }
    }
    return lastBoundary;
  }

  private endFrame(): void {
    this.payloadLeft = -1;
    this.framesSeen += 1;
  }
}

/** Total header length once the first two bytes are known (2 + extended length + mask key). */
function headerLength(header: number[]): number | undefined {
  if (header.length < 2) return undefined;
  const len7 = header[1] & 0x7f;
  const masked = (header[1] & 0x80) !== 0;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
}

function payloadLength(header: number[]): number {
  const len7 = header[1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return (header[2] << 8) | header[3];
  // 64-bit length; frames over 2^53 bytes are not a concern here.
  let length = 0;
  for (let k = 2; k < 10; k += 1) length = length * 256 + header[k];
  return length;
}

/** A close frame (opcode 8) with a status code; masked when it goes client-to-server. */
export function closeFrame(code: number, reason: string, mask?: Uint8Array): Buffer {
  const reasonBytes = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.alloc(2 + reasonBytes.length);
  payload.writeUInt16BE(code, 0);
  reasonBytes.copy(payload, 2);
  const header = Buffer.from([0x88, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([header, payload]);
  const masked = Buffer.from(payload.map((byte, k) => byte ^ mask[k % 4]));
  return Buffer.concat([header, Buffer.from(mask.subarray(0, 4)), masked]);
}
