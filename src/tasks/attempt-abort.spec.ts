import { describe, expect, it } from '@jest/globals';
import { AttemptAbort, AttemptAbortedError } from './attempt-abort.js';

describe('AttemptAbort', () => {
  it('aborts a signal handed out earlier, with the reason', () => {
    const abort = new AttemptAbort();
    const signal = abort.signal;
    const heard: unknown[] = [];
    signal.addEventListener('abort', () => heard.push(signal.reason));
    expect(signal.aborted).toBe(false);
    abort.abort('cancelled');
    expect(heard).toEqual(['cancelled']);
    expect(abort.aborted).toBe(true);
    expect(abort.reason).toBe('cancelled');
  });

  it('hands out an already aborted signal when asked after the abort', () => {
    const abort = new AttemptAbort();
    abort.abort('interrupted');
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe('interrupted');
    expect(abort.signal).toBe(abort.signal);
  });

  it('keeps the first reason when told twice', () => {
    const abort = new AttemptAbort();
    const signal = abort.signal;
    abort.abort('cancelled');
    abort.abort('interrupted');
    expect(abort.reason).toBe('cancelled');
    expect(signal.reason).toBe('cancelled');
  });

  it('throws its reason once aborted, and not before', () => {
    const abort = new AttemptAbort();
    expect(() => abort.throwIfAborted()).not.toThrow();
    expect(abort.reason).toBeUndefined();
    abort.abort('cancelled');
    expect(() => abort.throwIfAborted()).toThrow(AttemptAbortedError);
    expect(() => abort.throwIfAborted()).toThrow('cancelled');
  });
});
