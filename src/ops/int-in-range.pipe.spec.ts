import { describe, expect, it } from '@jest/globals';
import { InvalidInputError } from '../errors/index.js';
import { IntInRangePipe } from './int-in-range.pipe.js';

describe('IntInRangePipe', () => {
  const pipe = new IntInRangePipe('ms', 0, 600, 100);

  it.each([
    ['0', 0],
    ['600', 600],
    ['42', 42],
    ['007', 7],
    [undefined, 100],
  ])('accepts %j as %p', (raw, value) => {
    expect(pipe.transform(raw)).toBe(value);
  });

  it.each(['', 'abc', '1.5', '1e3', '-1', '601', ' 5', '0x10', '99999999999999999'])('rejects %j naming the rule', (raw) => {
    expect(() => pipe.transform(raw)).toThrow(InvalidInputError);
    expect(() => pipe.transform(raw)).toThrow(/^ms must be an integer from 0 to 600 \(got ".*"\)$/);
  });

  it('rejects an array (a repeated query parameter)', () => {
    expect(() => pipe.transform(['1', '2'])).toThrow(InvalidInputError);
  });

  it('requires the value when it has no default', () => {
    expect(() => new IntInRangePipe('timeout', 1, 10).transform(undefined)).toThrow(/timeout must be an integer from 1 to 10 \(got ""\)/);
  });

  it('quotes at most a short prefix of a long bad value', () => {
    const message = (() => {
      try {
        pipe.transform('x'.repeat(1000));
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message.length).toBeLessThan(100);
  });
});
