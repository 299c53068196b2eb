import { Injectable, PipeTransform } from '@nestjs/common';
import { MAX_ITEM_ID, type ItemId } from './item.js';
import { InvalidItemIdError } from '../errors/index.js';

/** Ids are non-negative integers written in plain decimal ("42", not "4.2e1" or "-1"). */
@Injectable()
export class ParseItemIdPipe implements PipeTransform<unknown, ItemId> {
  transform(value: unknown): ItemId {
    const raw = typeof value === 'string' ? value : '';
    if (!/^\d{1,16}$/.test(raw)) throw new InvalidItemIdError(String(value ?? ''));
    const id = Number(raw);
    if (id > MAX_ITEM_ID) throw new InvalidItemIdError(raw);
    return id;
  }
}
