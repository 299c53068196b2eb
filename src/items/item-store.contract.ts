import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Item } from './item.js';
import type { ItemStore } from './item-store.js';

const foo: Item = { name: 'Foo', description: null, price: 35.4, tax: null };
const bar: Item = { name: 'Bar', description: 'the other', price: 1, tax: 0.2 };

/** Behaviour every `ItemStore` adapter must have; each adapter's spec runs it. */
export function itemStoreContract(name: string, makeStore: () => Promise<ItemStore> | ItemStore): void {
  describe(`${name} (ItemStore contract)`, () => {
    let store: ItemStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it('returns undefined for a missing id', async () => {
      expect(await store.get(1)).toBeUndefined();
    });

    it('creates once, then refuses the same id', async () => {
      expect(await store.create(1, foo)).toBe(true);
      expect(await store.create(1, bar)).toBe(false);
      expect(await store.get(1)).toEqual(foo);
    });

    it('keeps ids apart, including 0', async () => {
      await store.create(0, foo);
      await store.create(10, bar);
      expect(await store.get(0)).toEqual(foo);
      expect(await store.get(10)).toEqual(bar);
      expect(await store.get(1)).toBeUndefined();
    });

    it('replaces only existing items', async () => {
      expect(await store.replace(2, bar)).toBe(false);
      expect(await store.get(2)).toBeUndefined();
      await store.create(2, foo);
      expect(await store.replace(2, bar)).toBe(true);
      expect(await store.get(2)).toEqual(bar);
    });

    it('deletes once', async () => {
      await store.create(3, foo);
      expect(await store.delete(3)).toBe(true);
      expect(await store.delete(3)).toBe(false);
      expect(await store.get(3)).toBeUndefined();
      expect(await store.create(3, bar)).toBe(true);
    });

    it('does not let callers mutate stored items', async () => {
      const item = { ...foo };
      await store.create(4, item);
      item.name = 'changed';
      const read = (await store.get(4))!;
      read.price = -1;
      expect(await store.get(4)).toEqual(foo);
    });

    it('lets exactly one of many concurrent creates of one id win', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, n) => store.create(5, { ...foo, name: `writer-${n}` })));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect((await store.get(5))?.name).toBe(`writer-${winner}`);
    });
  });
}
