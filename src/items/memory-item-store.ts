import type { Item, ItemId } from './item.js';
import type { ItemStore } from './item-store.js';

/** Per-process store: the default, so `npm start` needs nothing else. */
export class MemoryItemStore implements ItemStore {
  private readonly items = new Map<ItemId, Item>();

  async get(id: ItemId): Promise<Item | undefined> {
    const item = this.items.get(id);
    return item && { ...item };
  }

  async create(id: ItemId, item: Item): Promise<boolean> {
    if (this.items.has(id)) return false;
    this.items.set(id, { ...item });
    return true;
  }

  async replace(id: ItemId, item: Item): Promise<boolean> {
    if (!this.items.has(id)) return false;
    this.items.set(id, { ...item });
    return true;
  }

  async delete(id: ItemId): Promise<boolean> {
    return this.items.delete(id);
  }
}
