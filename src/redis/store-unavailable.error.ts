import { ReplyError } from 'ioredis';
import { DomainError } from '../ops/domain-error.js';

export class StoreUnavailableError extends DomainError {
  readonly kind = 'unavailable';
  override readonly retryAfterSeconds = 1;
  constructor() {
    super('The data store is unreachable; try again shortly');
  }
}

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
