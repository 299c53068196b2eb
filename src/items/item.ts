/** An item as stored and returned (seed 001's pydantic `Item`). */
export interface Item {
  name: string;
  description: string | null;
  price: number;
  tax: number | null;
}

export type ItemId = number;

/** Largest id accepted: ids stay exact integers in JSON and in Redis keys. */
export const MAX_ITEM_ID = Number.MAX_SAFE_INTEGER;
