import { ReplyError } from 'ioredis';
import { StoreUnavailableError } from '../errors/index.js';

/**
 * Runs a Redis command, turning connection failures (expected while Redis restarts)
 * into `StoreUnavailableError`. Errors Redis itself replies with are bugs: rethrown.
 */
export async function whileStoreReachable<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    if (error instanceof ReplyError) throw error;
    throw new StoreUnavailableError();
  }
}
