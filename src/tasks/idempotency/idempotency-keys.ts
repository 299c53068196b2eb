import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import { InvalidIdempotencyKeyError } from '../../errors/index.js';

/** What a key was first used for: the task it created and the request body's fingerprint. */
export interface IdempotencyRecord {
  readonly taskId: string;
  readonly fingerprint: string;
  /** Epoch ms of the claim (absent in records written before it was kept). */
  readonly claimedAt?: number;
}

/**
 * Idempotency-Key bookkeeping (the IETF httpapi draft): the first request with a key claims it
 * for its task, atomically; any later one with the key, from any instance, gets that record.
 */
export abstract class IdempotencyKeys {
  /** Claims `key` for `record` unless already claimed: undefined when this call won, else the holder. */
  abstract claim(key: string, record: IdempotencyRecord, ttlMs: number): Promise<IdempotencyRecord | undefined>;
  /** Gives the key up (the create it was claimed for failed), unless another record holds it by now. */
  abstract release(key: string, record: IdempotencyRecord): Promise<void>;
}

const MAX_KEY_LENGTH = 255;
const VISIBLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * The header's value as a key: 1-255 visible ASCII characters. The draft makes it a structured
 * field string ("..."); the bare form most clients send (Stripe's) is taken as it is.
 */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const quoted = /^"(.*)"$/.exec(header);
  const key = quoted ? quoted[1].replace(/\\(["\\])/g, '$1') : header.trim();
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !VISIBLE_ASCII.test(key)) throw new InvalidIdempotencyKeyError();
  return key;
}

/** The same request body gives the same fingerprint, whatever the order of its fields. */
export function fingerprintOf(body: unknown): string {
  return createHash('sha256')
    .update(stringify(body) ?? '')
    .digest('base64url');
}
