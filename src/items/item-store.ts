import type { Item, ItemId } from './item.js';

/**
 * Where items live. Every operation is atomic per id, so two concurrent creates of
 * one id yield exactly one `true`.
 */
export interface ItemStore {
  get(id: ItemId): Promise<Item | undefined>;
  /** Stores the item unless the id exists; `false` when it did. */
  create(id: ItemId, item: Item): Promise<boolean>;
  /** Replaces an existing item; `false` when there was none. */
  replace(id: ItemId, item: Item): Promise<boolean>;
  /** `false` when there was nothing to delete. */
  delete(id: ItemId): Promise<boolean>;
}

export const ITEM_STORE = Symbol('ITEM_STORE');
