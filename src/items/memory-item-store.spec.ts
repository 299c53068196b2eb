import { itemStoreContract } from './item-store.contract.js';
import { MemoryItemStore } from './memory-item-store.js';

itemStoreContract('MemoryItemStore', () => new MemoryItemStore());
