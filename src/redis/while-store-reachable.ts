import { ReplyError } from 'ioredis';
import { StoreUnavailableError } from '../errors/index.js';

/** True when a command may be sent now; false when Redis is known to be away (a promise while that is not known yet). */
export type StoreGate = () => boolean | Promise<boolean>;

/**
 * Replies a server gives while a failover or resharding is under way: the command was not run
 * and will succeed on the new primary or slot owner (READONLY: a demoted primary; LOADING: a
 * restarted one reading its data; MASTERDOWN: a replica cut from its primary; CLUSTERDOWN,
 * TRYAGAIN, MOVED, ASK: a Cluster whose slots are moving).
 */
const TRANSIENT_REPLY = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK)\b/;

/**
 * Runs a Redis command, turning connection failures (expected while Redis restarts) and the
 * replies of a failover in progress into `StoreUnavailableError` (503 + Retry-After). Other
 * errors Redis replies with are bugs: rethrown.
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
    if (error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message)) throw error;
    throw new StoreUnavailableError();
  }
}
