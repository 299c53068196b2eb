import { describe, expect, it } from '@jest/globals';
import { jsonNestingExceeds } from './json-depth.js';

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('jsonNestingExceeds', () => {
  it.each<[string, number, boolean]>([
    ['{}', 1, false],
    ['{}', 0, true],
    [nested(64), 64, false],
    [nested(65), 64, true],
    [nested(5000), 64, true],
    ['{"a":{"b":[1,{"c":2}]}}', 4, false],
    ['{"a":{"b":[1,{"c":2}]}}', 3, true],
    ['{"s":"[[[[[[[[[[{{{{{{"}', 1, false],
    ['{"s":"\\"[[[[["}', 1, false],
    ['{"s":"\\\\"}', 1, false],
    ['[[],[],[]]', 2, false],
    ['"just a string"', 0, false],
  ])('%s with max %i: %p', (text, max, exceeds) => {
    expect(jsonNestingExceeds(text, max)).toBe(exceeds);
  });
});
