import { describe, expect, it, jest } from '@jest/globals';
import { within } from './within.js';

describe('within', () => {
  it('answers with the work when it settles in time, and leaves no timer behind', async () => {
    jest.useFakeTimers();
    try {
      await expect(within(Promise.resolve('done'), 100, () => new Error('late'))).resolves.toBe('done');
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('fails with the late error at the deadline, and a failure of the work after it goes nowhere', async () => {
    jest.useFakeTimers();
    try {
      let fail!: (error: Error) => void;
      const work = new Promise<string>((_, reject) => (fail = reject));
      const answer = within(work, 100, () => new Error('too slow'));
      jest.advanceTimersByTime(100);
      await expect(answer).rejects.toThrow('too slow');
      fail(new Error('ended later'));
      await Promise.resolve();
    } finally {
      jest.useRealTimers();
    }
  });
});
