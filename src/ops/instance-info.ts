import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Who this process is, as reported by /ping, /ready and WebSocket hello frames. */
export interface InstanceInfo {
  readonly hostname: string;
  /** Unique per process start: tells two processes on one host (or a restart) apart. */
  readonly instance: string;
}

export const INSTANCE_INFO: InstanceInfo = Object.freeze({
  hostname: hostname(),
  instance: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
});
