import { Inject, Injectable } from '@nestjs/common';
import type { Item, ItemId } from './item.js';
import { ITEM_STORE, type ItemStore } from './item-store.js';
import { ItemAlreadyExistsError, ItemNotFoundError } from '../errors/index.js';

export interface ItemInput {
  name: string;
  description?: string | null;
  price: number;
  tax?: number | null;
}

@Injectable()
export class ItemsService {
  constructor(@Inject(ITEM_STORE) private readonly store: ItemStore) {}

  async get(id: ItemId): Promise<Item> {
    const item = await this.store.get(id);
    if (!item) throw new ItemNotFoundError(id);
    return item;
  }

  async create(id: ItemId, input: ItemInput): Promise<Item> {
    const item = toItem(input);
    if (!(await this.store.create(id, item))) throw new ItemAlreadyExistsError(id);
    return item;
  }

  async replace(id: ItemId, input: ItemInput): Promise<Item> {
    const item = toItem(input);
    if (!(await this.store.replace(id, item))) throw new ItemNotFoundError(id);
    return item;
  }

  async delete(id: ItemId): Promise<void> {
    if (!(await this.store.delete(id))) throw new ItemNotFoundError(id);
  }
}

function toItem(input: ItemInput): Item {
  return {
    name: input.name,
    description: input.description ?? null,
    price: input.price,
    tax: input.tax ?? null,
  };
}
