import { ReplyError } from 'ioredis';
import { StoreUnavailableError } from '../errors/index.js';

/** True when a command may be sent now; false when Redis is known to be away (a promise while that is not known yet). */
export type StoreGate = () => boolean | Promise<boolean>;

/**
 * Runs a Redis command, turning connection failures (expected while Redis restarts)
 * into `StoreUnavailableError`. Errors Redis itself replies with are bugs: rethrown.
 * `usable` first: while the connection is known lost it fails at once instead of queueing
 * (RedisHealth.usable).
 */
export async function whileStoreReachable<T>(command: () => Promise<T>, usable?: StoreGate): Promise<T> {
  if (usable) {
    const open = usable();
    if (!(typeof open === 'boolean' ? open : await open)) throw new StoreUnavailableError();
  }
  try {
    return await command();
  } catch (error) {
    if (error instanceof ReplyError) throw error;
    throw new StoreUnavailableError();
  }
}
