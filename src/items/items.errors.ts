import { DomainError } from '../ops/domain-error.js';
import type { ItemId } from './item.js';

/** Seed 001's wording, which its clients match on. */
export const ITEM_MESSAGES = {
  notFound: (id: ItemId) => `Item ${id} not found`,
  alreadyExists: (id: ItemId) => `Item ${id} already exists`,
  invalidId: (raw: string) => `item_id must be a non-negative integer (got ${JSON.stringify(raw.slice(0, 40))})`,
} as const;

export class ItemNotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(id: ItemId) {
    super(ITEM_MESSAGES.notFound(id));
  }
}

export class ItemAlreadyExistsError extends DomainError {
  readonly kind = 'conflict';
  constructor(id: ItemId) {
    super(ITEM_MESSAGES.alreadyExists(id));
  }
}

export class InvalidItemIdError extends DomainError {
  readonly kind = 'invalid';
  constructor(raw: string) {
    super(ITEM_MESSAGES.invalidId(raw));
  }
}
