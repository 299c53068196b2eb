import { describe, expect, it } from '@jest/globals';
import { InvalidItemIdError } from '../errors/index.js';
import { ParseItemIdPipe } from './parse-item-id.pipe.js';

describe('ParseItemIdPipe', () => {
  const pipe = new ParseItemIdPipe();

  it.each([
    ['0', 0],
    ['42', 42],
    ['007', 7],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('accepts %s', (raw, id) => {
    expect(pipe.transform(raw)).toBe(id);
  });

  it.each(['', '-1', '4.2', '4.2e1', '1e3', ' 1', '0x10', 'abc', '9007199254740992', '12345678901234567'])('rejects %j', (raw) => {
    expect(() => pipe.transform(raw)).toThrow(InvalidItemIdError);
  });

  it('rejects a missing value', () => {
    expect(() => pipe.transform(undefined)).toThrow(/non-negative integer/);
  });
});
